// Writing and reading .npz archives in C++ alone. The cross-language round
// trips with numpy and zipfile, and the malformed archives, are in
// tests/python (test_npz.py, test_npz_malformed.py).
#include <gtest/gtest.h>
#include <unistd.h>

#include <complex>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include "ndbridge/npy.hpp"
#include "ndbridge/npz.hpp"

namespace fs = std::filesystem;
using ndbridge::Array;
using ndbridge::ArrayView;
using ndbridge::DType;
using ndbridge::NpzCompression;

namespace {

class NpzTest : public ::testing::TestWithParam<NpzCompression> {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ndbridge-test-npz-" + std::to_string(::getpid()) + "-" +
            std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path path(const std::string& name) const { return dir_ / name; }

  std::string read_bytes(const fs::path& p) const {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  void write_bytes(const fs::path& p, const std::string& bytes) const {
    std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }

  fs::path dir_;
};

std::vector<std::int32_t> iota(std::size_t n) {
  std::vector<std::int32_t> v(n);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

std::string bytes_of(const Array& a) {
  return std::string(reinterpret_cast<const char*>(a.bytes()), static_cast<std::size_t>(a.nbytes()));
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const ndbridge::Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_P(NpzTest, RoundTripKeepsOrderDtypesShapesAndBytes) {
  const auto ints = iota(24);
  const std::vector<double> doubles = {1.5, -2.25, 3.0};
  const std::vector<std::complex<float>> complexes = {{1, 2}, {3, 4}};
  const fs::path p = path("a.npz");
  ndbridge::write_npz(p,
                      {{"ints", ArrayView::contiguous(ints.data(), DType::of<std::int32_t>(), {2, 3, 4})},
                       {"dir/doubles", ArrayView::contiguous(doubles.data(), DType::of<double>(), {3})},
                       {"fortran", ArrayView::contiguous(ints.data(), DType::of<std::int32_t>(), {4, 6}, ndbridge::MemoryOrder::Fortran)},
                       {"scalar", ArrayView::contiguous(complexes.data(), DType::of<std::complex<float>>(), {})},
                       {"empty", ArrayView::contiguous(ints.data(), DType::of<std::int32_t>(), {0, 5})}},
                      GetParam());
  ndbridge::NpzReader reader(p);
  EXPECT_EQ(reader.names(),
            (std::vector<std::string>{"ints", "dir/doubles", "fortran", "scalar", "empty"}));
  EXPECT_TRUE(reader.contains("dir/doubles"));
  EXPECT_FALSE(reader.contains("dir/doubles.npy"));

  const ndbridge::NpzArrays all = reader.read_all();
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all[0].first, "ints");
  EXPECT_EQ(all[0].second.shape(), (ndbridge::Shape{2, 3, 4}));
  EXPECT_EQ(std::vector<std::int32_t>(all[0].second.data<std::int32_t>(),
                                      all[0].second.data<std::int32_t>() + 24),
            ints);
  EXPECT_EQ(all[1].second.data<double>()[1], -2.25);
  EXPECT_TRUE(all[2].second.fortran_order());
  EXPECT_EQ(bytes_of(all[2].second), bytes_of(all[0].second));
  EXPECT_EQ(all[3].second.ndim(), 0u);
  EXPECT_EQ(all[3].second.data<std::complex<float>>()[0], std::complex<float>(1, 2));
  EXPECT_EQ(all[4].second.size(), 0u);

  const Array one = reader.read("dir/doubles");
  EXPECT_EQ(one.data<double>()[2], 3.0);

  const auto members = ndbridge::list_npz(p);
  ASSERT_EQ(members.size(), 5u);
  EXPECT_EQ(members[2].name, "fortran");
  EXPECT_EQ(members[2].dtype, DType::of<std::int32_t>());
  EXPECT_EQ(members[2].shape, (ndbridge::Shape{4, 6}));
  EXPECT_TRUE(members[2].fortran_order);
  EXPECT_EQ(members[0].compressed, GetParam() == NpzCompression::Deflated);
  // Each member holds exactly what write_npy writes.
  ndbridge::write_npy(path("ints.npy"), ArrayView::contiguous(ints.data(), DType::of<std::int32_t>(), {2, 3, 4}));
  EXPECT_EQ(members[0].uncompressed_size, fs::file_size(path("ints.npy")));
  if (GetParam() == NpzCompression::Stored) {
    EXPECT_EQ(members[0].compressed_size, members[0].uncompressed_size);
  }
  // No temporary file is left beside the archive.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 2);
}

TEST_P(NpzTest, StridedViewsAreWrittenInCOrder) {
  const auto base = iota(30);
  // Every other column of a 5x6 int32 array, rows reversed.
  const ArrayView view(reinterpret_cast<const std::byte*>(base.data()) + 24 * 4,
                       DType::of<std::int32_t>(), {5, 3}, {-24, 8});
  ndbridge::write_npz(path("s.npz"), {{"s", view}}, GetParam());
  const Array a = ndbridge::NpzReader(path("s.npz")).read("s");
  EXPECT_FALSE(a.fortran_order());
  const std::int32_t* p = a.data<std::int32_t>();
  EXPECT_EQ((std::vector<std::int32_t>(p, p + 6)), (std::vector<std::int32_t>{24, 26, 28, 18, 20, 22}));
}

TEST_P(NpzTest, EmptyArchive) {
  ndbridge::write_npz(path("e.npz"), {}, GetParam());
  EXPECT_TRUE(ndbridge::read_npz(path("e.npz")).empty());
  EXPECT_TRUE(ndbridge::list_npz(path("e.npz")).empty());
  EXPECT_EQ(fs::file_size(path("e.npz")), 22u);  // just the end record
}

TEST_P(NpzTest, ManyMembersUseZip64EndRecords) {
  // More than 65535 members do not fit the 16-bit counts of the end record.
  const std::uint8_t byte = 7;
  std::vector<std::pair<std::string, ArrayView>> arrays;
  const std::size_t count = 70000;
  for (std::size_t i = 0; i < count; ++i) {
    arrays.emplace_back("m" + std::to_string(i), ArrayView::contiguous(&byte, DType::of<std::uint8_t>(), {1}));
  }
  ndbridge::write_npz(path("many.npz"), arrays, GetParam());
  const std::string bytes = read_bytes(path("many.npz"));
  EXPECT_NE(bytes.find(std::string("PK\x06\x06", 4)), std::string::npos);
  ndbridge::NpzReader reader(path("many.npz"));
  const auto names = reader.names();
  ASSERT_EQ(names.size(), count);
  EXPECT_EQ(names.back(), "m69999");
  EXPECT_EQ(reader.read("m65536").data<std::uint8_t>()[0], 7);
}

TEST_P(NpzTest, MissingMemberNamesTheKeys) {
  const auto ints = iota(3);
  ndbridge::write_npz(path("a.npz"), {{"x", ArrayView::contiguous(ints.data(), DType::of<std::int32_t>(), {3})}},
                      GetParam());
  ndbridge::NpzReader reader(path("a.npz"));
  EXPECT_THROW(reader.read("y"), ndbridge::NotFoundError);
  const std::string message = error_of([&] { reader.read("y"); });
  EXPECT_NE(message.find("a.npz"), std::string::npos) << message;
  EXPECT_NE(message.find("'x'"), std::string::npos) << message;
}

TEST_P(NpzTest, InflateLimit) {
  const std::vector<std::int32_t> zeros(1 << 16, 0);
  const fs::path p = path("z.npz");
  ndbridge::write_npz(p, {{"z", ArrayView::contiguous(zeros.data(), DType::of<std::int32_t>(), {zeros.size()})}},
                      GetParam());
  ndbridge::NpzLimits small;
  small.max_inflated_bytes = 1000;
  if (GetParam() == NpzCompression::Deflated) {
    EXPECT_THROW(ndbridge::read_npz(p, small), ndbridge::FormatError);
    EXPECT_THROW(ndbridge::NpzReader(p, small).read("z"), ndbridge::FormatError);
    const std::string message = error_of([&] { ndbridge::read_npz(p, small); });
    EXPECT_NE(message.find("max_inflated_bytes"), std::string::npos) << message;
  } else {
    EXPECT_EQ(ndbridge::read_npz(p, small).size(), 1u);  // stored bytes are in the file
  }
  // Listing inflates only the header, so it is not limited.
  EXPECT_EQ(ndbridge::NpzReader(p, small).members().size(), 1u);
}

TEST_P(NpzTest, CorruptionIsDetected) {
  const auto ints = iota(1000);
  const fs::path p = path("c.npz");
  ndbridge::write_npz(p, {{"x", ArrayView::contiguous(ints.data(), DType::of<std::int32_t>(), {1000})}},
                      GetParam());
  const std::string good = read_bytes(p);
  // A byte in the middle of the member's data.
  std::string bad = good;
  bad[good.size() / 3] = static_cast<char>(bad[good.size() / 3] ^ 0x55);
  write_bytes(p, bad);
  EXPECT_THROW(ndbridge::read_npz(p), ndbridge::FormatError);
  // Every truncation.
  for (std::size_t cut = 0; cut < good.size(); cut += 7) {
    write_bytes(p, good.substr(0, cut));
    EXPECT_THROW(ndbridge::read_npz(p), ndbridge::FormatError) << "cut at " << cut;
  }
}

TEST_P(NpzTest, ExtractWritesTheMemberAsAnNpyFile) {
  // More than one copy block, so the copy loop runs more than once.
  const auto ints = iota(700000);
  const fs::path p = path("e.npz");
  ndbridge::write_npz(p, {{"x", ArrayView::contiguous(ints.data(), DType::of<std::int32_t>(), {7000, 100})}},
                      GetParam());
  ndbridge::NpzLimits small;
  small.max_inflated_bytes = 1000;  // not held in memory, so not limited
  ndbridge::NpzReader(p, small).extract("x", path("x.npy"));
  const Array copy = ndbridge::read_npy(path("x.npy"));
  EXPECT_EQ(copy.shape(), (ndbridge::Shape{7000, 100}));
  EXPECT_EQ(bytes_of(copy), bytes_of(ndbridge::NpzReader(p).read("x")));

  EXPECT_THROW(ndbridge::NpzReader(p).extract("y", path("y.npy")), ndbridge::NotFoundError);
  EXPECT_FALSE(fs::exists(path("y.npy")));

  // A flipped byte in the data fails the CRC-32 (or the inflate), and no
  // file is left under the name asked for, nor beside it.
  std::string bad = read_bytes(p);
  bad[bad.size() / 2] = static_cast<char>(bad[bad.size() / 2] ^ 0x55);
  write_bytes(p, bad);
  EXPECT_THROW(ndbridge::NpzReader(p).extract("x", path("bad.npy")), ndbridge::FormatError);
  EXPECT_FALSE(fs::exists(path("bad.npy")));
  std::size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir_)) files += entry.is_regular_file() ? 1 : 0;
  EXPECT_EQ(files, 2u);  // e.npz and x.npy
}

INSTANTIATE_TEST_SUITE_P(Compression, NpzTest,
                         ::testing::Values(NpzCompression::Stored, NpzCompression::Deflated),
                         [](const auto& info) {
                           return info.param == NpzCompression::Stored ? "Stored" : "Deflated";
                         });

TEST(NpzWrite, NamingTableSpellings) {
  EXPECT_EQ(NpzCompression::Gzip, NpzCompression::Deflated);
  EXPECT_EQ(NpzCompression::None, NpzCompression::Stored);
  const auto dir = fs::temp_directory_path() / ("ndbridge-test-npz-gzip-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::vector<std::int32_t> zeros(4096, 0);
  ndbridge::write_npz(dir / "g.npz", {{"z", ArrayView::contiguous(zeros.data(), DType::of<std::int32_t>(), {4096})}},
                      NpzCompression::Gzip);
  const auto members = ndbridge::list_npz(dir / "g.npz");
  ASSERT_EQ(members.size(), 1u);
  EXPECT_TRUE(members[0].compressed);
  EXPECT_LT(members[0].compressed_size, members[0].uncompressed_size);
  fs::remove_all(dir);
}

TEST(NpzWrite, RejectsBadNames) {
  const auto dir = fs::temp_directory_path() / ("ndbridge-test-npz-names-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::int32_t value = 1;
  const auto view = ArrayView::contiguous(&value, DType::of<std::int32_t>(), {});
  const fs::path p = dir / "n.npz";
  EXPECT_THROW(ndbridge::write_npz(p, {{"a", view}, {"a", view}}), ndbridge::UsageError);
  EXPECT_THROW(ndbridge::write_npz(p, {{std::string("a\0b", 3), view}}), ndbridge::UsageError);
  EXPECT_THROW(ndbridge::write_npz(p, {{"\xff\xfe", view}}), ndbridge::UsageError);
  EXPECT_FALSE(fs::exists(p));
  EXPECT_TRUE(fs::is_empty(dir));
  fs::remove_all(dir);
}

TEST(NpzRead, NotAnArchive) {
  const auto dir = fs::temp_directory_path() / ("ndbridge-test-npz-not-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::int32_t value = 1;
  ndbridge::write_npy(dir / "x.npy", ArrayView::contiguous(&value, DType::of<std::int32_t>(), {}));
  try {
    ndbridge::read_npz(dir / "x.npy");
    ADD_FAILURE() << "no error";
  } catch (const ndbridge::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("an .npy file, not an .npz"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ndbridge::read_npz(dir / "missing.npz"), ndbridge::FileError);
  fs::remove_all(dir);
}
