// Writing and reading HDF5 in C++ alone: H5Writer writes, H5File reads back.
// The cross-library round trips, with files h5py writes and reads, are in
// tests/python/test_h5.py.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "scratch_dir.hpp"
#include "ndbridge/h5.hpp"

namespace fs = std::filesystem;
using ndbridge::Array;
using ndbridge::ArrayView;
using ndbridge::DType;
using ndbridge::H5DatasetOptions;
using ndbridge::H5File;
using ndbridge::H5Object;
using ndbridge::H5Writer;
using ndbridge::Kind;
using ndbridge::Shape;

namespace {

class H5Test : public ndbridge::testing::ScratchDirTest {};

constexpr auto None = ndbridge::H5Compression::None;
constexpr auto Gzip = ndbridge::H5Compression::Gzip;
constexpr auto Lzf = ndbridge::H5Compression::Lzf;

std::uint64_t count(const Shape& shape) {
  std::uint64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

// Element bytes that compress well (runs of small values) yet differ in
// every byte position; valid for every kind (bools are 0 or 1).
std::vector<std::byte> compressible(const DType& dtype, std::uint64_t n) {
  const std::size_t size = dtype.itemsize();
  std::vector<std::byte> out(static_cast<std::size_t>(n) * size);
  for (std::uint64_t i = 0; i < n; ++i) {
    for (std::size_t b = 0; b < size; ++b) {
      unsigned v = 0;
      switch (dtype.kind()) {
        case Kind::Bool: v = (i / 3) % 2; break;
        case Kind::Bytes: v = b + 1 < size ? 'a' + (i / 4 + b) % 26 : 0; break;
        default: v = b == 0 ? (i / 5) % 17 : b == size - 1 ? (i / 9) % 3 : 0; break;
      }
      out[static_cast<std::size_t>(i) * size + b] = static_cast<std::byte>(v);
    }
  }
  return out;
}

std::string bytes_of(const Array& a) {
  return std::string(reinterpret_cast<const char*>(a.bytes()), static_cast<std::size_t>(a.nbytes()));
}

std::string bytes_of(const std::vector<std::byte>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size());
}

void expect_array(const Array& a, const DType& dtype, const Shape& shape, const std::string& bytes) {
  EXPECT_EQ(a.dtype().descr(), dtype.descr());
  EXPECT_EQ(a.shape(), shape);
  EXPECT_FALSE(a.fortran_order());
  EXPECT_TRUE(bytes_of(a) == bytes) << "element bytes differ for " << dtype.descr();
}

H5DatasetOptions chunked(Shape chunks, ndbridge::H5Compression compression = ndbridge::H5Compression::None,
                         bool shuffle = false, bool fletcher32 = false, int level = 4) {
  H5DatasetOptions o;
  o.chunks = std::move(chunks);
  o.compression = compression;
  o.shuffle = shuffle;
  o.fletcher32 = fletcher32;
  o.gzip_level = level;
  return o;
}

const char* const kDescrs[] = {
    "|b1", "|i1", "|u1", "<i2", ">i2", "<i4", ">i4", "<i8", ">i8", "<u2", ">u2", "<u4", ">u4",
    "<u8", ">u8", "<f2", ">f2", "<f4", ">f4", "<f8", ">f8", "<c8", ">c8", "<c16", ">c16",
    "|S1", "|S5",
};

// UCS-4 text in native order, `width` characters per element.
std::vector<char32_t> ucs4(const std::vector<std::u32string>& texts, std::size_t width) {
  std::vector<char32_t> out(texts.size() * width, U'\0');
  for (std::size_t i = 0; i < texts.size(); ++i) std::copy(texts[i].begin(), texts[i].end(), out.begin() + i * width);
  return out;
}

}  // namespace

TEST_F(H5Test, EveryDtypeRoundTripsInEveryStorage) {
  const Shape shape{37, 5};
  const std::vector<std::pair<std::string, H5DatasetOptions>> storages = {
      {"contiguous", {}},
      {"chunked", chunked({8, 5})},
      {"gzip", chunked({8, 5}, Gzip, false, false, 6)},
      {"shuffle_gzip", chunked({10, 2}, Gzip, true)},
      {"lzf", chunked({8, 5}, Lzf)},
      {"shuffle_lzf_fletcher32", chunked({16, 3}, Lzf, true, true)},
      {"fletcher32", chunked({37, 5}, None, false, true)},
  };
  std::map<std::string, std::vector<std::byte>> data;
  {
    H5Writer writer(path("all.h5"));
    for (const char* descr : kDescrs) {
      const DType dtype = DType::from_descr(descr);
      data[descr] = compressible(dtype, count(shape));
      for (const auto& [storage, options] : storages) {
        writer.write(std::string(descr) + "/" + storage,
                     ArrayView::contiguous(data[descr].data(), dtype, shape), options);
      }
    }
    writer.commit();
  }
  const H5File file = H5File::open(path("all.h5"));
  for (const char* descr : kDescrs) {
    const DType dtype = DType::from_descr(descr);
    for (const auto& [storage, options] : storages) {
      SCOPED_TRACE(std::string(descr) + " " + storage);
      const std::string name = std::string(descr) + "/" + storage;
      expect_array(file.read(name), dtype, shape, bytes_of(data[descr]));
      const H5Object info = file.info(name);
      ASSERT_TRUE(info.dtype.has_value());
      EXPECT_EQ(info.dtype->descr(), dtype.descr());
      EXPECT_TRUE(info.readable);
      EXPECT_EQ(info.shape, shape);
      EXPECT_EQ(info.layout, storage == "contiguous" ? "contiguous" : "chunked");
      EXPECT_EQ(info.chunks, options.chunks);
      std::vector<std::string> filters;
      if (options.shuffle) filters.push_back("shuffle");
      if (options.compression != None) filters.push_back(ndbridge::h5_compression_name(options.compression));
      if (options.fletcher32) filters.push_back("fletcher32");
      EXPECT_EQ(info.filters, filters);
    }
  }
}

