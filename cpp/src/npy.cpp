#include "ndbridge/npy.hpp"

#include <algorithm>
#include <cstring>
#include <istream>
#include <ostream>
#include <vector>

#include "detail/allocate.hpp"
#include "detail/atomic_output.hpp"
#include "detail/byte_order.hpp"
#include "detail/file.hpp"
#include "detail/mapping.hpp"
#include "detail/npy_codec.hpp"
#include "detail/npy_header.hpp"
#include "detail/row_gather.hpp"
#include "detail/source.hpp"
#include "ndbridge/error.hpp"

namespace ndbridge {

namespace {

using detail::File;
using detail::FileSource;
using detail::StreamSource;

// Numpy's own alignment for the data that follows the header.
constexpr std::size_t kAlign = 64;
// numpy.save pads the header so the length along the growth axis can be
// rewritten in place; 21 is len(str(8 * 2**64 - 1)).
constexpr std::size_t kGrowthAxisMaxDigits = 21;

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
  return detail::read_header(src, head, true);
}

NpyHeader read_npy_header(std::istream& in, const std::string& name) {
  StreamSource src(in, name);
  std::vector<std::byte> head;
  return detail::read_header(src, head, true);
}

Array read_npy(const std::filesystem::path& path) {
  const File file = File::open_read(path);
  FileSource src(file);
  std::vector<std::byte> head;
  const NpyHeader h = detail::read_header(src, head, false);
  detail::check_complete(src, h);
  return detail::read_all(src, h, head);
}

Array read_npy(std::istream& in, const std::string& name) {
  StreamSource src(in, name);
  std::vector<std::byte> head;
  const NpyHeader h = detail::read_header(src, head, true);
  if (!src.seekable()) return detail::read_unsized(src, h, head);
  detail::check_complete(src, h);
  return detail::read_all(src, h, head);
}

Array read_npy_rows(const std::filesystem::path& path, std::uint64_t start, std::uint64_t stop) {
  const File file = File::open_read(path);
  FileSource src(file);
  std::vector<std::byte> head;
  const NpyHeader h = detail::read_header(src, head, false);
  detail::check_complete(src, h);
  return detail::read_rows(src, h, head, start, stop);
}

Array read_npy_rows(std::istream& in, std::uint64_t start, std::uint64_t stop,
                    const std::string& name) {
  StreamSource src(in, name);
  if (!src.seekable()) throw UsageError(name + ": reading a row range needs a seekable stream");
  std::vector<std::byte> head;
  const NpyHeader h = detail::read_header(src, head, true);
  detail::check_complete(src, h);
  return detail::read_rows(src, h, head, start, stop);
}

Array map_npy(const std::filesystem::path& path) {
  const File file = File::open_read(path);
  FileSource src(file);
  std::vector<std::byte> head;
  const NpyHeader h = detail::read_header(src, head, false);
  // A mapping past the end of the file would fault on access (SIGBUS), so a
  // short file must be refused here, while it is still an error.
  detail::check_complete(src, h);
  auto mapping = detail::Mapping::map(file, *src.size());
  auto* data = const_cast<std::byte*>(mapping->data()) + h.data_offset;
  return Array(h.dtype, h.shape, h.order(), std::move(mapping), data, Access::ReadOnly);
}

Array map_npy_rows(const std::filesystem::path& path, std::uint64_t start, std::uint64_t stop) {
  const File file = File::open_read(path);
  FileSource src(file);
  std::vector<std::byte> head;
  const NpyHeader h = detail::read_header(src, head, false);
  detail::check_complete(src, h);
  check_row_range(h.shape, start, stop, file.name());
  if (h.fortran_order && h.shape.size() > 1) return detail::read_rows(src, h, head, start, stop);
  Shape shape = h.shape;
  shape[0] = stop - start;
  const std::uint64_t row_bytes = h.shape[0] == 0 ? 0 : h.data_bytes / h.shape[0];
  const std::uint64_t length = (stop - start) * row_bytes;
  if (length == 0) return Array::uninitialized(h.dtype, shape, h.order());
  const std::uint64_t first = h.data_offset + start * row_bytes;
  auto mapping = detail::Mapping::map(file, first, length);
  return Array(h.dtype, shape, h.order(), mapping, mapping->at(first), Access::ReadOnly);
}

Array read_npy_rows(const std::filesystem::path& path, RowIndices indices) {
  return NpyReader(path).read_rows(indices);
}

// NpyReader -----------------------------------------------------------------

struct NpyReader::Impl {
  Impl(const std::filesystem::path& path, NpyAccess how) : file(File::open_read(path)), access(how) {
    FileSource src(file);
    header = detail::read_header(src, head, false);
    detail::check_complete(src, header);
    if (access == NpyAccess::Map && file.size_at_open() > 0) {
      mapping = detail::Mapping::map(file, file.size_at_open());
    }
  }

  detail::StoredLayout layout() const {
    return {header.shape, header.dtype.itemsize(), header.fortran_order, header.data_offset};
  }

