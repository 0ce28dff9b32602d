// ndbridge-cat FILE[:DATASET] [--rows A:B] [--raw]: the values of one array.

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>

#include "cli.hpp"
#include "ndbridge/config.hpp"
#include "ndbridge/error.hpp"
#include "ndbridge/format.hpp"
#include "ndbridge/npy.hpp"
#include "ndbridge/npz.hpp"
#include "values.hpp"
#if NDBRIDGE_WITH_HDF5
#include "ndbridge/h5.hpp"
#endif

namespace {

using ndbridge::Array;
using ndbridge::UsageError;
using ndbridge::FileFormat;
using ndbridge::tools::quote_path;

const char usage[] =
    "usage: ndbridge-cat FILE[:DATASET] [--rows A:B] [--raw]\n"
    "\n"
    "Print the values of an array: the .npy file's, or an HDF5 dataset's (the\n"
    "only one if DATASET is left out). 0-d arrays print one value, 1-d arrays\n"
    "one value per line, others one line per innermost row, values separated\n"
    "by spaces in C order, written as Python writes them (True, 3, 0.1, (1+2j),\n"
    "b'raw', 'text').\n"
    "\n"
    "  --rows A:B  only rows A to B-1 of the first axis (A or B may be left out);\n"
    "              only those rows are read\n"
    "  --raw       write the elements' bytes to stdout instead, in C order and the\n"
    "              file's byte order (what numpy's tobytes() gives)\n";

struct Rows {
  std::optional<std::uint64_t> start, stop;
};

std::uint64_t parse_index(const std::string& text, const std::string& spec) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos)
    throw UsageError("--rows '" + spec + "': expected A:B with non-negative integers");
  errno = 0;
  const unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
  if (errno == ERANGE) throw UsageError("--rows '" + spec + "': " + text + " is too large");
  return v;
}

Rows parse_rows(const std::string& spec) {
  const auto colon = spec.find(':');
  if (colon == std::string::npos)
    throw UsageError("--rows '" + spec + "': expected A:B (rows A to B-1)");
  Rows r;
  const std::string a = spec.substr(0, colon), b = spec.substr(colon + 1);
  if (!a.empty()) r.start = parse_index(a, spec);
  if (!b.empty()) r.stop = parse_index(b, spec);
  return r;
}

// The [start, stop) range `rows` asks for on an array whose shape is `shape`.
std::pair<std::uint64_t, std::uint64_t> resolve(const Rows& rows, const ndbridge::Shape& shape,
                                                const std::string& what) {
  if (shape.empty()) throw UsageError(what + ": --rows needs an array with at least one axis, not a 0-d one");
  return {rows.start.value_or(0), rows.stop.value_or(shape[0])};
}

Array read_npy_target(const std::string& path, const std::string& dataset,
                      const std::optional<Rows>& rows) {
  if (!dataset.empty())
    throw UsageError(quote_path(path) + " is an .npy file: it holds one array and no dataset '" + dataset + "'");
  if (!rows) return ndbridge::read_npy(path);
  const auto [start, stop] = resolve(*rows, ndbridge::read_npy_header(path).shape, quote_path(path));
  return ndbridge::read_npy_rows(path, start, stop);
}

Array read_npz_target(const std::string& path, std::string member, const std::optional<Rows>& rows) {
  const ndbridge::NpzReader archive(path);
  if (member.empty()) {
    const auto names = archive.names();
    if (names.size() != 1) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      throw UsageError(quote_path(path) + " holds " + std::to_string(names.size()) +
                       " arrays; name one as FILE:NAME (" + (list.empty() ? "none" : list) + ")");
    }
    member = names.front();
  }
  if (!rows) return archive.read(member);
  // The library checks the range and keeps the member's memory order.
  const auto [start, stop] = resolve(*rows, archive.member(member).shape, quote_path(path) + ":" + member);
  return archive.read_rows(member, start, stop);
}

#if NDBRIDGE_WITH_HDF5
Array read_h5_target(const std::string& path, std::string dataset, const std::optional<Rows>& rows) {
  const auto file = ndbridge::H5File::open(path);
  if (dataset.empty()) {
    std::string names;
    std::size_t count = 0;
    for (const auto& o : file.list()) {
      if (o.kind != ndbridge::H5Object::Kind::Dataset) continue;
      ++count;
      dataset = o.path;
      names += (names.empty() ? "" : ", ") + o.path;
    }
    if (count != 1)
      throw UsageError(quote_path(path) + " holds " + std::to_string(count) +
                       " datasets; name one as FILE:DATASET (" + (names.empty() ? "none" : names) + ")");
  }
  if (!rows) return file.read(dataset);
  const auto [start, stop] = resolve(*rows, file.info(dataset).shape, quote_path(path) + ":" + dataset);
  return file.read_rows(dataset, start, stop);
}
#endif

