#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ndbridge/dtype.hpp"
#include "ndbridge/error.hpp"

namespace ndbridge {

/// Dimensions of an array, outermost first (numpy's `shape`).
using Shape = std::vector<std::uint64_t>;

/// Number of elements of `shape` (1 for a 0-d array). Throws FormatError
/// naming `what` when the product, or the product times `itemsize`, does not
/// fit in 64 bits — a shape read from a file is never trusted.
std::uint64_t checked_element_count(const Shape& shape, std::size_t itemsize,
                                    const std::string& what);

/// How the elements of a densely packed array lie in memory.
enum class MemoryOrder {
  C,        ///< row-major: the last index varies fastest (numpy's default)
  Fortran,  ///< column-major: the first index varies fastest
};

/// Whether an array's elements may be changed through it.
enum class Access {
  ReadOnly,  ///< a memory map of a file, or memory the caller must not have changed
  Writable,  ///< memory the array owns or was lent for writing
};

/// A non-owning, read-only view of elements anywhere in memory, described by
/// numpy's terms: dtype, shape and byte strides (which may be negative or
/// zero). Writers take views so they can write strided data without a copy.
class ArrayView {
 public:
  /// A view with explicit byte strides (one per dimension).
  ArrayView(const void* data, DType dtype, Shape shape, std::vector<std::int64_t> strides);

  /// A view of densely packed elements in C (row-major) or Fortran order.
  static ArrayView contiguous(const void* data, DType dtype, Shape shape,
                              MemoryOrder order = MemoryOrder::C);
  /// Deprecated: `fortran_order` true is MemoryOrder::Fortran.
  [[deprecated("pass MemoryOrder::Fortran or MemoryOrder::C")]]
  static ArrayView contiguous(const void* data, DType dtype, Shape shape, bool fortran_order);

  /// The first element (the one at index 0, ..., 0).
  const std::byte* data() const noexcept { return data_; }
  /// The element type.
  const DType& dtype() const noexcept { return dtype_; }
  /// The dimensions, outermost first.
  const Shape& shape() const noexcept { return shape_; }
  /// Bytes from one element to the next along each dimension.
  const std::vector<std::int64_t>& strides() const noexcept { return strides_; }
  /// Number of dimensions (0 for a scalar).
  std::size_t ndim() const noexcept { return shape_.size(); }
  /// Number of elements.
  std::uint64_t size() const noexcept;
  /// size() * itemsize.
  std::uint64_t nbytes() const noexcept;
  /// True when the elements are densely packed in row-major order.
  bool is_c_contiguous() const noexcept;
  /// True when the elements are densely packed in column-major order.
  bool is_f_contiguous() const noexcept;

 private:
  const std::byte* data_;
  DType dtype_;
  Shape shape_;
  std::vector<std::int64_t> strides_;
};

/// An n-dimensional array whose elements are densely packed in C or Fortran
/// order, as an .npy file stores them. It owns its memory — a heap buffer, or
/// a read-only memory map of a file — and is move-only, so a copy is always
/// explicit. Elements keep the byte order they were stored with; call
/// `to_native_byte_order()` before using them as C++ values if `dtype()` says
/// they are not native.
///
/// Thread safety: as for a standard container, const members (data<T>(),
/// bytes(), view(), rows()...) may be called from several threads at once;
/// anything that writes (mutable_data<T>(), to_native_byte_order(), moving)
/// needs the array to itself.
class Array {
 public:
  /// Allocates an array whose elements are left uninitialized (not zeroed:
  /// the reader overwrites every byte, so zero-filling would be wasted work).
  static Array uninitialized(DType dtype, Shape shape, MemoryOrder order = MemoryOrder::C);
  /// Deprecated: `fortran_order` true is MemoryOrder::Fortran.
  [[deprecated("pass MemoryOrder::Fortran or MemoryOrder::C")]]
  static Array uninitialized(DType dtype, Shape shape, bool fortran_order);

  /// Takes over memory owned by `storage` (kept alive as long as the array);
  /// `data` points at the first element inside it.
  Array(DType dtype, Shape shape, MemoryOrder order, std::shared_ptr<const void> storage,
        std::byte* data, Access access);
  /// Deprecated: `fortran_order` true is MemoryOrder::Fortran, `writable`
  /// true Access::Writable.
  [[deprecated("pass MemoryOrder and Access")]]
  Array(DType dtype, Shape shape, bool fortran_order, std::shared_ptr<const void> storage,
        std::byte* data, bool writable);

  /// Moves the memory (and its ownership) into the new array.
  Array(Array&&) noexcept = default;
  /// Moves the memory (and its ownership) into this array.
  Array& operator=(Array&&) noexcept = default;
  Array(const Array&) = delete;
  Array& operator=(const Array&) = delete;

