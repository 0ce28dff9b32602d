// Files as other HDF5 writers make them (PyTables, netCDF-4, HighFive, the
// HDF5 C API used directly), written here with the HDF5 C API, which
// ndbridge keeps private, and read through ndbridge's public API.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cstring>
#include <string>
#include <vector>

#include "ndbridge/h5.hpp"
#include "scratch_dir.hpp"

using ndbridge::Array;
using ndbridge::H5File;
using ndbridge::Kind;

namespace {

class H5WildTest : public ndbridge::testing::ScratchDirTest {};

// A thin owner for the handles the tests make.
struct Id {
  hid_t id;
  explicit Id(hid_t value) : id(value) { EXPECT_GE(value, 0); }
  ~Id() {
    if (id >= 0) H5Idec_ref(id);
  }
  operator hid_t() const { return id; }  // NOLINT: for the C API calls
};

hid_t vlen_string(H5T_cset_t cset) {
  const hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, cset);
  return t;
}

std::vector<std::string> texts(const Array& a) {
  std::vector<std::string> out;
  const std::size_t width = a.dtype().itemsize() / 4;
  const auto* cells = reinterpret_cast<const char32_t*>(a.bytes());
  for (std::uint64_t i = 0; i < a.size(); ++i) {
    std::string s;
    for (std::size_t k = 0; k < width && cells[i * width + k] != U'\0'; ++k) {
      s.push_back(static_cast<char>(cells[i * width + k]));  // ASCII in these tests
    }
    out.push_back(s);
  }
  return out;
}

}  // namespace

TEST(H5Version, ConstantIsTheLibraryRunning) {
  unsigned major = 0, minor = 0, release = 0;
  ASSERT_GE(H5get_libversion(&major, &minor, &release), 0);
  EXPECT_EQ(ndbridge::kHdf5Version.major, major);
  EXPECT_EQ(ndbridge::kHdf5Version.minor, minor);
  EXPECT_EQ(ndbridge::kHdf5Version.release, release);
  EXPECT_TRUE(ndbridge::kHdf5Version.at_least(major, minor, release));
  EXPECT_TRUE(ndbridge::kHdf5Version.at_least(1, 10));
  EXPECT_FALSE(ndbridge::kHdf5Version.at_least(major, minor + 1));
  EXPECT_FALSE(ndbridge::kHdf5Version.at_least(major + 1, 0, 0));
}

TEST_F(H5WildTest, AsciiVariableLengthStringsReadAsTextFirstThing) {
  // Before any UTF-8 string is read in this process: libhdf5 converts
  // ASCII to UTF-8 only once it has converted some UTF-8 string.
  const std::string file = path("ascii.h5").string();
  {
    const Id f(H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    const Id type(vlen_string(H5T_CSET_ASCII));
    const hsize_t n = 3;
    const Id space(H5Screate_simple(1, &n, nullptr));
    const char* values[] = {"time", "", "lat"};
    const Id d(H5Dcreate2(f, "labels", type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    ASSERT_GE(H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values), 0);
    const Id a(H5Acreate2(f, "units", type, space, H5P_DEFAULT, H5P_DEFAULT));
    ASSERT_GE(H5Awrite(a, type, values), 0);
  }
  const H5File h5 = H5File::open(file);
  const Array labels = h5.read("labels");
  EXPECT_EQ(labels.dtype().kind(), Kind::Unicode);
  EXPECT_EQ(texts(labels), (std::vector<std::string>{"time", "", "lat"}));
  const auto attributes = h5.attributes("/");
  ASSERT_EQ(attributes.size(), 1u);
  EXPECT_EQ(texts(attributes[0].second), (std::vector<std::string>{"time", "", "lat"}));
}

TEST_F(H5WildTest, LatinOneBytesComeBackAsBytes) {
  const std::string file = path("latin1.h5").string();
  {
    const Id f(H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    const Id type(vlen_string(H5T_CSET_ASCII));
    const hsize_t n = 2;
    const Id space(H5Screate_simple(1, &n, nullptr));
    const char* values[] = {"caf\xe9", "ok"};
    const Id d(H5Dcreate2(f, "s", type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    ASSERT_GE(H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values), 0);
  }
  const Array s = H5File::open(file).read("s");
  ASSERT_EQ(s.dtype().kind(), Kind::Bytes);
  ASSERT_EQ(s.dtype().itemsize(), 4u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(s.bytes()), 8), std::string("caf\xe9ok\0\0", 8));
}

TEST_F(H5WildTest, SpacePaddedStringsLoseTheirPadding) {
  const std::string file = path("space.h5").string();
  {
    const Id f(H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    const Id type(H5Tcopy(H5T_C_S1));
    H5Tset_size(type, 4);
    H5Tset_strpad(type, H5T_STR_SPACEPAD);
    const hsize_t n = 2;
    const Id space(H5Screate_simple(1, &n, nullptr));
    const Id d(H5Dcreate2(f, "s", type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    ASSERT_GE(H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, "ab  cdef"), 0);
  }
  const Array s = H5File::open(file).read("s");
  ASSERT_EQ(s.dtype().kind(), Kind::Bytes);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(s.bytes()), 8), std::string("ab\0\0cdef", 8));
}
