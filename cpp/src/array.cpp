#include "ndbridge/array.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <utility>

#include "detail/byte_order.hpp"
#include "detail/utf8.hpp"

namespace ndbridge {

namespace {

// Above this size a buffer comes straight from mmap with transparent huge
// pages requested: the reader then takes one page fault per 2 MiB instead of
// one per 4 KiB, which is most of what separates a fast full read from a slow
// one. Below it the ordinary allocator is faster. There is no fallback to
// 4 KiB pages when huge pages fault slowly (as a host can right after
// another program churned memory): it shortens that worst case but makes
// the usual first read several times slower (benchmarks/reading.py's
// fresh-process table measures it).
constexpr std::size_t kHugeThreshold = std::size_t{8} << 20;
constexpr std::size_t kHugePage = std::size_t{2} << 20;
// Every buffer is at least this aligned, like numpy's and HDF5's.
constexpr std::size_t kAlignment = 64;

std::shared_ptr<const void> allocate_uninitialized(std::size_t n) {
  if (n >= kHugeThreshold) {
    const std::size_t length = n + kHugePage;
    void* base = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) throw std::bad_alloc();
    const auto address = reinterpret_cast<std::uintptr_t>(base);
    const std::uintptr_t aligned = (address + kHugePage - 1) & ~(kHugePage - 1);
    void* start = reinterpret_cast<void*>(aligned);
#ifdef MADV_HUGEPAGE
    ::madvise(start, n, MADV_HUGEPAGE);  // a hint: failure only costs speed
#endif
    return std::shared_ptr<const void>(start, [base, length](const void*) { ::munmap(base, length); });
  }
  void* p = ::operator new(std::max<std::size_t>(n, 1), std::align_val_t(kAlignment));
  return std::shared_ptr<const void>(
      p, [](const void* q) { ::operator delete(const_cast<void*>(q), std::align_val_t(kAlignment)); });
}

std::vector<std::int64_t> dense_strides(const Shape& shape, std::size_t itemsize, bool fortran) {
  std::vector<std::int64_t> strides(shape.size());
  auto step = static_cast<std::int64_t>(itemsize);
  for (std::size_t k = 0; k < shape.size(); ++k) {
    const std::size_t axis = fortran ? k : shape.size() - 1 - k;
    strides[axis] = step;
    step *= static_cast<std::int64_t>(std::max<std::uint64_t>(shape[axis], 1));
  }
  return strides;
}

bool dense_in_order(const ArrayView& view, bool fortran) {
  if (view.size() == 0) return true;
  auto expected = static_cast<std::int64_t>(view.dtype().itemsize());
  for (std::size_t k = 0; k < view.ndim(); ++k) {
    const std::size_t axis = fortran ? k : view.ndim() - 1 - k;
    // Like numpy, a dimension of length 1 may have any stride.
    if (view.shape()[axis] != 1 && view.strides()[axis] != expected) return false;
    expected *= static_cast<std::int64_t>(view.shape()[axis]);
  }
  return true;
}

}  // namespace

std::uint64_t checked_element_count(const Shape& shape, std::size_t itemsize,
                                    const std::string& what) {
  std::uint64_t count = 1;
  bool overflow = false;
  for (const std::uint64_t dim : shape) {
    if (dim == 0) return 0;  // an empty array holds no bytes, whatever the other dims
    if (count > std::numeric_limits<std::uint64_t>::max() / dim) overflow = true;
    count *= dim;
  }
  // Bytes must also be addressable through a signed 64-bit offset (off_t,
  // numpy's intp), hence int64 max rather than uint64 max.
  const auto limit = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (overflow || (itemsize != 0 && count > limit / itemsize)) {
    std::string dims;
    for (const std::uint64_t dim : shape) dims += (dims.empty() ? "" : ", ") + std::to_string(dim);
    throw FormatError(what + ": shape (" + dims + ") with " + std::to_string(itemsize) +
                      "-byte elements overflows 64-bit sizes");
  }
  return count;
}

void check_row_range(const Shape& shape, std::uint64_t start, std::uint64_t stop,
                     const std::string& what) {
  if (shape.empty()) throw UsageError(what + ": a 0-d array has no rows to select");
  if (start > stop || stop > shape[0]) {
    throw UsageError(what + ": rows [" + std::to_string(start) + ", " + std::to_string(stop) +
                     ") are outside the first axis of length " + std::to_string(shape[0]));
  }
}

std::vector<std::string> to_strings(const ArrayView& array) {
  const DType& dtype = array.dtype();
  if (dtype.kind() != Kind::Bytes && dtype.kind() != Kind::Unicode) {
    throw UsageError("array: elements are " + dtype.descr() + ", not strings (|S<n> or <U<n>)");
  }
  const std::size_t itemsize = dtype.itemsize();
  const bool swap = dtype.kind() == Kind::Unicode && !dtype.is_native();
  std::vector<std::string> out;
  out.reserve(static_cast<std::size_t>(array.size()));
  std::vector<std::uint64_t> index(array.ndim(), 0);
  std::u32string text;
  for (std::uint64_t n = 0; n < array.size(); ++n) {
    const std::byte* element = array.data();
    for (std::size_t k = 0; k < index.size(); ++k) {
      element += static_cast<std::int64_t>(index[k]) * array.strides()[k];
    }
    if (dtype.kind() == Kind::Bytes) {
      std::size_t length = itemsize;
      while (length > 0 && element[length - 1] == std::byte{0}) --length;
      out.emplace_back(reinterpret_cast<const char*>(element), length);
    } else {
      text.resize(itemsize / 4);
      std::memcpy(text.data(), element, itemsize);
      if (swap) detail::swap_bytes(reinterpret_cast<std::byte*>(text.data()), itemsize, dtype);
      while (!text.empty() && text.back() == U'\0') text.pop_back();
      std::string utf8;
      if (!detail::utf32_to_utf8(text, utf8)) {
        throw FormatError("array: string element " + std::to_string(n) + " holds a value that is not a " +
                          "Unicode code point (a surrogate or past U+10FFFF)");
      }
      out.push_back(std::move(utf8));
    }
    // The next index in C order: the last axis varies fastest.
    for (std::size_t k = index.size(); k-- > 0;) {
      if (++index[k] < array.shape()[k]) break;
      index[k] = 0;
    }
  }
  return out;
}

