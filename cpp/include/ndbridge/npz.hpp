#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <type_traits>
#include <string_view>
#include <utility>
#include <vector>

#include "ndbridge/array.hpp"
#include "ndbridge/dtype.hpp"

namespace ndbridge {

/// How write_npz stores its members. None and Gzip are the names the
/// options take everywhere (H5Compression, Python, the command line); Stored
/// and Deflated, zip's own names, mean the same.
enum class NpzCompression {
  Stored,           ///< as they are, like numpy.savez
  Deflated,         ///< zlib's deflate at its default level, like numpy.savez_compressed
  None = Stored,    ///< the naming table's name for Stored
  Gzip = Deflated,  ///< the naming table's name for Deflated (zip's deflate)
};

/// The default of NpzLimits::max_inflated_bytes: 16 GiB.
inline constexpr std::uint64_t kNpzDefaultMaxInflatedBytes = std::uint64_t{16} << 30;

/// Bounds on what reading an untrusted archive may cost.
struct NpzLimits {
  /// The most bytes that the deflated members read by one call (read() of
  /// one member, or read_all()) may inflate to. Checked against the sizes
  /// the archive declares before anything is allocated or inflated, so a zip
  /// bomb gives a FormatError instead of exhausting memory. Stored members do
  /// not count: their bytes are in the file, whose size bounds them.
  std::uint64_t max_inflated_bytes = kNpzDefaultMaxInflatedBytes;
};

/// One member of an archive: its central directory entry and .npy header.
struct NpzMember {
  /// The key numpy shows (`numpy.load(path).files`): the member's name
  /// without its ".npy" suffix.
  std::string name;
  DType dtype{Kind::UInt, 1, ByteOrder::NotApplicable};
  Shape shape;
  bool fortran_order = false;
  /// True for deflated members, false for stored ones.
  bool compressed = false;
  /// Bytes the member occupies in the archive.
  std::uint64_t compressed_size = 0;
  /// Bytes of the .npy file it holds (header and data).
  std::uint64_t uncompressed_size = 0;
};

/// Arrays by name, in archive order (the order numpy.savez wrote them in).
using NpzArrays = std::vector<std::pair<std::string, Array>>;

/// An open .npz archive: a zip file of .npy members, as numpy.savez and
/// numpy.savez_compressed write it. Opening reads and checks the central
/// directory (zip64 included); members are read on request, each decoded by
/// the .npy reader and its CRC-32 verified. Every size the archive declares
/// is checked against the file and against `limits` before it is used, so a
/// truncated, corrupt or hostile archive gives FormatError, never a crash or
/// a huge allocation. Members that are not .npy files, encrypted members and
/// compression methods other than stored and deflate give UnsupportedError
/// when they are listed or read. Move-only; the file stays open while the
/// reader lives.
///
/// Thread safety: every const member (listing and all the reads) may be
/// called from several threads at once on one reader, and they run in
/// parallel, each inflating what it reads itself; moving, assigning or
/// destroying it may not overlap them. The free functions below may run in
/// several threads at once; write_npz() to one path from two threads leaves
/// one complete archive or the other (each writes its own temporary file).
class NpzReader {
 public:
  /// Opens `path` and reads its central directory. Throws FormatError,
  /// UnsupportedError (multi-disk archives) or FileError, naming the file.
  explicit NpzReader(const std::filesystem::path& path, NpzLimits limits = {});
  NpzReader(NpzReader&&) noexcept;
  NpzReader& operator=(NpzReader&&) noexcept;
  NpzReader(const NpzReader&) = delete;
  NpzReader& operator=(const NpzReader&) = delete;
  ~NpzReader();

