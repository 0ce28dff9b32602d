// Many threads reading .npy, .npz and HDF5 files at once, the same files and
// different ones, through shared readers and their own: every result must be
// exact. (test_h5.cpp has the HDF5-only cases.) Under -DNDBRIDGE_SANITIZE=ON
// this also runs with AddressSanitizer watching.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ndbridge/config.hpp"
#if NDBRIDGE_WITH_HDF5
#include "detail/h5_guard.hpp"
#include "ndbridge/h5.hpp"
#endif
#include "ndbridge/npy.hpp"
#include "ndbridge/npz.hpp"
#include "scratch_dir.hpp"

using ndbridge::Array;
using ndbridge::ArrayView;
using ndbridge::DType;
using ndbridge::Shape;

namespace {

class ConcurrencyTest : public ndbridge::testing::ScratchDirTest {};

struct Fixture {
  std::string name;
  DType dtype;
  Shape shape;
  std::vector<std::byte> data;

  std::uint64_t row_bytes() const { return data.size() / shape[0]; }
  ArrayView view() const { return ArrayView::contiguous(data.data(), dtype, shape); }
};

// Distinct, position-dependent bytes, so that a row from the wrong place or
// file never passes for the right one.
Fixture make(const std::string& name, const char* descr, Shape shape, std::uint32_t seed) {
  Fixture f{name, DType::from_descr(descr), shape, {}};
  std::uint64_t n = f.dtype.itemsize();
  for (const auto d : shape) n *= d;
  f.data.resize(n);
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& b : f.data) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b = static_cast<std::byte>(x);
  }
  return f;
}

std::string bytes_of(const Array& a) {
  return std::string(reinterpret_cast<const char*>(a.bytes()), static_cast<std::size_t>(a.nbytes()));
}

std::string rows_of(const Fixture& f, std::uint64_t start, std::uint64_t stop) {
  return std::string(reinterpret_cast<const char*>(f.data.data()) + start * f.row_bytes(),
                     (stop - start) * f.row_bytes());
}

}  // namespace

