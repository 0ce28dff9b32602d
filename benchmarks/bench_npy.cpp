// bench_npy: times ndbridge's .npy reader; benchmarks/run.py drives it.
//
//   bench_npy read FILE REPEAT          read_npy of one file
//   bench_npy map  FILE REPEAT [CALLS]  map_npy of one file, CALLS opens per sample
//   bench_npy many DIR  REPEAT          read_npy of every *.npy in DIR, sorted
//   bench_npy npz  FILE REPEAT          read_npz of one archive (every member)
//   bench_npy h5   FILE REPEAT          open FILE, read dataset "x" whole
//   bench_npy h5rows FILE REPEAT [CALLS] open once, then CALLS reads of 100 rows of "x"
//
// Each command makes one untimed warm-up pass, then REPEAT timed samples, and
// prints one JSON line to stdout:
//   {"op": "read", "path": "...", "repeat": 5, "calls": 1,
//    "best_s": ..., "median_s": ..., "bytes": ..., "checksum": ...}
// Times are seconds per call ("many": per file). Errors go to stderr with
// exit status 1; a bad command line gives status 2.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "ndbridge/npy.hpp"
#include "ndbridge/h5.hpp"
#include "ndbridge/npz.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kPageSize = 4096;

// The reader has already written every byte, so reading one byte per page is
// cheap next to the read itself. Its sum goes into the printed checksum, which
// keeps the result observable: an optimizer that could see through read_npy
// (say, with LTO) is not allowed to drop work whose result is printed.
std::uint64_t touch_pages(const ndbridge::Array& array) {
  const std::byte* bytes = array.bytes();
  const std::uint64_t n = array.nbytes();
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < n; i += kPageSize) {
    sum += static_cast<std::uint8_t>(bytes[i]);
  }
  return sum;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Stats {
  double best = 0;
  double median = 0;
};

Stats summarize(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  const std::size_t n = samples.size();
  Stats stats;
  stats.best = samples.front();
  stats.median = n % 2 == 1 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
  return stats;
}

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

struct Result {
  std::string op;
  std::string path;
  int repeat = 0;
  int calls = 1;
  Stats stats;
  std::uint64_t bytes = 0;  // per call
  std::uint64_t files = 0;  // "many" only
  std::uint64_t checksum = 0;
};

Result new_result(const char* op, const fs::path& path, int repeat, int calls = 1) {
  Result r;
  r.op = op;
  r.path = path.string();
  r.repeat = repeat;
  r.calls = calls;
  return r;
}

void print_json(const Result& r) {
  std::printf(
      "{\"op\": %s, \"path\": %s, \"repeat\": %d, \"calls\": %d, \"best_s\": %.9g, "
      "\"median_s\": %.9g, \"bytes\": %llu, \"files\": %llu, \"checksum\": %llu}\n",
      json_string(r.op).c_str(), json_string(r.path).c_str(), r.repeat, r.calls, r.stats.best,
      r.stats.median, static_cast<unsigned long long>(r.bytes),
      static_cast<unsigned long long>(r.files), static_cast<unsigned long long>(r.checksum));
}

Result bench_read(const fs::path& file, int repeat) {
  Result r = new_result("read", file, repeat);
  r.checksum += touch_pages(ndbridge::read_npy(file));
  std::vector<double> samples;
  for (int i = 0; i < repeat; ++i) {
    const auto start = Clock::now();
    const ndbridge::Array array = ndbridge::read_npy(file);
    r.checksum += touch_pages(array);
    samples.push_back(seconds_since(start));
    r.bytes = array.nbytes();
    // Freeing the buffer happens here, outside the timed span, as in run.py's
    // Python timings: the row is about reading, and unmapping 1 GiB is not.
  }
  r.stats = summarize(std::move(samples));
  return r;
}

Result bench_npz(const fs::path& file, int repeat) {
  Result r = new_result("npz", file, repeat);
  for (const auto& [name, array] : ndbridge::read_npz(file)) r.checksum += touch_pages(array);
  std::vector<double> samples;
  for (int i = 0; i < repeat; ++i) {
    const auto start = Clock::now();
    const ndbridge::NpzArrays arrays = ndbridge::read_npz(file);
    r.bytes = 0;
    for (const auto& [name, array] : arrays) {
      r.checksum += touch_pages(array);
      r.bytes += array.nbytes();
    }
    samples.push_back(seconds_since(start));
  }
  r.stats = summarize(std::move(samples));
  return r;
}

Result bench_h5(const fs::path& file, int repeat) {
  Result r = new_result("h5", file, repeat);
  r.checksum += touch_pages(ndbridge::H5File::open(file).read("x"));
  std::vector<double> samples;
  for (int i = 0; i < repeat; ++i) {
    const auto start = Clock::now();
    const ndbridge::Array array = ndbridge::H5File::open(file).read("x");
    r.checksum += touch_pages(array);
    samples.push_back(seconds_since(start));
    r.bytes = array.nbytes();
  }
  r.stats = summarize(std::move(samples));
  return r;
}

