#include "detail/npy_codec.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "detail/allocate.hpp"
#include "detail/gather.hpp"
#include "detail/npy_header.hpp"
#include "ndbridge/error.hpp"

namespace ndbridge::detail {

namespace {

// One read of this size fetches the header of nearly every file, and the
// whole of a small one, in a single system call.
constexpr std::size_t kFirstRead = 4096;
// Strided data is gathered into C order through a buffer of this size.
constexpr std::size_t kGatherBuffer = std::size_t{16} << 20;

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

void write_elements(const ArrayView& a, const Sink& sink) {
  // Fortran-ordered data goes out as it is: the header says fortran_order.
  if (a.size() != 0 && a.is_f_contiguous() && !a.is_c_contiguous()) {
    sink(a.data(), static_cast<std::size_t>(a.nbytes()));
    return;
  }
  gather_c_order(a, [&sink](const std::byte* p, std::size_t n) { sink(p, n); }, kGatherBuffer);
}

}  // namespace

NpyHeader read_header(Source& src, std::vector<std::byte>& head, bool exact) {
  const std::string& name = src.name();
  head.resize(exact ? 8 : kFirstRead);
  head.resize(src.read_at(head.data(), head.size(), 0));
  if (exact && head.size() == 8) {
    const std::size_t want = head[6] == std::byte{1} ? 10 : kNpyMaxPrefix;
    head.resize(want);
    head.resize(8 + src.read_at(head.data() + 8, want - 8, 8));
  }
  const detail::NpyPrefix prefix = parse_npy_prefix(head.data(), head.size(), name);
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
  parse_npy_dict(text, name, header);
  return header;
}

// Checks, when the size is knowable, that every data byte is there.
void check_complete(Source& src, const NpyHeader& h) {
  if (const auto total = src.size()) {
    const std::uint64_t available = *total - std::min(*total, h.data_offset);
    if (available < h.data_bytes) throw_truncated(src.name(), h, available);
  }
}

Array read_rows(Source& src, const NpyHeader& h, const std::vector<std::byte>& head,
                std::uint64_t start, std::uint64_t stop) {
  check_row_range(h.shape, start, stop, src.name());
  Shape shape = h.shape;
  shape[0] = stop - start;
  Array out = allocate_for(h.dtype, shape, h.fortran_order, src.name());
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
  Array out = allocate_for(h.dtype, h.shape, h.fortran_order, src.name());
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
  Array out = allocate_for(h.dtype, h.shape, h.fortran_order, src.name());
  std::byte* dst = out.nbytes() ? out.mutable_bytes() : nullptr;
  for (const auto& block : blocks) {
    std::memcpy(dst, block.data(), block.size());
    dst += block.size();
  }
  return out;
}

void write_npy_to(const ArrayView& array, const Sink& sink) {
  const bool fortran = array.is_f_contiguous() && !array.is_c_contiguous();
  const std::string header =
      make_npy_header(array.dtype(), array.shape(), fortran ? MemoryOrder::Fortran : MemoryOrder::C);
  sink(header.data(), header.size());
  write_elements(array, sink);
}

}  // namespace ndbridge::detail
