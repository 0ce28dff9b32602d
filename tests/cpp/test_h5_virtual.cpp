// Virtual datasets (VDS): a master file whose datasets are stitched from
// shard files, as `ndbridge pack --shards` writes them. The shards are
// written with H5Writer, the master with the HDF5 C API (ndbridge reads VDS
// but does not write them); sources are named relative to the master.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

#include "ndbridge/error.hpp"
#include "ndbridge/h5.hpp"
#include "scratch_dir.hpp"

namespace fs = std::filesystem;
using ndbridge::Array;
using ndbridge::ArrayView;
using ndbridge::DType;
using ndbridge::H5File;
using ndbridge::H5Object;
using ndbridge::H5Writer;
using ndbridge::Shape;

namespace {

constexpr std::uint64_t kColumns = 3;
const std::vector<std::uint64_t> kShardRows = {4, 1, 5};

// Element (row, column) of the whole, unsharded array.
std::int32_t value(std::uint64_t row, std::uint64_t column) {
  return static_cast<std::int32_t>(row * 10 + column);
}

std::vector<std::int32_t> rows(std::uint64_t start, std::uint64_t stop) {
  std::vector<std::int32_t> out;
  for (std::uint64_t r = start; r < stop; ++r) {
    for (std::uint64_t c = 0; c < kColumns; ++c) out.push_back(value(r, c));
  }
  return out;
}

std::vector<std::int32_t> elements(const Array& a) {
  const auto* p = a.data<std::int32_t>();
  return std::vector<std::int32_t>(p, p + a.size());
}

// Runs `body` with the working directory set to `dir`, then restores it.
template <typename Body>
void in_directory(const fs::path& dir, Body body) {
  const fs::path saved = fs::current_path();
  fs::current_path(dir);
  try {
    body();
  } catch (...) {
    fs::current_path(saved);
    throw;
  }
  fs::current_path(saved);
}

class H5VirtualTest : public ndbridge::testing::ScratchDirTest {
 protected:
  // Writes <dir>/m.shards/s<i>.h5 with dataset "x" (rows, 3) int32, then
  // <dir>/m.h5 whose "x" maps every shard, by relative name, in order: the
  // whole of each source (as h5py maps one), or with `hyperslab` a selection
  // of its rows.
  void make(const fs::path& dir, bool hyperslab = false) {
    fs::create_directories(dir / "m.shards");
    std::uint64_t start = 0;
    std::vector<std::string> names;
    for (std::size_t i = 0; i < kShardRows.size(); ++i) {
      const std::string name = "m.shards/s" + std::to_string(i) + ".h5";
      const std::vector<std::int32_t> data = rows(start, start + kShardRows[i]);
      H5Writer writer(dir / name);
      writer.write("x", ArrayView::contiguous(data.data(), DType::of<std::int32_t>(),
                                              {kShardRows[i], kColumns}));
      writer.commit();
      names.push_back(name);
      start += kShardRows[i];
    }
    const hsize_t total = start;
    const hsize_t dims[2] = {total, kColumns};
    const hid_t space = H5Screate_simple(2, dims, nullptr);
    const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hsize_t offset = 0;
    for (std::size_t i = 0; i < names.size(); ++i) {
      const hsize_t source_dims[2] = {kShardRows[i], kColumns};
      const hid_t source = H5Screate_simple(2, source_dims, nullptr);
      const hsize_t origin[2] = {0, 0};
      if (hyperslab) H5Sselect_hyperslab(source, H5S_SELECT_SET, origin, nullptr, source_dims, nullptr);
      const hsize_t at[2] = {offset, 0};
      H5Sselect_hyperslab(space, H5S_SELECT_SET, at, nullptr, source_dims, nullptr);
      ASSERT_GE(H5Pset_virtual(dcpl, space, names[i].c_str(), "x", source), 0);
      H5Sclose(source);
      offset += kShardRows[i];
    }
    H5Sselect_all(space);
    const hid_t file = H5Fcreate((dir / "m.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(file, 0);
    const hid_t dset = H5Dcreate2(file, "x", H5T_STD_I32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ASSERT_GE(dset, 0);
    H5Dclose(dset);
    H5Fclose(file);
    H5Pclose(dcpl);
    H5Sclose(space);
  }

  std::uint64_t total() const {
    return std::accumulate(kShardRows.begin(), kShardRows.end(), std::uint64_t{0});
  }
};

}  // namespace

TEST_F(H5VirtualTest, ReadsWholeAndRowRangesAcrossShardBoundaries) {
  make(dir_);
  const H5File file = H5File::open(path("m.h5"));
  const Array whole = file.read("x");
  EXPECT_EQ(whole.shape(), (Shape{total(), kColumns}));
  EXPECT_EQ(elements(whole), rows(0, total()));
  // Every range, so that every shard boundary is crossed from every side.
  for (std::uint64_t start = 0; start <= total(); ++start) {
    for (std::uint64_t stop = start; stop <= total(); ++stop) {
      EXPECT_EQ(elements(file.read_rows("x", start, stop)), rows(start, stop))
          << "rows " << start << ":" << stop;
    }
  }
  const H5Object info = file.info("/x");
  EXPECT_EQ(info.layout, "virtual");
  EXPECT_FALSE(info.chunks.has_value());
  ASSERT_EQ(info.virtual_sources.size(), kShardRows.size());
  EXPECT_EQ(info.virtual_sources[1].file, "m.shards/s1.h5");
  EXPECT_EQ(info.virtual_sources[1].dataset, "x");
  EXPECT_EQ(fs::canonical(info.virtual_sources[1].found), fs::canonical(path("m.shards/s1.h5")));
}

TEST_F(H5VirtualTest, SourcesResolveBesideTheMasterWhateverTheWorkingDirectory) {
  make(dir_ / "data");
  fs::create_directories(path("elsewhere"));
  // Opened by a relative name from one folder, read from another.
  in_directory(dir_, [&] {
    const H5File file = H5File::open("data/m.h5");
    in_directory(path("elsewhere"), [&] { EXPECT_EQ(elements(file.read_rows("x", 2, 8)), rows(2, 8)); });
  });
  in_directory(path("elsewhere"), [&] {
    EXPECT_EQ(elements(H5File::open("../data/m.h5").read("x")), rows(0, total()));
  });
  // The master moved together with its shard folder still reads.
  fs::rename(path("data"), path("moved"));
  EXPECT_EQ(elements(H5File::open(path("moved/m.h5")).read_rows("x", 3, 6)), rows(3, 6));
}

TEST_F(H5VirtualTest, MissingShardIsAnErrorNamingIt) {
  make(dir_);
  fs::remove(path("m.shards/s1.h5"));
  const H5File file = H5File::open(path("m.h5"));
  // Listing still works and says which source is gone.
  const H5Object info = file.info("/x");
  ASSERT_EQ(info.virtual_sources.size(), 3u);
  EXPECT_FALSE(info.virtual_sources[0].found.empty());
  EXPECT_TRUE(info.virtual_sources[1].found.empty());
  try {
    file.read_rows("x", 0, 2);  // even rows that live in another shard
    FAIL() << "read a master with a missing shard";
  } catch (const ndbridge::FileError& e) {
    EXPECT_EQ(e.errno_value(), ENOENT);
    const std::string message = e.what();
    EXPECT_NE(message.find("m.h5"), std::string::npos) << message;
    EXPECT_NE(message.find("'m.shards/s1.h5' is missing"), std::string::npos) << message;
  }
}

class H5VirtualSelectionTest : public H5VirtualTest, public ::testing::WithParamInterface<bool> {};

TEST_P(H5VirtualSelectionTest, ShortOrForeignShardIsAFormatError) {
  make(dir_, GetParam());
  EXPECT_EQ(elements(H5File::open(path("m.h5")).read_rows("x", 1, 9)), rows(1, 9));
  {
    const std::vector<std::int32_t> data = rows(0, 2);
    H5Writer writer(path("m.shards/s2.h5"));  // 2 rows where 5 are mapped
    writer.write("x", ArrayView::contiguous(data.data(), DType::of<std::int32_t>(), {2, kColumns}));
    writer.commit();
  }
  try {
    H5File::open(path("m.h5")).read("x");
    FAIL() << "read a master with a truncated shard";
  } catch (const ndbridge::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("'m.shards/s2.h5'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("has 2 elements along axis 0, but 5 are mapped"),
              std::string::npos)
        << e.what();
  }
  {
    const std::vector<std::int32_t> data = rows(0, 5);
    H5Writer writer(path("m.shards/s2.h5"));
    writer.write("y", ArrayView::contiguous(data.data(), DType::of<std::int32_t>(), {5, kColumns}));
    writer.commit();
  }
  EXPECT_THROW(H5File::open(path("m.h5")).read("x"), ndbridge::FormatError);
}

INSTANTIATE_TEST_SUITE_P(WholeOrHyperslabSources, H5VirtualSelectionTest, ::testing::Bool());

TEST_F(H5VirtualTest, EnvironmentPrefixComesFirstAsInHdf5) {
  // HDF5 looks in HDF5_VDS_PREFIX before the master's folder; the check
  // must find the same file HDF5 then reads.
  make(dir_);
  fs::create_directories(path("override/m.shards"));
  fs::copy_file(path("m.shards/s0.h5"), path("override/m.shards/s0.h5"));
  fs::remove(path("m.shards/s0.h5"));
  ASSERT_EQ(::setenv("HDF5_VDS_PREFIX", path("override").c_str(), 1), 0);
  std::vector<std::int32_t> whole;
  EXPECT_NO_THROW(whole = elements(H5File::open(path("m.h5")).read("x")));
  ::unsetenv("HDF5_VDS_PREFIX");
  EXPECT_EQ(whole, rows(0, total()));
  EXPECT_THROW(H5File::open(path("m.h5")).read("x"), ndbridge::FileError);
}