// Rows start at a spread of offsets, the same sequence benchmarks/run.py
// uses for the binding and h5py, so all three read the same rows.
constexpr std::uint64_t kRows = 100;

std::uint64_t row_offset(int call, std::uint64_t rows) {
  return (static_cast<std::uint64_t>(call) * 7919u) % (rows - kRows);
}

Result bench_h5rows(const fs::path& file, int repeat, int calls) {
  Result r = new_result("h5rows", file, repeat, calls);
  const ndbridge::H5File h5 = ndbridge::H5File::open(file);
  const std::uint64_t rows = h5.info("x").shape.at(0);
  r.checksum += touch_pages(h5.read_rows("x", 0, kRows));
  std::vector<double> samples;
  for (int i = 0; i < repeat; ++i) {
    const auto start = Clock::now();
    for (int c = 0; c < calls; ++c) {
      const std::uint64_t first = row_offset(c, rows);
      const ndbridge::Array array = h5.read_rows("x", first, first + kRows);
      r.checksum += touch_pages(array);
      r.bytes = array.nbytes();
    }
    samples.push_back(seconds_since(start) / calls);
  }
  r.stats = summarize(std::move(samples));
  return r;
}

Result bench_map(const fs::path& file, int repeat, int calls) {
  Result r = new_result("map", file, repeat, calls);
  r.checksum += ndbridge::map_npy(file).nbytes();
  std::vector<double> samples;
  for (int i = 0; i < repeat; ++i) {
    // One open takes microseconds, below what a single clock reading resolves
    // reliably, so a sample is the mean over many open+close pairs. Nothing is
    // touched: the point is that opening does not depend on the file size.
    const auto start = Clock::now();
    for (int c = 0; c < calls; ++c) {
      const ndbridge::Array array = ndbridge::map_npy(file);
      r.checksum += array.nbytes();
      r.bytes = array.nbytes();
    }
    samples.push_back(seconds_since(start) / calls);
  }
  r.stats = summarize(std::move(samples));
  return r;
}

Result bench_many(const fs::path& dir, int repeat) {
  Result r = new_result("many", dir, repeat);
  // Listing is done once, outside the timing, as run.py does for numpy.
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().extension() == ".npy") {
      files.push_back(entry.path());
    }
  }
  if (files.empty()) {
    throw std::runtime_error(dir.string() + ": no .npy files in this folder");
  }
  std::sort(files.begin(), files.end());
  r.files = files.size();

  std::vector<double> samples;
  for (int i = -1; i < repeat; ++i) {  // i == -1 is the warm-up pass
    std::uint64_t bytes = 0;
    const auto start = Clock::now();
    for (const fs::path& file : files) {
      const ndbridge::Array array = ndbridge::read_npy(file);
      r.checksum += touch_pages(array);
      bytes += array.nbytes();
    }
    const double elapsed = seconds_since(start);
    if (i >= 0) samples.push_back(elapsed / static_cast<double>(files.size()));
    r.bytes = bytes / files.size();
  }
  r.stats = summarize(std::move(samples));
  return r;
}

// Parses a positive count; returns 0 for anything else.
int parse_count(const char* text) {
  try {
    std::size_t used = 0;
    const int value = std::stoi(text, &used);
    return used == std::string(text).size() && value > 0 ? value : 0;
  } catch (const std::exception&) {
    return 0;
  }
}

int usage() {
  std::cerr << "usage: bench_npy read FILE REPEAT\n"
               "       bench_npy map FILE REPEAT [CALLS]\n"
               "       bench_npy many DIR REPEAT\n"
               "       bench_npy npz FILE REPEAT\n"
               "       bench_npy h5 FILE REPEAT\n"
               "       bench_npy h5rows FILE REPEAT [CALLS]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4 || argc > 5) return usage();
  const std::string op = argv[1];
  const fs::path target = argv[2];
  const int repeat = parse_count(argv[3]);
  const int calls = argc == 5 ? parse_count(argv[4]) : 1;
  if (repeat == 0 || calls == 0 || (argc == 5 && op != "map" && op != "h5rows")) return usage();

  try {
    if (op == "read") {
      print_json(bench_read(target, repeat));
    } else if (op == "map") {
      print_json(bench_map(target, repeat, calls));
    } else if (op == "many") {
      print_json(bench_many(target, repeat));
    } else if (op == "npz") {
      print_json(bench_npz(target, repeat));
    } else if (op == "h5") {
      print_json(bench_h5(target, repeat));
    } else if (op == "h5rows") {
      print_json(bench_h5rows(target, repeat, calls));
    } else {
      return usage();
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_npy: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