  /// The element type, in the byte order the elements are stored in.
  const DType& dtype() const noexcept { return dtype_; }
  /// The dimensions, outermost first.
  const Shape& shape() const noexcept { return shape_; }
  /// Number of dimensions (0 for a scalar).
  std::size_t ndim() const noexcept { return shape_.size(); }
  /// True when elements are stored in column-major (Fortran) order.
  bool fortran_order() const noexcept { return fortran_order_; }
  /// How the elements lie: MemoryOrder::Fortran when fortran_order().
  MemoryOrder order() const noexcept { return fortran_order_ ? MemoryOrder::Fortran : MemoryOrder::C; }
  /// Number of elements (1 for a 0-d array).
  std::uint64_t size() const noexcept { return size_; }
  /// size() * dtype().itemsize().
  std::uint64_t nbytes() const noexcept { return size_ * dtype_.itemsize(); }
  /// False for memory-mapped arrays, whose pages belong to the file.
  bool writable() const noexcept { return writable_; }

  /// The raw element bytes.
  const std::byte* bytes() const noexcept { return data_; }
  /// The raw element bytes, for writing; throws UsageError if not writable()
  /// (a memory map of a file), saying so.
  std::byte* mutable_bytes();

  /// Typed read access; works on every array, memory-mapped ones included.
  /// Throws UsageError unless T's dtype (`DType::of<T>()`) equals dtype() —
  /// so a big-endian array must be converted first — and the data is
  /// suitably aligned for T. There is deliberately no non-const overload:
  /// reading never needs write access.
  template <class T>
  const T* data() const {
    check_element_type(DType::of<T>(), alignof(T));
    return reinterpret_cast<const T*>(data_);
  }
  /// Typed write access: checks as data<T>() does, then throws UsageError
  /// if the array is not writable() (a read-only memory map), naming why.
  template <class T>
  T* mutable_data() {
    check_element_type(DType::of<T>(), alignof(T));
    return reinterpret_cast<T*>(mutable_bytes());
  }

  /// Swaps the bytes of every element in place if they are not in native
  /// order and updates dtype() to match. Throws UsageError if not writable().
  void to_native_byte_order();

  /// A view of the whole array.
  ArrayView view() const;
  /// A view of rows [start, stop) along the first axis (no copy). Throws
  /// UsageError for 0-d arrays and ranges outside the first axis.
  ArrayView rows(std::uint64_t start, std::uint64_t stop) const;

 private:
  void check_element_type(const DType& wanted, std::size_t alignment) const;

  DType dtype_;
  Shape shape_;
  bool fortran_order_;
  std::uint64_t size_;
  std::shared_ptr<const void> storage_;
  std::byte* data_;
  bool writable_;
};

/// The elements of a string array as std::strings, in C (row-major) order
/// whatever the memory order: byte strings ("|S<n>") as their bytes,
/// Unicode ("<U<n>" or ">U<n>", UCS-4, as numpy stores str and as
/// H5File::read() gives HDF5 text) encoded as UTF-8; trailing NULs dropped,
/// as numpy drops them. For labels such as a packed file's class_names.
/// Throws UsageError for an array of any other kind, FormatError for a
/// Unicode element that is not a valid code point.
std::vector<std::string> to_strings(const ArrayView& array);
/// The same for a whole Array.
std::vector<std::string> to_strings(const Array& array);

/// Checks that [start, stop) is a valid range of rows for `shape` and throws
/// UsageError naming `what` otherwise.
void check_row_range(const Shape& shape, std::uint64_t start, std::uint64_t stop,
                     const std::string& what);

/// Rows along the first axis picked by index, as numpy's fancy indexing
/// (`a[[5, 0, 5, -1]]`) picks them: any order, repeats allowed, a negative
/// index counting from the end (-1 is the last row). The result of a read
/// holds the rows in the order given. A non-owning view: the indices must
/// stay alive during the call they are passed to.
class RowIndices {
 public:
  /// `count` indices at `data`.
  RowIndices(const std::int64_t* data, std::size_t count) noexcept : data_(data), size_(count) {}
  /// Every index of `indices`.
  RowIndices(const std::vector<std::int64_t>& indices) noexcept  // NOLINT: implicit on purpose
      : data_(indices.data()), size_(indices.size()) {}

  /// The first index.
  const std::int64_t* begin() const noexcept { return data_; }
  /// Past the last index.
  const std::int64_t* end() const noexcept { return data_ + size_; }
  /// Number of indices (rows of the result).
  std::size_t size() const noexcept { return size_; }

 private:
  const std::int64_t* data_;
  std::size_t size_;
};

}  // namespace ndbridge