  /// The keys (member names without ".npy"), in archive order. Reads
  /// nothing beyond the central directory.
  std::vector<std::string> names() const;
  /// Whether a member has this key.
  bool contains(std::string_view name) const;
  /// Every member with its dtype and shape, which come from each member's
  /// .npy header (for a deflated member, only the header is inflated).
  std::vector<NpzMember> members() const;
  /// One member's description; throws NotFoundError if there is no such key.
  NpzMember member(std::string_view name) const;
  /// Reads one member by key. Throws NotFoundError if there is no such key.
  Array read(std::string_view name) const;
  /// Reads every member, in archive order.
  NpzArrays read_all() const;

  /// Rows [start, stop) of one member, in its memory order. A stored
  /// member's rows come straight from the archive; a deflated member is
  /// inflated only as far as the last of them (what it inflates counts
  /// against the limit). A member's CRC-32 covers all of it, so only read()
  /// checks it. Throws NotFoundError, UsageError for a 0-d member or a
  /// range outside the first axis, and what read() throws.
  Array read_rows(std::string_view name, std::uint64_t start, std::uint64_t stop) const;
  /// The rows at `indices` (any order, repeats, negative from the end), in
  /// that order, in new memory in the member's memory order; as the range
  /// read, a deflated member is inflated once, as far as the last row.
  Array read_rows(std::string_view name, RowIndices indices) const;
  /// The same rows into `buffer`, in C order, without allocating: `size`
  /// must be exactly the bytes they take (UsageError otherwise).
  void read_rows_into(std::string_view name, RowIndices indices, void* buffer, std::uint64_t size) const;
  /// The same rows as elements of dtype `as`, which must be the member's
  /// element type up to byte order (UsageError naming both otherwise,
  /// before anything is read); they arrive in `as`'s byte order.
  void read_rows_into(std::string_view name, RowIndices indices, void* buffer, std::uint64_t size,
                      const DType& as) const;
  /// Typed read: `buffer` holds T, the member must hold T's type
  /// (`DType::of<T>()`) in either byte order, and T arrives in native byte
  /// order. `size` is in bytes, as above. A `void*`, `char*` or `std::byte*`
  /// buffer takes the untyped overload instead.
  template <class T, class = std::enable_if_t<is_element_type_v<T>>>
  void read_rows_into(std::string_view name, RowIndices indices, T* buffer, std::uint64_t size) const {
    read_rows_into(name, indices, static_cast<void*>(buffer), size, DType::of<T>());
  }
  /// A stored member as a read-only memory map of the archive, without
  /// copying (the CRC-32 is not checked: nothing is read). Throws UsageError
  /// for a deflated member, which has no bytes to map.
  Array map(std::string_view name) const;

  /// Writes one member, byte for byte, as the .npy file `npy` (under a
  /// temporary name, renamed into place when complete), copying in blocks of
  /// bounded size and checking the header and the CRC-32. This is how to
  /// read a large deflated member by rows without inflating it again for
  /// every read: extract it once, then read the .npy file. The inflated-size
  /// limit does not apply (nothing is held in memory). Throws NotFoundError,
  /// what read() throws for the member, and FileError for `npy`.
  void extract(std::string_view name, const std::filesystem::path& npy) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Lists the members of an archive: NpzReader(path).members().
std::vector<NpzMember> list_npz(const std::filesystem::path& path);

/// Reads every member of an archive: NpzReader(path, limits).read_all().
NpzArrays read_npz(const std::filesystem::path& path, NpzLimits limits = {});

/// Writes an .npz archive that numpy.load reads: one member "<name>.npy" per
/// array, holding exactly the bytes write_npy would write, stored or
/// deflated. Members are streamed (deflated in bounded chunks, CRC-32
/// computed on the way), with zip64 records wherever a size, offset or count
/// needs them. The archive is written under a temporary name beside `path`
/// and renamed into place only when complete. Throws UsageError for
/// duplicate names, names that are not UTF-8 or contain NUL,
/// UnsupportedError/FileError as write_npy does.
void write_npz(const std::filesystem::path& path,
               const std::vector<std::pair<std::string, ArrayView>>& arrays,
               NpzCompression compression = NpzCompression::Stored);

}  // namespace ndbridge