std::vector<std::string> to_strings(const Array& array) { return to_strings(array.view()); }

// ArrayView ---------------------------------------------------------------

ArrayView::ArrayView(const void* data, DType dtype, Shape shape, std::vector<std::int64_t> strides)
    : data_(static_cast<const std::byte*>(data)),
      dtype_(dtype),
      shape_(std::move(shape)),
      strides_(std::move(strides)) {
  if (strides_.size() != shape_.size()) {
    throw UsageError("array view: " + std::to_string(strides_.size()) + " strides given for " +
                     std::to_string(shape_.size()) + " dimensions");
  }
  checked_element_count(shape_, dtype_.itemsize(), "array view");
}

ArrayView ArrayView::contiguous(const void* data, DType dtype, Shape shape, MemoryOrder order) {
  auto strides = dense_strides(shape, dtype.itemsize(), order == MemoryOrder::Fortran);
  return ArrayView(data, dtype, std::move(shape), std::move(strides));
}

ArrayView ArrayView::contiguous(const void* data, DType dtype, Shape shape, bool fortran_order) {
  return contiguous(data, dtype, std::move(shape), fortran_order ? MemoryOrder::Fortran : MemoryOrder::C);
}

std::uint64_t ArrayView::size() const noexcept {
  std::uint64_t n = 1;
  for (const std::uint64_t dim : shape_) n *= dim;
  return n;
}

std::uint64_t ArrayView::nbytes() const noexcept { return size() * dtype_.itemsize(); }

bool ArrayView::is_c_contiguous() const noexcept { return dense_in_order(*this, false); }

bool ArrayView::is_f_contiguous() const noexcept { return dense_in_order(*this, true); }

// Array -------------------------------------------------------------------

Array Array::uninitialized(DType dtype, Shape shape, bool fortran_order) {
  return uninitialized(dtype, std::move(shape), fortran_order ? MemoryOrder::Fortran : MemoryOrder::C);
}

Array Array::uninitialized(DType dtype, Shape shape, MemoryOrder order) {
  const std::uint64_t count = checked_element_count(shape, dtype.itemsize(), "new array");
  const std::uint64_t bytes = count * dtype.itemsize();
  if (bytes > std::numeric_limits<std::size_t>::max()) throw std::bad_alloc();
  auto storage = allocate_uninitialized(static_cast<std::size_t>(bytes));
  auto* data = static_cast<std::byte*>(const_cast<void*>(storage.get()));
  return Array(dtype, std::move(shape), order, std::move(storage), data, Access::Writable);
}

Array::Array(DType dtype, Shape shape, MemoryOrder order, std::shared_ptr<const void> storage,
             std::byte* data, Access access)
    : dtype_(dtype),
      shape_(std::move(shape)),
      fortran_order_(order == MemoryOrder::Fortran),
      size_(checked_element_count(shape_, dtype_.itemsize(), "array")),
      storage_(std::move(storage)),
      data_(data),
      writable_(access == Access::Writable) {}

Array::Array(DType dtype, Shape shape, bool fortran_order, std::shared_ptr<const void> storage,
             std::byte* data, bool writable)
    : Array(dtype, std::move(shape), fortran_order ? MemoryOrder::Fortran : MemoryOrder::C, std::move(storage),
            data, writable ? Access::Writable : Access::ReadOnly) {}

std::byte* Array::mutable_bytes() {
  if (!writable_) {
    throw UsageError(
        "array: the elements are read-only: they are a memory map of the file (map_npy, "
        "NpyAccess::Map, NpzReader::map), whose pages belong to it; read them with data<T>() "
        "or bytes(), or read the file with read_npy() for a writable copy");
  }
  return data_;
}

void Array::check_element_type(const DType& wanted, std::size_t alignment) const {
  if (wanted != dtype_) {
    throw UsageError("array: elements are " + dtype_.descr() + ", not " + wanted.descr() +
                     (dtype_.native() == wanted ? " (call to_native_byte_order() first)" : ""));
  }
  if (reinterpret_cast<std::uintptr_t>(data_) % alignment != 0) {
    throw UsageError("array: data is not aligned for " + wanted.descr() +
                     " elements; copy it with bytes() and memcpy");
  }
}

void Array::to_native_byte_order() {
  if (dtype_.is_native()) return;
  detail::swap_bytes(mutable_bytes(), nbytes(), dtype_);
  dtype_ = dtype_.native();
}

ArrayView Array::view() const {
  return ArrayView::contiguous(data_, dtype_, shape_, order());
}

ArrayView Array::rows(std::uint64_t start, std::uint64_t stop) const {
  check_row_range(shape_, start, stop, "array");
  auto strides = dense_strides(shape_, dtype_.itemsize(), fortran_order_);
  Shape shape = shape_;
  shape[0] = stop - start;
  const std::byte* first = data_;
  if (stop > start) first += start * static_cast<std::uint64_t>(strides[0]);
  return ArrayView(first, dtype_, std::move(shape), std::move(strides));
}

}  // namespace ndbridge