TEST_F(H5Test, CompressionReallyShrinksCompressibleData) {
  const DType dtype = DType::from_descr(">f8");
  const Shape shape{20000, 8};
  const std::vector<std::byte> data = compressible(dtype, count(shape));
  const std::uint64_t raw = data.size();
  for (const auto& [name, options] :
       std::vector<std::pair<std::string, H5DatasetOptions>>{
           {"gzip1", chunked({1000, 8}, Gzip, false, false, 1)},
           {"gzip9", chunked({1000, 8}, Gzip, true, false, 9)},
           {"lzf", chunked({1000, 8}, Lzf)},
           {"shuffle_lzf", chunked({1000, 8}, Lzf, true, true)},
       }) {
    SCOPED_TRACE(name);
    const fs::path p = path(name + ".h5");
    {
      H5Writer writer(p);
      writer.write("x", ArrayView::contiguous(data.data(), dtype, shape), options);
      writer.commit();
    }
    EXPECT_LT(fs::file_size(p), raw / 4);
    expect_array(H5File::open(p).read("x"), dtype, shape, bytes_of(data));
  }
}

TEST_F(H5Test, GzipLevels) {
  const DType dtype = DType::of<std::int32_t>();
  const std::vector<std::byte> data = compressible(dtype, 4096);
  H5Writer writer(path("levels.h5"));
  for (int level = 0; level <= 9; ++level) {
    writer.write("l" + std::to_string(level), ArrayView::contiguous(data.data(), dtype, {4096}),
                 chunked({1024}, Gzip, false, false, level));
  }
  writer.commit();
  const H5File file = H5File::open(path("levels.h5"));
  for (int level = 0; level <= 9; ++level) {
    expect_array(file.read("l" + std::to_string(level)), dtype, {4096}, bytes_of(data));
  }
}

TEST_F(H5Test, TextRoundTripsAsVariableLengthUtf8) {
  const std::vector<std::u32string> texts = {U"", U"a", U"h\u00e9llo", U"\u2603 snow", U"\U0001F600"};
  const std::vector<char32_t> cells = ucs4(texts, 8);
  {
    H5Writer writer(path("text.h5"));
    writer.write("t", ArrayView::contiguous(cells.data(), DType(Kind::Unicode, 32, ndbridge::native_byte_order()),
                                            {texts.size()}));
    writer.write("t_lzf", ArrayView::contiguous(cells.data(), DType(Kind::Unicode, 32, ndbridge::native_byte_order()),
                                                {texts.size()}),
                 chunked({2}, Lzf));
    const char32_t one[3] = {U'x', U'y', U'z'};
    writer.write("scalar", ArrayView::contiguous(one, DType(Kind::Unicode, 12, ndbridge::native_byte_order()), {}));
    writer.commit();
  }
  const H5File file = H5File::open(path("text.h5"));
  // Read back as wide as the longest string (6 characters).
  const std::vector<char32_t> narrow = ucs4(texts, 6);
  for (const char* name : {"t", "t_lzf"}) {
    SCOPED_TRACE(name);
    const Array a = file.read(name);
    EXPECT_EQ(a.dtype(), DType(Kind::Unicode, 24, ndbridge::native_byte_order()));
    EXPECT_EQ(a.shape(), Shape{texts.size()});
    EXPECT_EQ(std::memcmp(a.bytes(), narrow.data(), narrow.size() * 4), 0);
    const H5Object info = file.info(name);
    EXPECT_FALSE(info.dtype.has_value());
    EXPECT_TRUE(info.readable);
    EXPECT_EQ(info.type, "variable-length UTF-8 string");
  }
  const Array s = file.read("scalar");
  EXPECT_EQ(s.dtype().descr(), "<U3");
  EXPECT_EQ(s.shape(), Shape{});
  EXPECT_EQ(std::memcmp(s.bytes(), U"xyz", 12), 0);
  const Array rows = file.read_rows("t", 2, 4);
  const std::vector<char32_t> middle = ucs4({texts[2], texts[3]}, 6);
  EXPECT_EQ(rows.dtype().descr(), "<U6");
  EXPECT_EQ(std::memcmp(rows.bytes(), middle.data(), middle.size() * 4), 0);
  // As std::strings, UTF-8 encoded.
  EXPECT_EQ(ndbridge::to_strings(file.read("t")),
            (std::vector<std::string>{"", "a", "h\xc3\xa9llo", "\xe2\x98\x83 snow", "\xf0\x9f\x98\x80"}));
}

TEST_F(H5Test, ContainsNamesThatOpen) {
  const std::int32_t one = 1;
  {
    H5Writer writer(path("tree.h5"));
    writer.write("a", ArrayView::contiguous(&one, DType::of<std::int32_t>(), {}));
    writer.write("g/b", ArrayView::contiguous(&one, DType::of<std::int32_t>(), {}));
    writer.commit();
  }
  const H5File file = H5File::open(path("tree.h5"));
  for (const char* name : {"/", "a", "/a", "g", "/g/", "g/b", "/g/b"}) EXPECT_TRUE(file.contains(name)) << name;
  for (const char* name : {"missing", "/g/missing", "a/b", "/missing/b", "g/b/c"}) {
    EXPECT_FALSE(file.contains(name)) << name;
  }
}