TEST_F(ConcurrencyTest, ThreadsReadNpyNpzAndH5AtOnce) {
  // One .npy above the size at which a single read is split between threads
  // itself (64 MiB), so threads inside threads are exercised too.
  std::vector<Fixture> npys = {
      make("big.npy", "<u2", {33 << 10, 1 << 10}, 1),  // 66 MiB
      make("f8.npy", "<f8", {4000, 17}, 2),
      make("be.npy", ">i4", {2500, 3, 7}, 3),
      make("u1.npy", "|u1", {10000, 5}, 4),
  };
  for (const auto& f : npys) ndbridge::write_npy(path(f.name), f.view());
  std::vector<Fixture> members = {make("a", "<i8", {3000, 4}, 5), make("b", "<c8", {1000, 9}, 6),
                                  make("c", "|b1", {4096}, 7)};
  for (auto& b : members[2].data) b = static_cast<std::byte>(static_cast<unsigned>(b) & 1u);
  std::vector<std::pair<std::string, ArrayView>> views;
  for (const auto& m : members) views.emplace_back(m.name, m.view());
  ndbridge::write_npz(path("stored.npz"), views, ndbridge::NpzCompression::Stored);
  ndbridge::write_npz(path("deflated.npz"), views, ndbridge::NpzCompression::Deflated);
#if NDBRIDGE_WITH_HDF5
  {
    ndbridge::H5Writer writer(path("mixed.h5"));
    ndbridge::H5DatasetOptions gzip;
    gzip.chunks = Shape{100, 4};
    gzip.compression = ndbridge::H5Compression::Gzip;
    writer.write("a", members[0].view(), gzip);
    ndbridge::H5DatasetOptions lzf;
    lzf.chunks = Shape{64, 9};
    lzf.compression = ndbridge::H5Compression::Lzf;
    writer.write("g/b", members[1].view(), lzf);
    writer.write("f8", npys[1].view());
    writer.commit();
  }
#endif

  // Readers shared by every thread, next to the ones each thread opens.
  const ndbridge::NpzReader shared_npz(path("deflated.npz"));
#if NDBRIDGE_WITH_HDF5
  const ndbridge::H5File shared_h5 = ndbridge::H5File::open(path("mixed.h5"));
#endif
  const Array shared_map = ndbridge::map_npy(path("f8.npy"));

  std::mutex failures_mutex;
  std::vector<std::string> failures;
  std::atomic<int> checks{0};
  auto expect = [&](bool ok, const std::string& what) {
    ++checks;
    if (ok) return;
    const std::lock_guard<std::mutex> lock(failures_mutex);
    failures.push_back(what);
  };

  constexpr int kThreads = 6;
  constexpr int kRounds = 4;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        for (int round = 0; round < kRounds; ++round) {
          const auto pick = [&](std::uint64_t n, int salt) {
            const auto start = static_cast<std::uint64_t>(t * 131 + round * 29 + salt * 7) % (n - 1);
            return std::make_pair(start, std::min(n, start + 1 + static_cast<std::uint64_t>(t + round)));
          };
          // Every thread starts on a different .npy, then reads all of them.
          for (std::size_t k = 0; k < npys.size(); ++k) {
            const Fixture& f = npys[(k + static_cast<std::size_t>(t)) % npys.size()];
            if (f.name != "big.npy" || round < 2) {  // the big one: twice per thread
              const Array whole = ndbridge::read_npy(path(f.name));
              expect(whole.dtype() == f.dtype && whole.shape() == f.shape &&
                         bytes_of(whole) == rows_of(f, 0, f.shape[0]),
                     f.name + " whole");
            }
            const auto [lo, hi] = pick(f.shape[0], static_cast<int>(k));
            expect(bytes_of(ndbridge::read_npy_rows(path(f.name), lo, hi)) == rows_of(f, lo, hi),
                   f.name + " rows");
            const Array mapped = ndbridge::map_npy(path(f.name));
            expect(std::memcmp(mapped.bytes() + lo * f.row_bytes(), f.data.data() + lo * f.row_bytes(),
                               (hi - lo) * f.row_bytes()) == 0,
                   f.name + " map");
          }
          for (const auto& m : members) {
            expect(bytes_of(shared_npz.read(m.name)) == rows_of(m, 0, m.shape[0]), "shared npz " + m.name);
#if NDBRIDGE_WITH_HDF5
            if (m.name == "c") continue;  // not in the HDF5 file
            const auto [lo, hi] = pick(m.shape[0], 3);
            expect(bytes_of(shared_h5.read_rows(m.name == "b" ? "g/b" : m.name, lo, hi)) == rows_of(m, lo, hi),
                   "shared h5 " + m.name);
#endif
          }
          const ndbridge::NpzArrays stored = ndbridge::read_npz(path("stored.npz"));
          for (std::size_t k = 0; k < members.size(); ++k) {
            expect(stored[k].first == members[k].name &&
                       bytes_of(stored[k].second) == rows_of(members[k], 0, members[k].shape[0]),
                   "stored npz " + members[k].name);
          }
#if NDBRIDGE_WITH_HDF5
          const ndbridge::H5File own = ndbridge::H5File::open(path("mixed.h5"));
          expect(bytes_of(own.read("f8")) == rows_of(npys[1], 0, npys[1].shape[0]), "own h5 f8");
#endif
          const auto [lo, hi] = pick(npys[1].shape[0], 5);
          expect(std::memcmp(shared_map.bytes() + lo * npys[1].row_bytes(),
                             npys[1].data.data() + lo * npys[1].row_bytes(), (hi - lo) * npys[1].row_bytes()) == 0,
                 "shared map");
        }
      } catch (const std::exception& e) {
        const std::lock_guard<std::mutex> lock(failures_mutex);
        failures.push_back("thread " + std::to_string(t) + ": " + e.what());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_TRUE(failures.empty()) << failures.size() << " failures, first: " << failures.front();
  // Per round: 4 files x 3 reads (the big file's whole read only in 2 rounds),
  // 3 shared .npz members and 2 shared HDF5 reads, 3 stored members, 1 own
  // HDF5 read, 1 shared map.
  const int h5_reads = NDBRIDGE_WITH_HDF5 ? 2 + 1 : 0;
  const int per_round = 12 + 3 + 3 + 1 + h5_reads;
  EXPECT_EQ(checks.load(), kThreads * (kRounds * per_round - (kRounds - 2)));
}

#if NDBRIDGE_WITH_HDF5
// With a libhdf5 that is not thread-safe, ndbridge serialises its HDF5
// calls: forced here (the libhdf5 of the test legs is thread-safe), a read
// waits while another thread is inside libhdf5, and reads from many threads
// at once are still exact.
TEST_F(ConcurrencyTest, SerialisesHdf5WhenLibhdf5IsNotThreadSafe) {
  EXPECT_EQ(ndbridge::hdf5_threadsafe(), ndbridge::detail::h5_library_threadsafe());
  const Fixture f = make("a", "<i4", {500, 8}, 9);
  {
    ndbridge::H5Writer writer(path("s.h5"));
    ndbridge::H5DatasetOptions gzip;
    gzip.chunks = Shape{16, 8};
    gzip.compression = ndbridge::H5Compression::Gzip;
    writer.write("gz", f.view(), gzip);
    writer.write("plain", f.view());
    writer.commit();
  }
  const ndbridge::H5File file = ndbridge::H5File::open(path("s.h5"));
  struct Reset {
    ~Reset() { ndbridge::detail::h5_force_serialised_for_testing(false); }
  } reset;
  ndbridge::detail::h5_force_serialised_for_testing(true);
  ASSERT_TRUE(ndbridge::detail::h5_serialised());

  std::atomic<bool> done{false};
  std::thread reader;
  {
    const ndbridge::detail::H5Guard inside;  // this thread is "in libhdf5"
    reader = std::thread([&] {
      (void)file.read_rows("gz", 0, 10);
      done = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_FALSE(done.load()) << "a read ran while another thread held the HDF5 lock";
  }
  reader.join();
  EXPECT_TRUE(done.load());

  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        const auto start = static_cast<std::uint64_t>((t * 37 + round * 11) % 480);
        if (bytes_of(file.read_rows(t % 2 ? "gz" : "plain", start, start + 20)) != rows_of(f, start, start + 20)) {
          ++wrong;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}
#endif