Array read_target(const std::string& path, const std::string& dataset, const std::optional<Rows>& rows) {
  switch (ndbridge::detect_format(path)) {
    case FileFormat::Npy: return read_npy_target(path, dataset, rows);
    case FileFormat::Hdf5:
#if NDBRIDGE_WITH_HDF5
      return read_h5_target(path, dataset, rows);
#else
      throw ndbridge::UnsupportedError(quote_path(path) + ": this build of ndbridge has no HDF5 support");
#endif
    case FileFormat::Npz: return read_npz_target(path, dataset, rows);
  }
  throw ndbridge::UnsupportedError(quote_path(path) + ": unknown format");
}

// Buffered writes to stdout; reports a failed write (a closed pipe, a full
// disk) as an error rather than exiting 0 with truncated output.
class Out {
 public:
  ~Out() { flush(); }
  void write(const void* data, std::size_t n) {
    buffer_.append(static_cast<const char*>(data), n);
    if (buffer_.size() >= (1u << 20)) flush();
  }
  void write(const std::string& s) { write(s.data(), s.size()); }
  void flush() {
    if (!buffer_.empty() && std::fwrite(buffer_.data(), 1, buffer_.size(), stdout) != buffer_.size())
      failed_ = true;
    buffer_.clear();
    if (std::fflush(stdout) != 0) failed_ = true;
  }
  bool failed() const { return failed_; }

 private:
  std::string buffer_;
  bool failed_ = false;
};

void print_values(Array& array, Out& out) {
  array.to_native_byte_order();
  const ndbridge::ArrayView view = array.view();
  const std::uint64_t row = view.ndim() >= 2 ? view.shape().back() : 1;
  std::uint64_t column = 0;
  ndbridge::tools::for_each_element(view, [&](const std::byte* p) {
    out.write(ndbridge::tools::element_repr(view.dtype(), p));
    out.write(++column == row ? "\n" : " ");
    if (column == row) column = 0;
  });
}

void write_raw(const Array& array, Out& out) {
  const ndbridge::ArrayView view = array.view();
  if (view.is_c_contiguous()) {
    out.write(view.data(), view.nbytes());
    return;
  }
  const std::size_t itemsize = view.dtype().itemsize();
  ndbridge::tools::for_each_element(view, [&](const std::byte* p) { out.write(p, itemsize); });
}

}  // namespace

int main(int argc, char** argv) {
  const ndbridge::tools::Cli cli{"ndbridge-cat", usage};
  std::string target;
  std::optional<Rows> rows;
  bool raw = false;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      if (auto code = cli.standard_option(arg)) return *code;
      if (arg == "--raw") {
        raw = true;
      } else if (arg == "--rows" && i + 1 < argc) {
        rows = parse_rows(argv[++i]);
      } else if (arg.rfind("--rows=", 0) == 0) {
        rows = parse_rows(arg.substr(7));
      } else if (target.empty() && !arg.empty() && arg[0] != '-') {
        target = arg;
      } else {
        return cli.usage_error("unexpected argument '" + arg + "'");
      }
    }
  } catch (const UsageError& e) {
    return cli.usage_error(e.what());
  }
  if (target.empty()) return cli.usage_error("FILE is required");

  // FILE:DATASET — but a file whose own name contains ':' is taken whole.
  std::string path = target, dataset;
  std::error_code ec;
  const auto colon = target.rfind(':');
  if (!std::filesystem::exists(target, ec) && colon != std::string::npos) {
    path = target.substr(0, colon);
    dataset = target.substr(colon + 1);
  }
  return cli.run([&] {
    Array array = read_target(path, dataset, rows);
    Out out;
    if (raw) write_raw(array, out);
    else print_values(array, out);
    out.flush();
    if (!out.failed()) return 0;
    std::fprintf(stderr, "ndbridge-cat: cannot write to stdout: %s\n", std::strerror(errno));
    return 1;
  });
}
