#pragma once

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <string>
#include <type_traits>

#include "ndbridge/array.hpp"
#include "ndbridge/dtype.hpp"

namespace ndbridge {

// Thread safety: every free function here may run in several threads at
// once (each call opens the file itself); write_npy() to one path from two
// threads leaves one complete file or the other, never a mix (each writes
// its own temporary file and renames it). NpyReader: see the class.

/// What an .npy header says, plus where the data starts.
struct NpyHeader {
  DType dtype{Kind::UInt, 1, ByteOrder::NotApplicable};  ///< the header's 'descr'
  Shape shape;                                          ///< the header's 'shape'
  bool fortran_order = false;                           ///< the header's 'fortran_order'
  int version_major = 1;  ///< 1, 2 or 3
  int version_minor = 0;
  std::uint64_t data_offset = 0;  ///< bytes from the start of the file to the data
  std::uint64_t data_bytes = 0;   ///< element count times itemsize, overflow-checked

  /// fortran_order as the MemoryOrder arrays take.
  MemoryOrder order() const noexcept { return fortran_order ? MemoryOrder::Fortran : MemoryOrder::C; }
};

/// Reads and validates the header of an .npy file: magic, version, length,
/// the header dictionary (any valid spelling: key order, quotes, spacing,
/// trailing commas, Python 2 "L" suffixes) and the dtype. Does not check the
/// data length; the readers below do. Throws FormatError, UnsupportedError or
/// FileError, each naming the file.
NpyHeader read_npy_header(const std::filesystem::path& path);
/// Stream overload; `name` is used in error messages.
NpyHeader read_npy_header(std::istream& in, const std::string& name = "<stream>");

/// Reads a whole .npy file. The data is read straight into an uninitialized
/// buffer after checking that the file holds as many bytes as the header
/// promises, so a lying header gives FormatError, never a huge allocation.
Array read_npy(const std::filesystem::path& path);
/// Stream overload. A seekable stream is size-checked up front; from a
/// non-seekable one the data is read in bounded steps.
Array read_npy(std::istream& in, const std::string& name = "<stream>");

/// Reads rows [start, stop) along the first axis, touching only the bytes of
/// those rows. The result keeps the file's memory order. Throws UsageError
/// for a 0-d array or a range outside the first axis.
Array read_npy_rows(const std::filesystem::path& path, std::uint64_t start, std::uint64_t stop);
/// Stream overload; the stream must be seekable.
Array read_npy_rows(std::istream& in, std::uint64_t start, std::uint64_t stop,
                    const std::string& name = "<stream>");

/// Memory-maps an .npy file read-only and returns an array over the mapped
/// data without copying: the cost does not depend on the file size. Pages are
/// read on first access. The array is not writable().
Array map_npy(const std::filesystem::path& path);

/// Memory-maps only rows [start, stop) along the first axis: the mapping
/// covers the pages that hold them, so address space is taken for those
/// rows alone (under a memory limit, rows of a file larger than the limit
/// still map). Not writable(). A Fortran-order array with two or more
/// dimensions has no contiguous rows in the file: its rows are read as by
/// read_npy_rows() instead. Throws UsageError as read_npy_rows() does.
Array map_npy_rows(const std::filesystem::path& path, std::uint64_t start, std::uint64_t stop);

/// Reads the rows at `indices` (numpy's fancy indexing along the first axis:
/// any order, repeats, negative from the end) into a new array in the
/// file's memory order: NpyReader(path).read_rows(indices).
Array read_npy_rows(const std::filesystem::path& path, RowIndices indices);

/// How an NpyReader gets at the elements.
enum class NpyAccess {
  Read,  ///< pread() into new memory on every read
  Map,   ///< a read-only memory map of the file, made once: whole reads and
         ///< row ranges are views of it, picked rows are copied out of it
};

/// An .npy file opened once for many reads: the header is parsed and
/// checked (truncation included) when it opens, and every read after that
/// goes straight to the elements. Move-only; the file stays open while the
/// reader lives.
///
/// Thread safety: every const member (all the reads) may be called from
/// several threads at once on one reader, and they run in parallel (pread()
/// at explicit offsets, or loads from the shared map); moving, assigning or
/// destroying it may not overlap them.
class NpyReader {
 public:
  /// Opens `path`. Throws as read_npy() does for a bad or truncated file.
  explicit NpyReader(const std::filesystem::path& path, NpyAccess access = NpyAccess::Read);
  NpyReader(NpyReader&&) noexcept;
  NpyReader& operator=(NpyReader&&) noexcept;
  NpyReader(const NpyReader&) = delete;
  NpyReader& operator=(const NpyReader&) = delete;
  ~NpyReader();

  /// The file's header.
  const NpyHeader& header() const noexcept;
  /// How the reader gets at the elements.
  NpyAccess access() const noexcept;

  /// The whole array (NpyAccess::Map: a read-only view of the map).
  Array read() const;
  /// Rows [start, stop) in the file's memory order (NpyAccess::Map: a
  /// read-only view of the map, except for a Fortran-order array of two or
  /// more dimensions, whose rows are copied out). Throws UsageError for a
  /// 0-d array or a range outside the first axis.
  Array read_rows(std::uint64_t start, std::uint64_t stop) const;
  /// The rows at `indices`, in that order, in new memory in the file's
  /// memory order. Throws UsageError for a 0-d array or an index outside the
  /// first axis.
  Array read_rows(RowIndices indices) const;
  /// The same rows into `buffer`, in C order, without allocating: `size`
  /// must be exactly the bytes they take (UsageError otherwise).
  void read_rows_into(RowIndices indices, void* buffer, std::uint64_t size) const;
  /// The same rows as elements of dtype `as`, which must be the file's
  /// element type up to byte order (UsageError naming both otherwise,
  /// before anything is read); they arrive in `as`'s byte order.
  void read_rows_into(RowIndices indices, void* buffer, std::uint64_t size, const DType& as) const;
  /// Typed read: `buffer` holds T, the file must hold T's type
  /// (`DType::of<T>()`) in either byte order, and T arrives in native byte
  /// order. `size` is in bytes, as above. A `void*`, `char*` or `std::byte*`
  /// buffer takes the untyped overload instead.
  template <class T, class = std::enable_if_t<is_element_type_v<T>>>
  void read_rows_into(RowIndices indices, T* buffer, std::uint64_t size) const {
    read_rows_into(indices, static_cast<void*>(buffer), size, DType::of<T>());
  }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The full .npy preamble (magic, version, length, header dictionary, padding)
/// for an array of this dtype, shape and order, byte-identical to what
/// `numpy.save` writes: the version is the oldest that holds the header and
/// the data starts at a multiple of 64 bytes.
std::string make_npy_header(const DType& dtype, const Shape& shape, MemoryOrder order = MemoryOrder::C);
/// Deprecated: `fortran_order` true is MemoryOrder::Fortran.
[[deprecated("pass MemoryOrder::Fortran or MemoryOrder::C")]]
std::string make_npy_header(const DType& dtype, const Shape& shape, bool fortran_order);

/// Writes `array` (contiguous or strided) as an .npy file. Contiguous data is
/// written as it is (Fortran-ordered data keeps its order, as numpy does);
/// strided data is gathered into C order in bounded chunks. The file is
/// written under a temporary name in the same folder, flushed to disk and
/// renamed into place only when complete.
void write_npy(const std::filesystem::path& path, const ArrayView& array);
/// Stream overload; `name` is used in error messages.
void write_npy(std::ostream& out, const ArrayView& array, const std::string& name = "<stream>");

}  // namespace ndbridge
