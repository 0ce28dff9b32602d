// Writing and reading .npy in C++ alone. The cross-language round trips, with
// files numpy writes, are in tests/python.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "scratch_dir.hpp"
#include "ndbridge/npy.hpp"

namespace fs = std::filesystem;
using ndbridge::Array;
using ndbridge::ArrayView;
using ndbridge::DType;

namespace {

class NpyTest : public ndbridge::testing::ScratchDirTest {};

std::vector<std::int32_t> iota(std::size_t n) {
  std::vector<std::int32_t> v(n);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

}  // namespace

TEST_F(NpyTest, HeaderMatchesNumpySave) {
  // np.save of np.zeros((3, 4), '<f4'): header padded to 128 bytes with the
  // growth-axis spaces numpy adds.
  const std::string h = ndbridge::make_npy_header(DType::from_descr("<f4"), {3, 4}, ndbridge::MemoryOrder::C);
  EXPECT_EQ(h.size(), 128u);
  EXPECT_EQ(h.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  auto dict_of = [](const std::string& header, std::size_t n) { return header.substr(10, n); };
  const std::string f4 = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }";
  EXPECT_EQ(dict_of(h, f4.size()), f4);
  EXPECT_EQ(h.back(), '\n');
  const std::string scalar = "{'descr': '|b1', 'fortran_order': False, 'shape': (), }";
  EXPECT_EQ(dict_of(ndbridge::make_npy_header(DType::of<bool>(), {}, ndbridge::MemoryOrder::C), scalar.size() + 1),
            scalar + " ");  // no growth-axis padding for 0-d: just alignment
  const std::string one = "{'descr': '|b1', 'fortran_order': True, 'shape': (5,), }";
  EXPECT_EQ(dict_of(ndbridge::make_npy_header(DType::of<bool>(), {5}, ndbridge::MemoryOrder::Fortran), one.size()), one);
}

TEST_F(NpyTest, BigHeadersUseVersionTwo) {
  const ndbridge::Shape many(60, 1);
  EXPECT_EQ(ndbridge::make_npy_header(DType::of<float>(), many)[6], '\x01');
  // Headers beyond 64 KiB need version 2.0; no plain dtype gets there, so
  // check the arithmetic on the boundary by shape length alone.
  for (const auto& h : {ndbridge::make_npy_header(DType::of<float>(), many)}) {
    EXPECT_EQ(h.size() % 64, 0u);
  }
}

TEST_F(NpyTest, RoundTripsCAndFortranOrder) {
  const auto values = iota(24);
  for (const bool fortran : {false, true}) {
    const auto p = path(fortran ? "f.npy" : "c.npy");
    ndbridge::write_npy(p, ArrayView::contiguous(values.data(), DType::of<std::int32_t>(), {2, 3, 4}, fortran ? ndbridge::MemoryOrder::Fortran : ndbridge::MemoryOrder::C));
    const Array a = ndbridge::read_npy(p);
    EXPECT_EQ(a.fortran_order(), fortran);
    EXPECT_EQ(a.shape(), (ndbridge::Shape{2, 3, 4}));
    EXPECT_EQ(std::memcmp(a.bytes(), values.data(), 96), 0);
    const Array m = ndbridge::map_npy(p);
    EXPECT_FALSE(m.writable());
    EXPECT_EQ(std::memcmp(m.bytes(), values.data(), 96), 0);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(m.bytes()) % 64, 0u);
  }
}

// A memory map is read through data<T>() like any array (reading needs no
// write access, even on a non-const Array); writing says why it cannot.
TEST_F(NpyTest, MappedArraysReadTypedAndRefuseWrites) {
  const auto values = iota(6);
  const auto p = path("mapped.npy");
  ndbridge::write_npy(p, ArrayView::contiguous(values.data(), DType::of<std::int32_t>(), {2, 3}));
  Array m = ndbridge::map_npy(p);
  const std::int32_t* read = m.data<std::int32_t>();
  EXPECT_EQ(std::vector<std::int32_t>(read, read + 6), values);
  try {
    m.mutable_data<std::int32_t>();
    FAIL() << "mutable_data on a memory map did not throw";
  } catch (const ndbridge::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("memory map"), std::string::npos) << e.what();
  }
  EXPECT_THROW(m.mutable_bytes(), ndbridge::UsageError);
  // A type mismatch is reported before writability.
  EXPECT_THROW(m.mutable_data<float>(), ndbridge::UsageError);
  Array copy = ndbridge::read_npy(p);
  copy.mutable_data<std::int32_t>()[0] = 7;
  EXPECT_EQ(copy.data<std::int32_t>()[0], 7);
}