  // Copies file bytes into `out`, from the map or with pread.
  void fetch(std::byte* out, std::uint64_t from, std::uint64_t bytes) const {
    if (mapping) {
      std::memcpy(out, mapping->data() + from, static_cast<std::size_t>(bytes));
      return;
    }
    if (file.read_at(out, static_cast<std::size_t>(bytes), from) != bytes) {
      throw FormatError(file.name() + ": the file ends inside the array's data (it shrank after it was opened)");
    }
  }

  void gather(const std::vector<std::uint64_t>& rows, bool out_fortran, std::byte* out) const {
    detail::run_plan(detail::plan_rows(layout(), rows, out_fortran, detail::ReadOrder::Request), out,
                     [this](std::byte* o, std::uint64_t from, std::uint64_t n) { fetch(o, from, n); });
  }

  File file;
  NpyAccess access;
  NpyHeader header;
  std::vector<std::byte> head;  // the first bytes read, which may hold small files' data
  std::shared_ptr<detail::Mapping> mapping;  // NpyAccess::Map, unless the file is empty
};

NpyReader::NpyReader(const std::filesystem::path& path, NpyAccess access)
    : impl_(std::make_unique<Impl>(path, access)) {}
NpyReader::NpyReader(NpyReader&&) noexcept = default;
NpyReader& NpyReader::operator=(NpyReader&&) noexcept = default;
NpyReader::~NpyReader() = default;

const NpyHeader& NpyReader::header() const noexcept { return impl_->header; }

NpyAccess NpyReader::access() const noexcept { return impl_->access; }

Array NpyReader::read() const {
  const NpyHeader& h = impl_->header;
  if (impl_->mapping) {
    auto* data = impl_->mapping->at(h.data_offset);
    return Array(h.dtype, h.shape, h.order(), impl_->mapping, data, Access::ReadOnly);
  }
  FileSource src(impl_->file);
  return detail::read_all(src, h, impl_->head);
}

Array NpyReader::read_rows(std::uint64_t start, std::uint64_t stop) const {
  const NpyHeader& h = impl_->header;
  check_row_range(h.shape, start, stop, impl_->file.name());
  if (!impl_->mapping || stop == start) {
    FileSource src(impl_->file);
    return detail::read_rows(src, h, impl_->head, start, stop);
  }
  Shape shape = h.shape;
  shape[0] = stop - start;
  if (h.fortran_order && h.shape.size() > 1) {
    Array out = detail::allocate_for(h.dtype, shape, true, impl_->file.name());
    detail::run_plan(detail::plan_range(impl_->layout(), start, stop, true), out.mutable_bytes(),
                     [this](std::byte* o, std::uint64_t from, std::uint64_t n) { impl_->fetch(o, from, n); });
    return out;
  }
  const std::uint64_t row_bytes = h.shape[0] == 0 ? 0 : h.data_bytes / h.shape[0];
  auto* data = impl_->mapping->at(h.data_offset + start * row_bytes);
  return Array(h.dtype, shape, h.order(), impl_->mapping, data, Access::ReadOnly);
}

Array NpyReader::read_rows(RowIndices indices) const {
  const NpyHeader& h = impl_->header;
  const std::vector<std::uint64_t> rows = detail::resolve_rows(indices, h.shape, impl_->file.name());
  Array out = detail::allocate_for(h.dtype, detail::picked_shape(h.shape, rows.size()), h.fortran_order,
                                   impl_->file.name());
  if (out.nbytes() != 0) impl_->gather(rows, h.fortran_order, out.mutable_bytes());
  return out;
}

void NpyReader::read_rows_into(RowIndices indices, void* buffer, std::uint64_t size) const {
  const NpyHeader& h = impl_->header;
  const std::vector<std::uint64_t> rows = detail::resolve_rows(indices, h.shape, impl_->file.name());
  if (detail::buffer_bytes(h.shape, rows.size(), h.dtype.itemsize(), size, impl_->file.name()) != 0) {
    impl_->gather(rows, false, static_cast<std::byte*>(buffer));
  }
}

void NpyReader::read_rows_into(RowIndices indices, void* buffer, std::uint64_t size, const DType& as) const {
  const DType& stored = impl_->header.dtype;
  detail::check_readable_as(stored, as, impl_->file.name());
  read_rows_into(indices, buffer, size);
  detail::convert_byte_order(stored, as, buffer, size);
}

std::string make_npy_header(const DType& dtype, const Shape& shape, bool fortran_order) {
  return make_npy_header(dtype, shape, fortran_order ? MemoryOrder::Fortran : MemoryOrder::C);
}

std::string make_npy_header(const DType& dtype, const Shape& shape, MemoryOrder order) {
  const bool fortran_order = order == MemoryOrder::Fortran;
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
  detail::write_npy_to(array, [&file](const void* p, std::size_t n) { file.write_all(p, n); });
  output.commit();
}

void write_npy(std::ostream& out, const ArrayView& array, const std::string& name) {
  detail::write_npy_to(array, [&out, &name](const void* p, std::size_t n) {
    out.write(static_cast<const char*>(p), static_cast<std::streamsize>(n));
    if (!out) throw FileError(name + ": the stream failed while writing", 0);
  });
}

}  // namespace ndbridge
