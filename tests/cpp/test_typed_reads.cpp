// Typed reads into caller buffers: the element type is checked against the
// buffer's C++ type and the elements arrive in native byte order, from
// big-endian .npy, .npz and HDF5 files alike. Files numpy and h5py write
// big-endian are read through the binding's out= in tests/python/test_rows.py.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "scratch_dir.hpp"
#include "ndbridge/config.hpp"
#include "ndbridge/npy.hpp"
#include "ndbridge/npz.hpp"
#if NDBRIDGE_WITH_HDF5
#include "ndbridge/h5.hpp"
#endif

using ndbridge::ArrayView;
using ndbridge::DType;

namespace {

class TypedReadTest : public ndbridge::testing::ScratchDirTest {};

// 4 rows of 3 floats, 0.5 apart, and the same values as big-endian bytes.
std::vector<float> values() {
  std::vector<float> v(12);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = 0.5f * static_cast<float>(i) - 1.25f;
  return v;
}

std::vector<unsigned char> big_endian(const std::vector<float>& v) {
  std::vector<unsigned char> out(v.size() * 4);
  std::memcpy(out.data(), v.data(), out.size());
  if (ndbridge::native_byte_order() == ndbridge::ByteOrder::Little) {
    for (std::size_t i = 0; i < out.size(); i += 4) std::reverse(out.begin() + i, out.begin() + i + 4);
  }
  return out;
}

ArrayView big_view(const std::vector<unsigned char>& bytes) {
  return ArrayView::contiguous(bytes.data(), DType::from_descr(">f4"), {4, 3});
}

const std::vector<std::int64_t> kPicked{3, 0, -1};

// Rows 3, 0 and 3 of values(), as the picks above give them.
std::vector<float> picked_values() {
  const auto v = values();
  std::vector<float> out;
  for (const int row : {3, 0, 3}) out.insert(out.end(), v.begin() + row * 3, v.begin() + row * 3 + 3);
  return out;
}

}  // namespace

TEST_F(TypedReadTest, NpyBigEndianGivesNativeFloats) {
  const auto bytes = big_endian(values());
  ndbridge::write_npy(path("big.npy"), big_view(bytes));
  for (const auto access : {ndbridge::NpyAccess::Read, ndbridge::NpyAccess::Map}) {
    const ndbridge::NpyReader reader(path("big.npy"), access);
    std::vector<float> out(9);
    reader.read_rows_into(kPicked, out.data(), out.size() * sizeof(float));
    EXPECT_EQ(out, picked_values());
    // The untyped read keeps the file's byte order, as read_info/header say.
    std::vector<unsigned char> raw(36);
    reader.read_rows_into(kPicked, static_cast<void*>(raw.data()), raw.size());
    EXPECT_EQ(std::vector<unsigned char>(raw.begin(), raw.begin() + 12),
              std::vector<unsigned char>(bytes.begin() + 36, bytes.begin() + 48));
    // Another element type is refused before anything is read.
    std::vector<double> wrong(9, 7.0);
    try {
      reader.read_rows_into(kPicked, wrong.data(), wrong.size() * sizeof(double));
      FAIL() << "reading >f4 into double did not throw";
    } catch (const ndbridge::UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(">f4"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("big.npy"), std::string::npos) << e.what();
    }
    EXPECT_EQ(wrong, std::vector<double>(9, 7.0));
    std::vector<std::int32_t> same_size(9);
    EXPECT_THROW(reader.read_rows_into(kPicked, same_size.data(), 36), ndbridge::UsageError);
  }
}

TEST_F(TypedReadTest, NpzBigEndianGivesNativeFloats) {
  const auto bytes = big_endian(values());
  for (const auto compression : {ndbridge::NpzCompression::Stored, ndbridge::NpzCompression::Deflated}) {
    ndbridge::write_npz(path("big.npz"), {{"x", big_view(bytes)}}, compression);
    const ndbridge::NpzReader reader(path("big.npz"));
    std::vector<float> out(9);
    reader.read_rows_into("x", kPicked, out.data(), out.size() * sizeof(float));
    EXPECT_EQ(out, picked_values());
    std::vector<std::uint32_t> wrong(9);
    EXPECT_THROW(reader.read_rows_into("x", kPicked, wrong.data(), 36), ndbridge::UsageError);
    // The runtime-typed overload delivers any byte order asked for.
    std::vector<unsigned char> again(36);
    reader.read_rows_into("x", kPicked, again.data(), again.size(), DType::from_descr(">f4"));
    EXPECT_EQ(std::vector<unsigned char>(again.begin() + 12, again.begin() + 24),
              std::vector<unsigned char>(bytes.begin(), bytes.begin() + 12));
  }
}

#if NDBRIDGE_WITH_HDF5
TEST_F(TypedReadTest, H5BigEndianGivesNativeFloats) {
  const auto bytes = big_endian(values());
  for (const bool chunked : {false, true}) {
    const auto p = path(chunked ? "chunked.h5" : "contiguous.h5");
    {
      ndbridge::H5Writer writer(p);
      ndbridge::H5DatasetOptions options;
      if (chunked) options.chunks = ndbridge::Shape{2, 3};
      writer.write("x", big_view(bytes), options);
      writer.commit();
    }
    const auto file = ndbridge::H5File::open(p);
    ASSERT_EQ(file.read_info("x").dtype, DType::from_descr(">f4"));
    std::vector<float> out(6);
    file.read_rows_into("x", 1, 3, out.data(), out.size() * sizeof(float));
    const auto v = values();
    EXPECT_EQ(out, std::vector<float>(v.begin() + 3, v.begin() + 9));
    std::vector<float> picked(9);
    file.read_rows_into("x", kPicked, picked.data(), picked.size() * sizeof(float));
    EXPECT_EQ(picked, picked_values());
    std::vector<double> wrong(3);
    try {
      file.read_rows_into("x", 0, 1, wrong.data(), 24);
      FAIL() << "reading >f4 into double did not throw";
    } catch (const ndbridge::UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("dataset"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(">f4"), std::string::npos) << e.what();
    }
    std::vector<std::uint8_t> bytes_wide(12);
    EXPECT_THROW(file.read_rows_into("x", kPicked, bytes_wide.data(), 12), ndbridge::UsageError);
  }
}
#endif