TEST_F(NpyTest, WritesStridedDataInCOrder) {
  const auto values = iota(24);  // a 4x6 int32 matrix; take every other column, reversed rows
  const ArrayView strided(values.data() + 18, DType::of<std::int32_t>(), {4, 3}, {-24, 8});
  const auto p = path("strided.npy");
  ndbridge::write_npy(p, strided);
  const Array a = ndbridge::read_npy(p);
  EXPECT_FALSE(a.fortran_order());
  const std::int32_t expected[12] = {18, 20, 22, 12, 14, 16, 6, 8, 10, 0, 2, 4};
  EXPECT_EQ(std::memcmp(a.bytes(), expected, sizeof expected), 0);
}

TEST_F(NpyTest, ReadsRowRanges) {
  const auto values = iota(40);
  for (const bool fortran : {false, true}) {
    const auto p = path("rows.npy");
    ndbridge::write_npy(p, ArrayView::contiguous(values.data(), DType::of<std::int32_t>(), {10, 4}, fortran ? ndbridge::MemoryOrder::Fortran : ndbridge::MemoryOrder::C));
    const Array r = ndbridge::read_npy_rows(p, 3, 7);
    EXPECT_EQ(r.shape(), (ndbridge::Shape{4, 4}));
    EXPECT_EQ(r.fortran_order(), fortran);
    for (std::uint64_t i = 0; i < 4; ++i) {
      for (std::uint64_t j = 0; j < 4; ++j) {
        const std::uint64_t at = fortran ? i + 4 * j : i * 4 + j;
        const std::uint64_t src = fortran ? (i + 3) + 10 * j : (i + 3) * 4 + j;
        EXPECT_EQ(static_cast<std::uint64_t>(r.data<std::int32_t>()[at]), static_cast<std::uint64_t>(values[src]));
      }
    }
    EXPECT_EQ(ndbridge::read_npy_rows(p, 5, 5).size(), 0u);
    EXPECT_THROW(ndbridge::read_npy_rows(p, 8, 11), ndbridge::UsageError);
  }
}

TEST_F(NpyTest, StreamsRoundTrip) {
  const auto values = iota(6);
  std::stringstream s;
  ndbridge::write_npy(s, ArrayView::contiguous(values.data(), DType::of<std::int32_t>(), {6}));
  const std::string bytes = s.str();
  std::istringstream in(bytes);
  const Array a = ndbridge::read_npy(in, "memory");
  EXPECT_EQ(std::memcmp(a.bytes(), values.data(), 24), 0);
  std::istringstream in2(bytes);
  const Array r = ndbridge::read_npy_rows(in2, 2, 4, "memory");
  EXPECT_EQ(r.data<std::int32_t>()[0], 2);
  std::istringstream in3(bytes);
  const auto h = ndbridge::read_npy_header(in3, "memory");
  EXPECT_EQ(h.data_offset, 128u);
  EXPECT_EQ(static_cast<std::uint64_t>(in3.tellg()), 128u);
}