TEST_F(H5Test, ScalarsAndEmptyShapes) {
  const double pi = 3.25;
  const std::int16_t none[1] = {0};
  {
    H5Writer writer(path("shapes.h5"));
    writer.write("scalar", ArrayView::contiguous(&pi, DType::of<double>(), {}));
    writer.write("empty", ArrayView::contiguous(none, DType::from_descr(">i2"), {0}));
    writer.write("empty3", ArrayView::contiguous(none, DType::from_descr("<c8"), {3, 0, 2}));
    writer.write("empty_text", ArrayView::contiguous(none, DType(Kind::Unicode, 4, ndbridge::native_byte_order()), {0}));
    writer.commit();
  }
  const H5File file = H5File::open(path("shapes.h5"));
  expect_array(file.read("scalar"), DType::of<double>(), {},
               std::string(reinterpret_cast<const char*>(&pi), sizeof pi));
  expect_array(file.read("empty"), DType::from_descr(">i2"), {0}, "");
  expect_array(file.read("empty3"), DType::from_descr("<c8"), {3, 0, 2}, "");
  EXPECT_EQ(file.read("empty_text").shape(), Shape{0});
  EXPECT_EQ(file.info("scalar").shape, Shape{});
  EXPECT_FALSE(file.info("scalar").null_dataspace);
  EXPECT_EQ(file.info("empty3").shape, (Shape{3, 0, 2}));
  expect_array(file.read_rows("empty", 0, 0), DType::from_descr(">i2"), {0}, "");
  expect_array(file.read_rows("empty3", 1, 3), DType::from_descr("<c8"), {2, 0, 2}, "");
  EXPECT_THROW(file.read_rows("scalar", 0, 0), ndbridge::UsageError);
}

TEST_F(H5Test, WritesCFortranAndStridedViewsInCOrder) {
  // Logical 3x4 matrix m[i][j] = 10 * i + j.
  std::vector<std::int32_t> c_order, f_order;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) c_order.push_back(10 * i + j);
  for (int j = 0; j < 4; ++j)
    for (int i = 0; i < 3; ++i) f_order.push_back(10 * i + j);
  // Every other row and column of a 6x8 matrix holding m at even positions.
  std::vector<std::int32_t> big(48, -1);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) big[(2 * i) * 8 + 2 * j] = 10 * i + j;
  // Rows reversed in memory, walked with a negative stride.
  std::vector<std::int32_t> reversed;
  for (int i = 2; i >= 0; --i)
    for (int j = 0; j < 4; ++j) reversed.push_back(10 * i + j);
  const DType dtype = DType::of<std::int32_t>();
  {
    H5Writer writer(path("views.h5"));
    writer.write("c", ArrayView::contiguous(c_order.data(), dtype, {3, 4}));
    writer.write("f", ArrayView::contiguous(f_order.data(), dtype, {3, 4}, ndbridge::MemoryOrder::Fortran));
    writer.write("strided", ArrayView(big.data(), dtype, {3, 4}, {2 * 8 * 4, 2 * 4}));
    writer.write("reversed", ArrayView(reversed.data() + 8, dtype, {3, 4}, {-16, 4}));
    writer.write("f_lzf", ArrayView::contiguous(f_order.data(), dtype, {3, 4}, ndbridge::MemoryOrder::Fortran), chunked({2, 3}, Lzf));
    writer.write("strided_gzip", ArrayView(big.data(), dtype, {3, 4}, {2 * 8 * 4, 2 * 4}),
                 chunked({1, 4}, Gzip, true));
    writer.commit();
  }
  const H5File file = H5File::open(path("views.h5"));
  const std::string expected(reinterpret_cast<const char*>(c_order.data()), c_order.size() * 4);
  for (const char* name : {"c", "f", "strided", "reversed", "f_lzf", "strided_gzip"}) {
    SCOPED_TRACE(name);
    expect_array(file.read(name), dtype, {3, 4}, expected);
  }
}

TEST_F(H5Test, Attributes) {
  const std::int64_t answer = 42;
  const double ratio = 0.5;
  const bool flag = true;
  const std::uint16_t grid[6] = {1, 2, 3, 4, 5, 6};
  const float be_bytes[2] = {0, 0};
  const std::vector<char32_t> names = ucs4({U"alpha", U"\u03b2"}, 5);
  const char raw[4] = {'a', 'b', 'c', '\0'};
  const std::int32_t data[3] = {1, 2, 3};
  {
    H5Writer writer(path("attrs.h5"));
    writer.write("grp/x", ArrayView::contiguous(data, DType::of<std::int32_t>(), {3}));
    writer.set_attribute("/", "answer", ArrayView::contiguous(&answer, DType::of<std::int64_t>(), {}));
    writer.set_attribute("/", "title", std::string("r\xc3\xa9sum\xc3\xa9"));
    writer.set_attribute("grp/x", "ratio", ArrayView::contiguous(&ratio, DType::of<double>(), {}));
    writer.set_attribute("grp/x", "flag", ArrayView::contiguous(&flag, DType::of<bool>(), {}));
    writer.set_attribute("grp/x", "grid", ArrayView::contiguous(grid, DType::of<std::uint16_t>(), {2, 3}));
    writer.set_attribute("grp/x", "zeros", ArrayView::contiguous(be_bytes, DType::from_descr(">f4"), {2}));
    writer.set_attribute("grp/x", "names",
                         ArrayView::contiguous(names.data(), DType(Kind::Unicode, 20, ndbridge::native_byte_order()), {2}));
    writer.set_attribute("grp/x", "raw", ArrayView::contiguous(raw, DType::from_descr("|S4"), {}));
    writer.set_attribute("grp", "empty", std::string());
    // Setting an attribute again replaces it, as h5py's attrs[name] = value.
    writer.set_attribute("grp/x", "ratio", ArrayView::contiguous(&ratio, DType::of<double>(), {}));
    EXPECT_THROW(writer.set_attribute("nowhere", "a", std::string("x")), ndbridge::NotFoundError);
    writer.commit();
  }
  const H5File file = H5File::open(path("attrs.h5"));
  const auto root = file.attributes("/");
  ASSERT_EQ(root.size(), 2u);
  EXPECT_EQ(root[0].first, "answer");
  expect_array(root[0].second, DType::of<std::int64_t>(), {},
               std::string(reinterpret_cast<const char*>(&answer), 8));
  EXPECT_EQ(root[1].first, "title");
  EXPECT_EQ(root[1].second.dtype().descr(), "<U6");
  EXPECT_EQ(root[1].second.shape(), Shape{});
  EXPECT_EQ(std::memcmp(root[1].second.bytes(), U"r\u00e9sum\u00e9", 24), 0);

  const auto x = file.attributes("grp/x");
  std::vector<std::string> got;
  for (const auto& [name, value] : x) got.push_back(name);
  EXPECT_EQ(got, (std::vector<std::string>{"flag", "grid", "names", "ratio", "raw", "zeros"}));
  expect_array(x[0].second, DType::of<bool>(), {}, std::string("\x01", 1));
  expect_array(x[1].second, DType::of<std::uint16_t>(), {2, 3},
               std::string(reinterpret_cast<const char*>(grid), sizeof grid));
  EXPECT_EQ(x[2].second.dtype().descr(), "<U5");
  EXPECT_EQ(x[2].second.shape(), Shape{2});
  EXPECT_EQ(std::memcmp(x[2].second.bytes(), names.data(), names.size() * 4), 0);
  expect_array(x[3].second, DType::of<double>(), {}, std::string(reinterpret_cast<const char*>(&ratio), 8));
  expect_array(x[4].second, DType::from_descr("|S4"), {}, std::string(raw, 4));
  expect_array(x[5].second, DType::from_descr(">f4"), {2}, std::string(8, '\0'));

  const auto grp = file.attributes("/grp");
  ASSERT_EQ(grp.size(), 1u);
  EXPECT_EQ(grp[0].second.dtype().kind(), Kind::Unicode);
  EXPECT_EQ(file.info("grp/x").attributes, got);
  EXPECT_THROW(file.attributes("grp/nope"), ndbridge::NotFoundError);
}

