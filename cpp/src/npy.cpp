#include "ndbridge/npy.hpp"

#include <algorithm>
#include <cstring>
#include <functional>
#include <istream>
#include <limits>
#include <optional>
#include <ostream>
#include <vector>

#include "detail/atomic_output.hpp"
#include "detail/file.hpp"
#include "detail/gather.hpp"
#include "detail/mapping.hpp"
#include "detail/npy_header.hpp"
#include "ndbridge/error.hpp"

namespace ndbridge {

namespace {

using detail::File;

// Numpy's own alignment for the data that follows the header.
constexpr std::size_t kAlign = 64;
// numpy.save pads the header so the length along the growth axis can be
// rewritten in place; 21 is len(str(8 * 2**64 - 1)).
constexpr std::size_t kGrowthAxisMaxDigits = 21;
// One read of this size fetches the header of nearly every file, and the
// whole of a small one, in a single system call.
constexpr std::size_t kFirstRead = 4096;
// Strided data is gathered into C order through a buffer of this size.
constexpr std::size_t kGatherBuffer = std::size_t{16} << 20;

// Random-access bytes: a file, or a seekable stream.
class Source {
 public:
  virtual ~Source() = default;
  /// Reads up to n bytes at offset; fewer only at the end of the data.
  virtual std::size_t read_at(void* buffer, std::size_t n, std::uint64_t offset) = 0;
  /// Total size, when it can be known without reading.
  virtual std::optional<std::uint64_t> size() = 0;
  virtual const std::string& name() const = 0;
};

class FileSource final : public Source {
 public:
  explicit FileSource(const File& file) : file_(file), size_(file.size_at_open()) {}
  std::size_t read_at(void* buffer, std::size_t n, std::uint64_t offset) override {
    return file_.read_at(buffer, n, offset);
  }
  std::optional<std::uint64_t> size() override { return size_; }
  const std::string& name() const override { return file_.name(); }

 private:
  const File& file_;
  std::uint64_t size_;
};

// A stream read from its current position, which counts as offset 0.
class StreamSource final : public Source {
 public:
  StreamSource(std::istream& in, std::string name) : in_(in), name_(std::move(name)) {
    base_ = in_.tellg();
  }
  bool seekable() const { return base_ != std::streampos(-1); }
  std::size_t read_at(void* buffer, std::size_t n, std::uint64_t offset) override {
    if (seekable()) {
      in_.clear();
      in_.seekg(base_ + static_cast<std::streamoff>(offset));
    } else if (offset != consumed_) {
      throw UsageError(name_ + ": the stream cannot seek, so it can only be read in order");
    }
    std::size_t done = 0;
    auto* out = static_cast<char*>(buffer);
    while (done < n && in_) {
      const auto want = static_cast<std::streamsize>(
          std::min<std::size_t>(n - done, static_cast<std::size_t>(std::numeric_limits<int>::max())));
      in_.read(out + done, want);
      done += static_cast<std::size_t>(in_.gcount());
    }
    if (in_.bad()) throw IOError(name_ + ": the stream failed while reading", 0);
    consumed_ = offset + done;
    return done;
  }
  std::optional<std::uint64_t> size() override {
    if (!seekable()) return std::nullopt;
    in_.clear();
    in_.seekg(0, std::ios::end);
    const std::streampos end = in_.tellg();
    if (end == std::streampos(-1)) return std::nullopt;
    return static_cast<std::uint64_t>(end - base_);
  }
  const std::string& name() const override { return name_; }