TEST_F(NpyTest, FailedWriteLeavesNothingBehind) {
  const auto values = iota(4);
  EXPECT_THROW(ndbridge::write_npy(path("missing-dir") / "x.npy",
                                   ArrayView::contiguous(values.data(), DType::of<std::int32_t>(), {4})),
               ndbridge::FileError);
  EXPECT_TRUE(fs::is_empty(dir_));
  ndbridge::write_npy(path("ok.npy"), ArrayView::contiguous(values.data(), DType::of<std::int32_t>(), {4}));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(NpyTest, ErrorsNameTheFile) {
  const auto missing = path("nope.npy");
  try {
    ndbridge::read_npy(missing);
    FAIL();
  } catch (const ndbridge::FileError& e) {
    EXPECT_EQ(e.errno_value(), ENOENT);
    EXPECT_NE(std::string(e.what()).find("nope.npy"), std::string::npos);
  }
  // The deprecated alias IOError catches it too.
  EXPECT_THROW(ndbridge::read_npy(missing), ndbridge::IOError);
  const auto values = iota(100);
  const auto p = path("short.npy");
  ndbridge::write_npy(p, ArrayView::contiguous(values.data(), DType::of<std::int32_t>(), {100}));
  const std::string whole = read_bytes(p);
  write_bytes(p, whole.substr(0, whole.size() - 1));
  for (auto read : {+[](const fs::path& f) { ndbridge::read_npy(f); },
                    +[](const fs::path& f) { ndbridge::map_npy(f); },
                    +[](const fs::path& f) { ndbridge::read_npy_rows(f, 0, 1); }}) {
    try {
      read(p);
      FAIL();
    } catch (const ndbridge::FormatError& e) {
      EXPECT_NE(std::string(e.what()).find("short.npy"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
    }
  }
}

TEST_F(NpyTest, LyingShapeNeverAllocates) {
  // A header claiming 2**60 float64 elements in a tiny file.
  const auto p = path("liar.npy");
  std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (1152921504606846976,), }";
  dict.append(64 - (10 + dict.size() + 1) % 64, ' ');
  dict += '\n';
  std::string file("\x93NUMPY\x01\x00", 8);
  file += static_cast<char>(dict.size() & 0xff);
  file += static_cast<char>(dict.size() >> 8);
  write_bytes(p, file + dict + "12345678");
  EXPECT_THROW(ndbridge::read_npy(p), ndbridge::FormatError);
  EXPECT_THROW(ndbridge::map_npy(p), ndbridge::FormatError);
  std::ifstream in(p, std::ios::binary);
  EXPECT_THROW(ndbridge::read_npy(in, "liar"), ndbridge::FormatError);
}

// map_npy_rows maps only the pages that hold the rows asked for.
TEST_F(NpyTest, MapRowsMapsJustThoseRows) {
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  const std::vector<std::int32_t> values = iota(3000 * 7);  // rows of 28 bytes, across pages
  const fs::path p = path("rows.npy");
  ndbridge::write_npy(p, ArrayView::contiguous(values.data(), DType::of<std::int32_t>(), {3000, 7}));
  for (const auto& [start, stop] : {std::pair<std::uint64_t, std::uint64_t>{0, 1}, {1, 2}, {145, 1462},
                                    {2999, 3000}, {0, 3000}, {700, 700}}) {
    const Array rows = ndbridge::map_npy_rows(p, start, stop);
    ASSERT_EQ(rows.shape(), (ndbridge::Shape{stop - start, 7}));
    if (stop == start) continue;
    EXPECT_FALSE(rows.writable());
    EXPECT_EQ(std::memcmp(rows.bytes(), values.data() + start * 7, (stop - start) * 28), 0) << start;
    // Mapped, not copied: the rows sit at their file offset within a page.
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(rows.bytes()) % page, (128 + start * 28) % page);
  }
  EXPECT_THROW(ndbridge::map_npy_rows(p, 2, 3001), ndbridge::UsageError);
  // Fortran order: the rows are not contiguous in the file; they are read.
  const fs::path f = path("fortran.npy");
  ndbridge::write_npy(f, ArrayView::contiguous(values.data(), DType::of<std::int32_t>(), {3000, 7}, ndbridge::MemoryOrder::Fortran));
  const Array fortran = ndbridge::map_npy_rows(f, 10, 12);
  EXPECT_TRUE(fortran.fortran_order());
  EXPECT_EQ(fortran.data<std::int32_t>()[0], 10);
  EXPECT_EQ(fortran.data<std::int32_t>()[1], 11);
  EXPECT_EQ(fortran.data<std::int32_t>()[2], 3010);
}