TEST_F(H5Test, ListAndInfo) {
  const std::vector<std::byte> data = compressible(DType::from_descr("<u4"), 600);
  {
    H5Writer writer(path("tree.h5"));
    writer.write("b/deep/x", ArrayView::contiguous(data.data(), DType::from_descr("<u4"), {100, 6}),
                 chunked({25, 3}, Gzip, true, true));
    writer.write("a", ArrayView::contiguous(data.data(), DType::from_descr("|b1"), {7}));
    writer.write("b/y", ArrayView::contiguous(data.data(), DType::from_descr(">c16"), {2, 3}),
                 chunked({1, 3}, Lzf));
    writer.set_attribute("b", "note", std::string("hello"));
    writer.set_attribute("/", "v", std::string("1"));
    writer.commit();
  }
  const H5File file = H5File::open(path("tree.h5"));
  const std::vector<H5Object> all = file.list();
  std::vector<std::string> paths;
  for (const auto& o : all) paths.push_back(o.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"/", "/a", "/b", "/b/deep", "/b/deep/x", "/b/y"}));
  EXPECT_EQ(all[0].kind, H5Object::Kind::Group);
  EXPECT_EQ(all[0].attributes, std::vector<std::string>{"v"});
  EXPECT_EQ(all[2].kind, H5Object::Kind::Group);
  EXPECT_EQ(all[2].attributes, std::vector<std::string>{"note"});

  const H5Object& a = all[1];
  EXPECT_EQ(a.kind, H5Object::Kind::Dataset);
  EXPECT_EQ(a.dtype->descr(), "|b1");
  EXPECT_EQ(a.type, "h5py bool enum");
  EXPECT_EQ(a.layout, "contiguous");
  EXPECT_FALSE(a.chunks.has_value());
  EXPECT_TRUE(a.filters.empty());

  const H5Object& x = all[4];
  EXPECT_EQ(x.shape, (Shape{100, 6}));
  EXPECT_EQ(x.chunks, (Shape{25, 3}));
  EXPECT_EQ(x.layout, "chunked");
  EXPECT_EQ(x.filters, (std::vector<std::string>{"shuffle", "gzip", "fletcher32"}));

  const H5Object& y = all[5];
  EXPECT_EQ(y.dtype->descr(), ">c16");
  EXPECT_EQ(y.filters, std::vector<std::string>{"lzf"});
  EXPECT_NE(y.type.find("complex"), std::string::npos);

  const H5Object info = file.info("/b/deep/x");
  EXPECT_EQ(info.path, "/b/deep/x");
  EXPECT_EQ(info.filters, x.filters);
  EXPECT_EQ(file.info("b").kind, H5Object::Kind::Group);
  EXPECT_THROW(file.info("b/nope"), ndbridge::NotFoundError);
}

TEST_F(H5Test, ReadRowsAcrossChunks) {
  const DType dtype = DType::from_descr(">i8");
  const Shape shape{100, 3};
  const std::vector<std::byte> data = compressible(dtype, count(shape));
  {
    H5Writer writer(path("rows.h5"));
    writer.write("contiguous", ArrayView::contiguous(data.data(), dtype, shape));
    writer.write("chunked", ArrayView::contiguous(data.data(), dtype, shape), chunked({10, 3}));
    writer.write("lzf", ArrayView::contiguous(data.data(), dtype, shape), chunked({7, 2}, Lzf));
    writer.write("gzip", ArrayView::contiguous(data.data(), dtype, shape), chunked({13, 3}, Gzip, true));
    writer.commit();
  }
  const H5File file = H5File::open(path("rows.h5"));
  const std::size_t row = 3 * 8;
  for (const char* name : {"contiguous", "chunked", "lzf", "gzip"}) {
    for (const auto& [start, stop] : std::vector<std::pair<std::uint64_t, std::uint64_t>>{
             {0, 100}, {9, 11}, {10, 20}, {5, 95}, {99, 100}, {0, 0}, {42, 42}, {100, 100}}) {
      SCOPED_TRACE(std::string(name) + " " + std::to_string(start) + ":" + std::to_string(stop));
      expect_array(file.read_rows(name, start, stop), dtype, {stop - start, 3},
                   bytes_of(data).substr(start * row, (stop - start) * row));
    }
    EXPECT_THROW(file.read_rows(name, 0, 101), ndbridge::UsageError);
    EXPECT_THROW(file.read_rows(name, 5, 4), ndbridge::UsageError);
    EXPECT_THROW(file.read_rows(name, 101, 101), ndbridge::UsageError);
  }
}