 private:
  std::istream& in_;
  std::string name_;
  std::streampos base_;
  std::uint64_t consumed_ = 0;
};

[[noreturn]] void throw_truncated(const std::string& name, const NpyHeader& h,
                                  std::uint64_t available) {
  throw FormatError(name + ": truncated .npy file: the header promises " +
                    std::to_string(h.data_bytes) + " data bytes after offset " +
                    std::to_string(h.data_offset) + ", but only " + std::to_string(available) +
                    " are there");
}

void read_exact(Source& src, std::byte* out, std::size_t n, std::uint64_t offset,
                const NpyHeader& h) {
  const std::size_t got = src.read_at(out, n, offset);
  if (got != n) throw_truncated(src.name(), h, offset + got - h.data_offset);
}

// Reads prefix and dictionary. `head` receives the bytes read so far, which
// for a small file already include the data. With `exact`, nothing past the
// header is read, so a stream is left where the data starts.
NpyHeader read_header(Source& src, std::vector<std::byte>& head, bool exact) {
  const std::string& name = src.name();
  head.resize(exact ? 8 : kFirstRead);
  head.resize(src.read_at(head.data(), head.size(), 0));
  if (exact && head.size() == 8) {
    const std::size_t want = head[6] == std::byte{1} ? 10 : detail::kNpyMaxPrefix;
    head.resize(want);
    head.resize(8 + src.read_at(head.data() + 8, want - 8, 8));
  }
  const detail::NpyPrefix prefix = detail::parse_npy_prefix(head.data(), head.size(), name);
  const std::uint64_t end = prefix.prefix_length + prefix.header_length;
  if (head.size() < end) {
    // Known sizes are checked before allocating; the length is capped anyway.
    const auto total = src.size();
    if (total && *total < end) {
      throw FormatError(name + ": .npy header length " + std::to_string(prefix.header_length) +
                        " runs past the end of the file (" + std::to_string(*total) + " bytes)");
    }
    const std::size_t had = head.size();
    head.resize(static_cast<std::size_t>(end));
    const std::size_t got = src.read_at(head.data() + had, head.size() - had, had);
    if (had + got != end) {
      throw FormatError(name + ": .npy header length " + std::to_string(prefix.header_length) +
                        " runs past the end of the file (" + std::to_string(had + got) +
                        " bytes)");
    }
  }
  NpyHeader header;
  header.version_major = prefix.major;
  header.version_minor = prefix.minor;
  header.data_offset = end;
  const std::string_view text(reinterpret_cast<const char*>(head.data()) + prefix.prefix_length,
                              static_cast<std::size_t>(prefix.header_length));
  detail::parse_npy_dict(text, name, header);
  return header;
}

// Checks, when the size is knowable, that every data byte is there.
void check_complete(Source& src, const NpyHeader& h) {
  if (const auto total = src.size()) {
    const std::uint64_t available = *total - std::min(*total, h.data_offset);
    if (available < h.data_bytes) throw_truncated(src.name(), h, available);
  }
}

// Fills `out` from the data bytes [offset, offset + n) relative to the data
// start, using what the header read already brought in.
void fill(Source& src, const NpyHeader& h, const std::vector<std::byte>& head, std::byte* out,
          std::size_t n, std::uint64_t offset) {
  const std::uint64_t absolute = h.data_offset + offset;
  std::size_t from_head = 0;
  if (absolute < head.size()) {
    from_head = static_cast<std::size_t>(std::min<std::uint64_t>(n, head.size() - absolute));
    std::memcpy(out, head.data() + absolute, from_head);
  }
  if (from_head < n) read_exact(src, out + from_head, n - from_head, absolute + from_head, h);
}

Array read_rows(Source& src, const NpyHeader& h, const std::vector<std::byte>& head,
                std::uint64_t start, std::uint64_t stop) {
  check_row_range(h.shape, start, stop, src.name());
  Shape shape = h.shape;
  shape[0] = stop - start;
  Array out = Array::uninitialized(h.dtype, shape, h.fortran_order);
  if (out.nbytes() == 0) return out;
  const std::uint64_t itemsize = h.dtype.itemsize();
  std::uint64_t row_elements = 1;
  for (std::size_t k = 1; k < h.shape.size(); ++k) row_elements *= h.shape[k];
  std::byte* dst = out.mutable_bytes();
  if (!h.fortran_order || h.shape.size() == 1) {
    fill(src, h, head, dst, static_cast<std::size_t>(out.nbytes()), start * row_elements * itemsize);
  } else {
    // Column-major: the selected rows are one run inside each column.
    const std::uint64_t run = (stop - start) * itemsize;
    for (std::uint64_t j = 0; j < row_elements; ++j) {
      fill(src, h, head, dst + j * run, static_cast<std::size_t>(run),
           (j * h.shape[0] + start) * itemsize);
    }
  }
  return out;
}

Array read_all(Source& src, const NpyHeader& h, const std::vector<std::byte>& head) {
  Array out = Array::uninitialized(h.dtype, h.shape, h.fortran_order);
  if (out.nbytes() > 0) fill(src, h, head, out.mutable_bytes(), static_cast<std::size_t>(out.nbytes()), 0);
  return out;
}

// A stream that cannot tell its size might be lying about a huge array:
// collect what actually arrives in bounded blocks, allocate once it is all
// there.
Array read_unsized(Source& src, const NpyHeader& h, const std::vector<std::byte>& head) {
  constexpr std::size_t kBlock = std::size_t{64} << 20;
  std::vector<std::vector<std::byte>> blocks;
  std::uint64_t have = 0;
  if (head.size() > h.data_offset) {
    const auto extra = static_cast<std::size_t>(
        std::min<std::uint64_t>(head.size() - h.data_offset, h.data_bytes));
    blocks.emplace_back(head.begin() + static_cast<std::ptrdiff_t>(h.data_offset),
                        head.begin() + static_cast<std::ptrdiff_t>(h.data_offset + extra));
    have = extra;
  }
  while (have < h.data_bytes) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(kBlock, h.data_bytes - have));
    std::vector<std::byte> block(want);
    const std::size_t got = src.read_at(block.data(), want, h.data_offset + have);
    have += got;
    if (got < want) throw_truncated(src.name(), h, have);
    blocks.push_back(std::move(block));
  }
  Array out = Array::uninitialized(h.dtype, h.shape, h.fortran_order);
  std::byte* dst = out.nbytes() ? out.mutable_bytes() : nullptr;
  for (const auto& block : blocks) {
    std::memcpy(dst, block.data(), block.size());
    dst += block.size();
  }
  return out;
}

using Sink = detail::ByteSink;

