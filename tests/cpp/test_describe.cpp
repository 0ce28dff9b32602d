// ndbridge::detect_format and ndbridge::describe on files ndbridge's own
// writers make.

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ndbridge/config.hpp"
#include "ndbridge/describe.hpp"
#include "ndbridge/error.hpp"
#include "ndbridge/format.hpp"
#include "ndbridge/npy.hpp"
#include "ndbridge/npz.hpp"
#include "scratch_dir.hpp"
#if NDBRIDGE_WITH_HDF5
#include "ndbridge/h5.hpp"
#endif

using ndbridge::ArrayView;
using ndbridge::DType;
using ndbridge::EntryDescription;
using ndbridge::FileFormat;

namespace {

class Describe : public ndbridge::testing::ScratchDirTest {};

const std::vector<std::int32_t> kValues = {1, 2, 3, 4, 5, 6};

std::string what(const std::function<void()>& call) {
  try {
    call();
  } catch (const ndbridge::Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST_F(Describe, DetectsFormatsByContentNotSuffix) {
  ndbridge::write_npy(path("x.h5"), ArrayView::contiguous(kValues.data(), DType::of<std::int32_t>(), {6}));
  EXPECT_EQ(ndbridge::detect_format(path("x.h5")), FileFormat::Npy);
  ndbridge::write_npz(path("z.bin"), {{"a", ArrayView::contiguous(kValues.data(), DType::of<std::int32_t>(), {6})}});
  EXPECT_EQ(ndbridge::detect_format(path("z.bin")), FileFormat::Npz);
  write_bytes(path("empty.npz"), std::string("PK\x05\x06", 4) + std::string(18, '\0'));
  EXPECT_EQ(ndbridge::detect_format(path("empty.npz")), FileFormat::Npz);
  EXPECT_STREQ(ndbridge::format_name(FileFormat::Hdf5), "h5");
}

TEST_F(Describe, FindsTheHdf5SignatureOnlyWhereHdf5PutsIt) {
  const std::string signature("\x89HDF\r\n\x1a\n", 8);
  write_bytes(path("at0"), signature + std::string(100, '\0'));
  write_bytes(path("at512"), std::string(512, 'u') + signature + std::string(100, '\0'));
  write_bytes(path("at2048"), std::string(2048, 'u') + signature);
  write_bytes(path("at100"), std::string(100, 'u') + signature + std::string(1000, '\0'));
  EXPECT_EQ(ndbridge::detect_format(path("at0")), FileFormat::Hdf5);
  EXPECT_EQ(ndbridge::detect_format(path("at512")), FileFormat::Hdf5);
  EXPECT_EQ(ndbridge::detect_format(path("at2048")), FileFormat::Hdf5);
  EXPECT_THROW(ndbridge::detect_format(path("at100")), ndbridge::FormatError);
}

TEST_F(Describe, RefusesOtherFilesNamingThem) {
  write_bytes(path("empty"), "");
  write_bytes(path("text"), "name,value\n1,2\n");
  EXPECT_EQ(what([&] { ndbridge::detect_format(path("empty")); }),
            "'" + path("empty").string() + "': not an .npy, .npz or HDF5 file (it is empty)");
  EXPECT_EQ(what([&] { ndbridge::detect_format(path("text")); }),
            "'" + path("text").string() + "': not an .npy, .npz or HDF5 file (it starts with b'name,val')");
  try {
    ndbridge::describe(path("missing.npy"));
    FAIL() << "no error";
  } catch (const ndbridge::IOError& e) {
    EXPECT_EQ(e.errno_value(), ENOENT);
    EXPECT_NE(std::string(e.what()).find("missing.npy"), std::string::npos);
  }
  EXPECT_THROW(ndbridge::describe(path("")), ndbridge::IOError);  // the folder itself
}

TEST_F(Describe, Npy) {
  ndbridge::write_npy(path("f.npy"),
                      ArrayView::contiguous(kValues.data(), DType::of<std::int32_t>(), {3, 2}, ndbridge::MemoryOrder::Fortran));
  const ndbridge::FileDescription d = ndbridge::describe(path("f.npy"));
  EXPECT_EQ(d.format, FileFormat::Npy);
  EXPECT_EQ(d.size, std::filesystem::file_size(path("f.npy")));
  ASSERT_EQ(d.entries.size(), 1u);
  const EntryDescription& e = d.entries[0];
  EXPECT_EQ(e.name, "");
  EXPECT_EQ(e.kind, EntryDescription::Kind::Array);
  EXPECT_EQ(e.dtype->descr(), "<i4");
  EXPECT_EQ(*e.shape, (ndbridge::Shape{3, 2}));
  EXPECT_TRUE(e.readable);
  EXPECT_EQ(e.fortran_order, true);
  EXPECT_EQ(e.stored_bytes, 24u);
  EXPECT_EQ(e.nbytes, 24u);
  EXPECT_TRUE(e.filters.empty() && e.attributes.empty() && d.missing_sources().empty());
}

TEST_F(Describe, Npz) {
  const std::vector<double> zeros(1000, 0.0);
  ndbridge::write_npz(path("z.npz"),
                      {{"a", ArrayView::contiguous(zeros.data(), DType::of<double>(), {1000})},
                       {"g/b", ArrayView::contiguous(kValues.data(), DType::of<std::int32_t>(), {6})}},
                      ndbridge::NpzCompression::Deflated);
  const ndbridge::FileDescription d = ndbridge::describe(path("z.npz"));
  EXPECT_EQ(d.format, FileFormat::Npz);
  ASSERT_EQ(d.entries.size(), 2u);
  EXPECT_EQ(d.entries[0].name, "a");
  EXPECT_EQ(d.entries[0].filters, std::vector<std::string>{"deflate"});
  EXPECT_LT(*d.entries[0].stored_bytes, *d.entries[0].nbytes);
  EXPECT_EQ(*d.entries[0].nbytes, 8000u);
  EXPECT_EQ(d.entries[1].name, "g/b");
  EXPECT_EQ(d.entries[1].dtype->descr(), "<i4");
  EXPECT_EQ(d.entries[1].fortran_order, false);
}

#if NDBRIDGE_WITH_HDF5
TEST_F(Describe, Hdf5) {
  {
    ndbridge::H5Writer w(path("d.h5"));
    ndbridge::H5DatasetOptions gzip;
    gzip.compression = ndbridge::H5Compression::Gzip;
    gzip.shuffle = true;
    gzip.chunks = ndbridge::Shape{1, 2};
    w.write("grp/x", ArrayView::contiguous(kValues.data(), DType::of<std::int32_t>(), {3, 2}), gzip);
    const char32_t text[] = {U'h', U'i'};
    w.write("names", ArrayView::contiguous(text, DType::from_descr("<U1"), {2}));
    w.set_attribute("/", "title", std::string("a sample"));
    const double scale[] = {0.5, 2.0};
    w.set_attribute("/grp/x", "scale", ArrayView::contiguous(scale, DType::of<double>(), {2}));
    w.commit();
  }
  const ndbridge::FileDescription d = ndbridge::describe(path("d.h5"));
  EXPECT_EQ(d.format, FileFormat::Hdf5);
  std::vector<std::string> names;
  for (const EntryDescription& e : d.entries) names.push_back(e.name);
  ASSERT_EQ(names, (std::vector<std::string>{"/", "/grp", "/grp/x", "/names"}));
  const EntryDescription& root = d.entries[0];
  EXPECT_EQ(root.kind, EntryDescription::Kind::Group);
  ASSERT_EQ(root.attributes.size(), 1u);
  EXPECT_EQ(root.attributes[0].name, "title");
  ASSERT_TRUE(root.attributes[0].value);
  EXPECT_EQ(root.attributes[0].value->ndim(), 0u);
  const EntryDescription& x = d.entries[2];
  EXPECT_EQ(x.kind, EntryDescription::Kind::Array);
  EXPECT_EQ(x.dtype->descr(), "<i4");
  EXPECT_EQ(*x.shape, (ndbridge::Shape{3, 2}));
  EXPECT_EQ(x.layout, "chunked");
  EXPECT_EQ(*x.chunks, (ndbridge::Shape{1, 2}));
  EXPECT_EQ(x.filters, (std::vector<std::string>{"shuffle", "gzip"}));
  EXPECT_EQ(x.nbytes, 24u);
  ASSERT_TRUE(x.stored_bytes);  // three gzip chunks of 8 bytes each: some bytes, whatever zlib made of them
  EXPECT_GT(*x.stored_bytes, 0u);
  EXPECT_TRUE(x.readable);
  ASSERT_EQ(x.attributes.size(), 1u);
  EXPECT_EQ(x.attributes[0].value->shape(), ndbridge::Shape{2});
  const EntryDescription& text = d.entries[3];
  EXPECT_FALSE(text.dtype);  // variable-length strings: no fixed dtype until read
  EXPECT_TRUE(text.readable);
  EXPECT_EQ(text.type, "variable-length UTF-8 string");
  EXPECT_FALSE(text.stored_bytes);  // the file holds references into a heap, not the text
}

TEST_F(Describe, DamagedHdf5IsAnError) {
  {
    ndbridge::H5Writer w(path("d.h5"));
    w.write("x", ArrayView::contiguous(kValues.data(), DType::of<std::int32_t>(), {6}));
    w.commit();
  }
  const std::string bytes = read_bytes(path("d.h5"));
  write_bytes(path("cut.h5"), bytes.substr(0, bytes.size() / 2));
  EXPECT_THROW(ndbridge::describe(path("cut.h5")), ndbridge::Error);
}
#endif

}  // namespace