// Reads touching more than 4096 chunks go to HDF5 in slabs, split along
// the first axis whose later axes hold few enough chunks; every split must
// return what was written.
TEST_F(H5Test, ReadsOverManyChunks) {
  const DType dtype = DType::from_descr("<u2");
  struct Case {
    Shape shape, chunks;
  };
  const std::vector<Case> cases{{{9000}, {1}}, {{7, 1200}, {2, 1}}, {{5, 70, 100}, {1, 1, 1}},
                                {{3, 5, 4097}, {2, 3, 1}}};
  for (std::size_t c = 0; c < cases.size(); ++c) {
    const Shape& shape = cases[c].shape;
    SCOPED_TRACE(c);
    const std::vector<std::byte> data = compressible(dtype, count(shape));
    const std::string file_name = "many" + std::to_string(c) + ".h5";
    {
      H5Writer writer(path(file_name));
      writer.write("x", ArrayView::contiguous(data.data(), dtype, shape), chunked(cases[c].chunks));
      writer.commit();
    }
    const H5File file = H5File::open(path(file_name));
    const std::uint64_t row = count(shape) / shape[0] * 2;
    expect_array(file.read("x"), dtype, shape, bytes_of(data));
    for (const auto& [start, stop] : std::vector<std::pair<std::uint64_t, std::uint64_t>>{
             {1, shape[0]}, {shape[0] / 2, shape[0] / 2 + 1}, {shape[0] - 1, shape[0]}}) {
      Shape rows = shape;
      rows[0] = stop - start;
      expect_array(file.read_rows("x", start, stop), dtype, rows,
                   bytes_of(data).substr(start * row, (stop - start) * row));
    }
  }
}

TEST_F(H5Test, ReadRowsIntoCallerMemory) {
  const DType dtype = DType::from_descr(">i8");
  const Shape shape{100, 3};
  const std::vector<std::byte> data = compressible(dtype, count(shape));
  {
    H5Writer writer(path("into.h5"));
    writer.write("contiguous", ArrayView::contiguous(data.data(), dtype, shape));
    writer.write("gzip", ArrayView::contiguous(data.data(), dtype, shape), chunked({13, 3}, Gzip, true));
    const std::vector<std::u32string> texts{U"a", U"bc"};
    const std::vector<char32_t> cells = ucs4(texts, 2);
    writer.write("text", ArrayView::contiguous(cells.data(), DType::from_descr("<U2"), {2}));
    const double scalar = 2.5;
    writer.write("scalar", ArrayView::contiguous(&scalar, DType::of<double>(), {}));
    writer.commit();
  }
  const H5File file = H5File::open(path("into.h5"));
  const std::size_t row = 3 * 8;
  for (const char* name : {"contiguous", "gzip"}) {
    SCOPED_TRACE(name);
    const ndbridge::H5ReadInfo info = file.read_info(name);
    ASSERT_TRUE(info.dtype.has_value());
    EXPECT_EQ(info.dtype->descr(), ">i8");
    EXPECT_EQ(info.shape, shape);
    // One buffer, reused for every batch, as inference code would.
    std::vector<std::byte> batch(10 * row, std::byte{0x5a});
    for (std::uint64_t start : {0, 10, 45, 90}) {
      file.read_rows_into(name, start, start + 10, batch.data(), batch.size());
      EXPECT_EQ(bytes_of(batch), bytes_of(data).substr(start * row, 10 * row)) << start;
    }
    file.read_rows_into(name, 7, 7, nullptr, 0);  // nothing to read, nothing touched
    EXPECT_THROW(file.read_rows_into(name, 0, 10, batch.data(), batch.size() - 1), ndbridge::UsageError);
    EXPECT_THROW(file.read_rows_into(name, 0, 11, batch.data(), batch.size()), ndbridge::UsageError);
    EXPECT_THROW(file.read_rows_into(name, 95, 105, batch.data(), batch.size()), ndbridge::UsageError);
  }
  // Variable-length strings have no fixed size to read into.
  EXPECT_FALSE(file.read_info("text").dtype.has_value());
  std::vector<std::byte> cells(64);
  try {
    file.read_rows_into("text", 0, 1, cells.data(), cells.size());
    FAIL() << "read_rows_into accepted variable-length strings";
  } catch (const ndbridge::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("into.h5"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(file.read_info("scalar").shape.empty());
  EXPECT_THROW(file.read_rows_into("scalar", 0, 1, cells.data(), 8), ndbridge::UsageError);
  EXPECT_THROW(file.read_info("missing"), ndbridge::NotFoundError);
}

TEST_F(H5Test, AppendKeepsExistingDatasets) {
  const std::int32_t first[3] = {1, 2, 3};
  const double second[2] = {4.5, 5.5};
  {
    H5Writer writer(path("grow.h5"));
    writer.write("g/first", ArrayView::contiguous(first, DType::of<std::int32_t>(), {3}));
    writer.set_attribute("g", "kept", std::string("yes"));
    writer.commit();
  }
  {
    H5Writer writer(path("grow.h5"), ndbridge::H5WriteMode::Append);
    EXPECT_THROW(writer.write("g/first", ArrayView::contiguous(first, DType::of<std::int32_t>(), {3})),
                 ndbridge::UsageError);
    writer.write("g/second", ArrayView::contiguous(second, DType::of<double>(), {2}));
    // Until commit the original is untouched.
    EXPECT_THROW(H5File::open(path("grow.h5")).info("g/second"), ndbridge::NotFoundError);
    writer.commit();
  }
  EXPECT_EQ(files(), std::vector<std::string>{"grow.h5"});
  const H5File file = H5File::open(path("grow.h5"));
  expect_array(file.read("g/first"), DType::of<std::int32_t>(), {3},
               std::string(reinterpret_cast<const char*>(first), sizeof first));
  expect_array(file.read("g/second"), DType::of<double>(), {2},
               std::string(reinterpret_cast<const char*>(second), sizeof second));
  EXPECT_EQ(file.attributes("g").size(), 1u);
}

TEST_F(H5Test, WriterRefusesBadRequests) {
  const std::int32_t data[12] = {};
  const double scalar = 1;
  const DType i4 = DType::of<std::int32_t>();
  H5Writer writer(path("bad.h5"));
  writer.write("taken", ArrayView::contiguous(data, i4, {12}));
  writer.write("g/leaf", ArrayView::contiguous(data, i4, {12}));
  const ArrayView matrix = ArrayView::contiguous(data, i4, {3, 4});
  EXPECT_THROW(writer.write("taken", matrix), ndbridge::UsageError);
  EXPECT_THROW(writer.write("/taken", matrix), ndbridge::UsageError);
  EXPECT_THROW(writer.write("g", matrix), ndbridge::UsageError);
  EXPECT_THROW(writer.write("g/leaf/below", matrix), ndbridge::UsageError);
  EXPECT_THROW(writer.write("c0", matrix, chunked({0, 4})), ndbridge::UsageError);
  EXPECT_THROW(writer.write("c1", matrix, chunked({4, 4})), ndbridge::UsageError);
  EXPECT_THROW(writer.write("c2", matrix, chunked({3})), ndbridge::UsageError);
  EXPECT_THROW(writer.write("c3", matrix, chunked({1, 1, 1})), ndbridge::UsageError);
  EXPECT_THROW(writer.write("l", matrix, chunked({1, 4}, Gzip, false, false, 10)), ndbridge::UsageError);
  EXPECT_THROW(writer.write("l", matrix, chunked({1, 4}, Gzip, false, false, -1)), ndbridge::UsageError);
  const ArrayView zero_d = ArrayView::contiguous(&scalar, DType::of<double>(), {});
  H5DatasetOptions gzip;
  gzip.compression = Gzip;
  EXPECT_THROW(writer.write("s1", zero_d, gzip), ndbridge::UsageError);
  H5DatasetOptions shuffle;
  shuffle.shuffle = true;
  EXPECT_THROW(writer.write("s2", zero_d, shuffle), ndbridge::UsageError);
  EXPECT_THROW(writer.write("s3", zero_d, chunked({})), ndbridge::UsageError);
  const char32_t nul[3] = {U'a', U'\0', U'b'};
  EXPECT_THROW(writer.write("nul", ArrayView::contiguous(nul, DType(Kind::Unicode, 12, ndbridge::native_byte_order()), {})),
               ndbridge::UsageError);
  // None of the refused names exist; the file is still fine to finish.
  writer.commit();
  const H5File file = H5File::open(path("bad.h5"));
  const std::vector<H5Object> all = file.list();
  std::vector<std::string> paths;
  for (const auto& o : all) paths.push_back(o.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"/", "/g", "/g/leaf", "/taken"}));
}