void write_elements(const ArrayView& a, const Sink& sink) {
  // Fortran-ordered data goes out as it is: the header says fortran_order.
  if (a.size() != 0 && a.is_f_contiguous() && !a.is_c_contiguous()) {
    sink(a.data(), static_cast<std::size_t>(a.nbytes()));
    return;
  }
  detail::gather_c_order(a, sink, kGatherBuffer);
}

void write_npy_to(const ArrayView& array, const Sink& sink) {
  const bool fortran = array.is_f_contiguous() && !array.is_c_contiguous();
  const std::string header = make_npy_header(array.dtype(), array.shape(), fortran);
  sink(reinterpret_cast<const std::byte*>(header.data()), header.size());
  write_elements(array, sink);
}

std::string shape_repr(const Shape& shape) {
  std::string out = "(";
  for (std::size_t k = 0; k < shape.size(); ++k) {
    if (k) out += ", ";
    out += std::to_string(shape[k]);
  }
  if (shape.size() == 1) out += ",";
  return out + ")";
}

}  // namespace

NpyHeader read_npy_header(const std::filesystem::path& path) {
  const File file = File::open_read(path);
  FileSource src(file);
  std::vector<std::byte> head;
  return read_header(src, head, true);
}

NpyHeader read_npy_header(std::istream& in, const std::string& name) {
  StreamSource src(in, name);
  std::vector<std::byte> head;
  return read_header(src, head, true);
}

Array read_npy(const std::filesystem::path& path) {
  const File file = File::open_read(path);
  FileSource src(file);
  std::vector<std::byte> head;
  const NpyHeader h = read_header(src, head, false);
  check_complete(src, h);
  return read_all(src, h, head);
}

Array read_npy(std::istream& in, const std::string& name) {
  StreamSource src(in, name);
  std::vector<std::byte> head;
  const NpyHeader h = read_header(src, head, true);
  if (!src.seekable()) return read_unsized(src, h, head);
  check_complete(src, h);
  return read_all(src, h, head);
}

Array read_npy_rows(const std::filesystem::path& path, std::uint64_t start, std::uint64_t stop) {
  const File file = File::open_read(path);
  FileSource src(file);
  std::vector<std::byte> head;
  const NpyHeader h = read_header(src, head, false);
  check_complete(src, h);
  return read_rows(src, h, head, start, stop);
}

Array read_npy_rows(std::istream& in, std::uint64_t start, std::uint64_t stop,
                    const std::string& name) {
  StreamSource src(in, name);
  if (!src.seekable()) throw UsageError(name + ": reading a row range needs a seekable stream");
  std::vector<std::byte> head;
  const NpyHeader h = read_header(src, head, true);
  check_complete(src, h);
  return read_rows(src, h, head, start, stop);
}

Array map_npy(const std::filesystem::path& path) {
  const File file = File::open_read(path);
  FileSource src(file);
  std::vector<std::byte> head;
  const NpyHeader h = read_header(src, head, false);
  // A mapping past the end of the file would fault on access (SIGBUS), so a
  // short file must be refused here, while it is still an error.
  check_complete(src, h);
  auto mapping = detail::Mapping::map(file, *src.size());
  auto* data = const_cast<std::byte*>(mapping->data()) + h.data_offset;
  return Array(h.dtype, h.shape, h.fortran_order, std::move(mapping), data, false);
}

std::string make_npy_header(const DType& dtype, const Shape& shape, bool fortran_order) {
  std::string dict = "{'descr': '" + dtype.descr() + "', 'fortran_order': " +
                     (fortran_order ? "True" : "False") + ", 'shape': " + shape_repr(shape) +
                     ", }";
  if (!shape.empty()) {
    const std::size_t digits = std::to_string(fortran_order ? shape.back() : shape.front()).size();
    dict.append(kGrowthAxisMaxDigits - std::min(digits, kGrowthAxisMaxDigits), ' ');
  }
  const std::size_t text = dict.size() + 1;  // with the closing newline
  int major = 1;
  std::size_t prefix = 10;
  std::size_t pad = kAlign - (prefix + text) % kAlign;
  if (text + pad > 0xffff) {
    major = 2;
    prefix = 12;
    pad = kAlign - (prefix + text) % kAlign;
  }
  const std::uint64_t length = text + pad;
  std::string out(detail::kNpyMagic);
  out += static_cast<char>(major);
  out += '\0';
  for (std::size_t k = 0; k < prefix - 8; ++k) out += static_cast<char>((length >> (8 * k)) & 0xff);
  out += dict;
  out.append(pad, ' ');
  out += '\n';
  return out;
}

void write_npy(const std::filesystem::path& path, const ArrayView& array) {
  detail::AtomicOutput output(path);
  File& file = output.file();
  write_npy_to(array, [&file](const std::byte* p, std::size_t n) { file.write_all(p, n); });
  output.commit();
}

void write_npy(std::ostream& out, const ArrayView& array, const std::string& name) {
  write_npy_to(array, [&out, &name](const std::byte* p, std::size_t n) {
    out.write(reinterpret_cast<const char*>(p), static_cast<std::streamsize>(n));
    if (!out) throw IOError(name + ": the stream failed while writing", 0);
  });
}

}  // namespace ndbridge