TEST_F(H5Test, WriteModes) {
  const std::int32_t data[4] = {1, 2, 3, 4};
  const ArrayView x = ArrayView::contiguous(data, DType::of<std::int32_t>(), {4});
  {
    H5Writer writer(path("m.h5"), ndbridge::H5WriteMode::Create);
    writer.write("x", x);
    writer.commit();
  }
  // Create refuses a file that is there, when starting...
  try {
    H5Writer writer(path("m.h5"), ndbridge::H5WriteMode::Create);
    ADD_FAILURE() << "create over an existing file did not throw";
  } catch (const ndbridge::FileError& e) {
    EXPECT_EQ(e.errno_value(), EEXIST);
    EXPECT_NE(std::string(e.what()).find("m.h5"), std::string::npos) << e.what();
  }
  // ...and when one appeared while writing, which is left as it is.
  {
    H5Writer writer(path("late.h5"), ndbridge::H5WriteMode::Create);
    writer.write("x", x);
    std::ofstream(path("late.h5")) << "someone else's";
    EXPECT_THROW(writer.commit(), ndbridge::FileError);
  }
  EXPECT_EQ(fs::file_size(path("late.h5")), 14u);
  EXPECT_EQ(files(), (std::vector<std::string>{"late.h5", "m.h5"}));
  // Overwrite (the default) replaces; Append adds.
  {
    H5Writer writer(path("m.h5"), ndbridge::H5WriteMode::Append);
    writer.write("y", x);
    writer.commit();
  }
  EXPECT_TRUE(H5File::open(path("m.h5")).contains("x"));
  EXPECT_TRUE(H5File::open(path("m.h5")).contains("y"));
  {
    H5Writer writer(path("m.h5"));
    writer.write("z", x);
    writer.commit();
  }
  const H5File replaced = H5File::open(path("m.h5"));
  EXPECT_FALSE(replaced.contains("x"));
  EXPECT_TRUE(replaced.contains("z"));
}

// The deprecated string and bool spellings compile and map to H5WriteMode
// and H5Compression (their deprecation warnings are silenced here).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
TEST_F(H5Test, DeprecatedSpellingsStillWork) {
  const std::int32_t data[4] = {1, 2, 3, 4};
  const ArrayView x = ArrayView::contiguous(data, DType::of<std::int32_t>(), {4});
  {
    H5Writer writer(path("old.h5"), false);
    H5DatasetOptions options;
    options.compression = "gzip";
    EXPECT_EQ(options.compression, Gzip);
    writer.write("gz", x, options);
    options.compression = std::string("lzf");
    EXPECT_EQ(options.compression, Lzf);
    options.compression = "";
    EXPECT_EQ(options.compression, None);
    options.compression = "zstd";
    try {
      writer.write("z", x, options);
      ADD_FAILURE() << "unknown compression did not throw";
    } catch (const ndbridge::UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("zstd"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("old.h5"), std::string::npos) << e.what();
    }
    writer.commit();
  }
  {
    H5Writer writer(path("old.h5"), true);
    writer.write("more", x);
    writer.commit();
  }
  const H5File file = H5File::open(path("old.h5"));
  EXPECT_EQ(file.info("gz").filters, std::vector<std::string>{"gzip"});
  EXPECT_TRUE(file.contains("more"));
  EXPECT_FALSE(file.contains("z"));
  EXPECT_EQ(ndbridge::h5_compression("gzip"), Gzip);
  EXPECT_EQ(ndbridge::h5_compression("none"), None);
  EXPECT_THROW(ndbridge::h5_compression("zstd"), ndbridge::UsageError);
}
#pragma GCC diagnostic pop

TEST_F(H5Test, WriterWithoutCommitLeavesNothing) {
  const std::int32_t data[4] = {1, 2, 3, 4};
  {
    H5Writer writer(path("never.h5"));
    writer.write("x", ArrayView::contiguous(data, DType::of<std::int32_t>(), {4}), chunked({2}, Lzf));
    EXPECT_FALSE(fs::exists(path("never.h5")));
  }
  EXPECT_TRUE(files().empty());
  {
    H5Writer writer(path("kept.h5"));
    writer.write("x", ArrayView::contiguous(data, DType::of<std::int32_t>(), {4}));
    writer.commit();
  }
  const auto before = fs::file_size(path("kept.h5"));
  {
    H5Writer writer(path("kept.h5"), ndbridge::H5WriteMode::Append);
    writer.write("y", ArrayView::contiguous(data, DType::of<std::int32_t>(), {4}));
  }
  EXPECT_EQ(files(), std::vector<std::string>{"kept.h5"});
  EXPECT_EQ(fs::file_size(path("kept.h5")), before);
  EXPECT_THROW(H5File::open(path("kept.h5")).read("y"), ndbridge::NotFoundError);
}

TEST_F(H5Test, ReaderErrors) {
  const std::int32_t data[4] = {1, 2, 3, 4};
  {
    H5Writer writer(path("ok.h5"));
    writer.write("g/x", ArrayView::contiguous(data, DType::of<std::int32_t>(), {4}));
    writer.commit();
  }
  const H5File file = H5File::open(path("ok.h5"));
  for (const char* name : {"nope", "g/nope", "nope/x", "g/x/below"}) {
    SCOPED_TRACE(name);
    try {
      (void)file.read(name);
      ADD_FAILURE() << "no NotFoundError";
    } catch (const ndbridge::NotFoundError& e) {
      EXPECT_NE(std::string(e.what()).find("ok.h5"), std::string::npos) << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "expected NotFoundError, got: " << e.what();
    }
    EXPECT_THROW(file.read_rows(name, 0, 1), ndbridge::NotFoundError);
    EXPECT_THROW(file.attributes(name), ndbridge::NotFoundError);
  }
  EXPECT_THROW(file.read("g"), ndbridge::NotFoundError);
  EXPECT_THROW(file.read("/"), ndbridge::NotFoundError);

  std::ofstream(path("text.h5")) << "this is not HDF5\n";
  try {
    (void)H5File::open(path("text.h5"));
    ADD_FAILURE() << "no FormatError";
  } catch (const ndbridge::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("text.h5"), std::string::npos) << e.what();
  }
  std::ofstream(path("empty.h5")).close();
  EXPECT_THROW(H5File::open(path("empty.h5")), ndbridge::FormatError);

  try {
    (void)H5File::open(path("missing.h5"));
    ADD_FAILURE() << "no FileError";
  } catch (const ndbridge::FileError& e) {
    EXPECT_EQ(e.errno_value(), ENOENT);
    EXPECT_NE(std::string(e.what()).find("missing.h5"), std::string::npos) << e.what();
  }

  // A truncated file is an error, never a crash.
  const std::string whole = [&] {
    std::ifstream in(path("ok.h5"), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  for (const std::size_t cut : {std::size_t{8}, std::size_t{96}, whole.size() / 2, whole.size() - 1}) {
    SCOPED_TRACE(cut);
    std::ofstream(path("cut.h5"), std::ios::binary).write(whole.data(), static_cast<std::streamsize>(cut));
    try {
      (void)H5File::open(path("cut.h5")).read("g/x");
      ADD_FAILURE() << "no error";
    } catch (const ndbridge::H5Error& e) {
      EXPECT_FALSE(e.stack().empty());
      EXPECT_NE(std::string(e.what()).find("cut.h5"), std::string::npos) << e.what();
    } catch (const ndbridge::FormatError& e) {
      EXPECT_NE(std::string(e.what()).find("cut.h5"), std::string::npos) << e.what();
    }
  }
}

TEST_F(H5Test, MovedFileStaysUsable) {
  const std::int32_t data[4] = {1, 2, 3, 4};
  {
    H5Writer writer(path("m.h5"));
    writer.write("x", ArrayView::contiguous(data, DType::of<std::int32_t>(), {4}));
    writer.commit();
  }
  H5File a = H5File::open(path("m.h5"));
  H5File b = std::move(a);
  EXPECT_EQ(b.path(), path("m.h5"));
  expect_array(b.read("x"), DType::of<std::int32_t>(), {4}, std::string(reinterpret_cast<const char*>(data), 16));
  H5File c = H5File::open(path("m.h5"));
  c = std::move(b);
  EXPECT_EQ(c.read("x").size(), 4u);
}

// Several threads read the same files (each opening its own H5File, and all
// sharing one) and different files at once; every result must be exact.
TEST_F(H5Test, ConcurrentReadsFromManyThreads) {
  struct Fixture {
    std::string file, dataset;
    DType dtype;
    Shape shape;
    H5DatasetOptions options;
    std::vector<std::byte> data;
  };
  std::vector<Fixture> fixtures = {
      {"chunked.h5", "x", DType::from_descr("<i4"), {3000, 16}, chunked({64, 16})},
      {"lzf.h5", "deep/y", DType::from_descr(">f8"), {2000, 10}, chunked({100, 5}, Lzf, true)},
      {"gzip.h5", "z", DType::from_descr("<c8"), {1500, 4}, chunked({50, 4}, Gzip, true, true)},
      {"text.h5", "t", DType(Kind::Unicode, 12, ndbridge::native_byte_order()), {300}, chunked({40}, Gzip)},
  };
  for (auto& f : fixtures) {
    if (f.dtype.kind() == Kind::Unicode) {
      std::vector<std::u32string> texts;
      // Three characters each, so every row range reads back as "<U3".
      for (std::size_t i = 0; i < f.shape[0]; ++i) {
        const char32_t c = U'a' + static_cast<char32_t>(i % 24);
        texts.push_back({c, static_cast<char32_t>(c + 1 + i % 2), U'\u00e9'});
      }
      const std::vector<char32_t> cells = ucs4(texts, 3);
      f.data.resize(cells.size() * 4);
      std::memcpy(f.data.data(), cells.data(), f.data.size());
    } else {
      f.data = compressible(f.dtype, count(f.shape));
    }
    H5Writer writer(path(f.file));
    writer.write(f.dataset, ArrayView::contiguous(f.data.data(), f.dtype, f.shape), f.options);
    writer.commit();
  }
  const H5File shared = H5File::open(path("lzf.h5"));

  std::atomic<int> checks{0};
  std::mutex failures_mutex;
  std::vector<std::string> failures;
  auto fail = [&](const std::string& what) {
    const std::lock_guard<std::mutex> lock(failures_mutex);
    failures.push_back(what);
  };
  auto check = [&](const Fixture& f, const Array& a, std::uint64_t start, std::uint64_t stop) {
    const std::uint64_t row = f.data.size() / f.shape[0];
    const std::string expected = bytes_of(f.data).substr(start * row, (stop - start) * row);
    if (a.dtype() != f.dtype || a.shape()[0] != stop - start || bytes_of(a) != expected) {
      fail(f.file + " rows " + std::to_string(start) + ":" + std::to_string(stop) + " differ");
    }
    ++checks;
  };

  constexpr int kThreads = 8;
  constexpr int kRounds = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        for (int round = 0; round < kRounds; ++round) {
          // Threads start on different files, then visit all of them.
          for (std::size_t k = 0; k < fixtures.size(); ++k) {
            const Fixture& f = fixtures[(k + static_cast<std::size_t>(t)) % fixtures.size()];
            const H5File file = H5File::open(path(f.file));
            check(f, file.read(f.dataset), 0, f.shape[0]);
            const std::uint64_t start = static_cast<std::uint64_t>(t * 37 + round * 11) % f.shape[0];
            const std::uint64_t stop = std::min<std::uint64_t>(f.shape[0], start + 1 + static_cast<std::uint64_t>(round * 7));
            check(f, file.read_rows(f.dataset, start, stop), start, stop);
            if (file.list().size() < 2) fail(f.file + ": list() is short");
          }
          const Fixture& lzf = fixtures[1];
          check(lzf, shared.read_rows(lzf.dataset, static_cast<std::uint64_t>(round), 1000), static_cast<std::uint64_t>(round), 1000);
          try {
            (void)shared.read("deep/missing");
            fail("no NotFoundError");
          } catch (const ndbridge::NotFoundError&) {
          }
        }
      } catch (const std::exception& e) {
        fail(std::string("thread ") + std::to_string(t) + ": " + e.what());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_TRUE(failures.empty()) << failures.size() << " failures, first: " << failures.front();
  EXPECT_EQ(checks.load(), kThreads * kRounds * (2 * static_cast<int>(fixtures.size()) + 1));
}

// Threads writing their own files at the same time, then reading them back.
TEST_F(H5Test, ConcurrentWritersOnDifferentFiles) {
  constexpr int kThreads = 6;
  const DType dtype = DType::from_descr("<u2");
  const std::vector<std::byte> data = compressible(dtype, 4000);
  std::mutex failures_mutex;
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        for (int round = 0; round < 10; ++round) {
          const fs::path p = path("w" + std::to_string(t) + ".h5");
          fs::remove(p);
          {
            H5Writer writer(p);
            writer.write("lzf", ArrayView::contiguous(data.data(), dtype, {4000}), chunked({500}, Lzf));
            writer.write("gzip", ArrayView::contiguous(data.data(), dtype, {40, 100}), chunked({7, 100}, Gzip, true));
            writer.set_attribute("lzf", "round", std::to_string(round));
            writer.commit();
          }
          const H5File file = H5File::open(p);
          for (const char* name : {"lzf", "gzip"}) {
            if (bytes_of(file.read(name)) != bytes_of(data)) {
              const std::lock_guard<std::mutex> lock(failures_mutex);
              failures.push_back(p.filename().string() + " " + name + " differs");
            }
          }
        }
      } catch (const std::exception& e) {
        const std::lock_guard<std::mutex> lock(failures_mutex);
        failures.push_back(e.what());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_TRUE(failures.empty()) << failures.size() << " failures, first: " << failures.front();
}
