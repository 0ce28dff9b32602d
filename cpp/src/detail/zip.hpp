#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "detail/file.hpp"

namespace ndbridge::detail {

// The parts of the zip format (PKWARE APPNOTE 6.3) that .npz archives use.

inline constexpr std::uint32_t kZipLocalSignature = 0x04034b50;      // "PK\3\4"
inline constexpr std::uint32_t kZipCentralSignature = 0x02014b50;    // "PK\1\2"
inline constexpr std::uint32_t kZipEndSignature = 0x06054b50;        // "PK\5\6"
inline constexpr std::uint32_t kZip64EndSignature = 0x06064b50;      // "PK\6\6"
inline constexpr std::uint32_t kZip64LocatorSignature = 0x07064b50;  // "PK\6\7"
inline constexpr std::size_t kZipLocalHeaderSize = 30;
inline constexpr std::size_t kZipCentralHeaderSize = 46;
inline constexpr std::size_t kZipEndSize = 22;
inline constexpr std::size_t kZip64EndSize = 56;
inline constexpr std::size_t kZip64LocatorSize = 20;
inline constexpr std::uint16_t kZip64ExtraId = 0x0001;
inline constexpr std::uint16_t kZipMethodStored = 0;
inline constexpr std::uint16_t kZipMethodDeflated = 8;
inline constexpr std::uint16_t kZipFlagEncrypted = 1u << 0;
inline constexpr std::uint16_t kZipFlagDataDescriptor = 1u << 3;
inline constexpr std::uint16_t kZipFlagStrongEncryption = 1u << 6;
inline constexpr std::uint16_t kZipFlagUtf8 = 1u << 11;
/// "Version needed to extract" for zip64 records (4.5) and for deflate (2.0).
inline constexpr std::uint16_t kZipVersionZip64 = 45;
inline constexpr std::uint16_t kZipVersionDeflate = 20;

/// Little-endian field access.
std::uint16_t get_le16(const std::byte* p) noexcept;
std::uint32_t get_le32(const std::byte* p) noexcept;
std::uint64_t get_le64(const std::byte* p) noexcept;
void put_le16(std::string& out, std::uint64_t value);
void put_le32(std::string& out, std::uint64_t value);
void put_le64(std::string& out, std::uint64_t value);

/// A central directory entry, with sizes and offset taken from the zip64
/// extra field where the 32-bit fields say so.
struct ZipEntry {
  std::string raw_name;  ///< the name's bytes as stored
  std::string name;      ///< as Python's zipfile decodes it (UTF-8, or CP437 without flag bit 11)
  std::uint16_t flags = 0;
  std::uint16_t method = 0;
  std::uint32_t crc32 = 0;
  std::uint64_t compressed_size = 0;
  std::uint64_t uncompressed_size = 0;
  std::uint64_t local_header_offset = 0;  ///< from the start of the file
};

/// What the end records and the central directory say.
struct ZipDirectory {
  std::vector<ZipEntry> entries;
  /// Where the central directory starts: every member's data ends before it.
  std::uint64_t central_directory_offset = 0;
};

/// Finds the end of central directory record (and the zip64 one, if any),
/// then reads and checks every central directory entry. Every offset and
/// size is checked against the file before it is used. Data in front of the
/// archive (a self-extractor stub, or bytes written before numpy.savez to
/// the same file) is allowed, as Python's zipfile allows it. Throws
/// FormatError naming the file, UnsupportedError for multi-disk archives.
ZipDirectory read_zip_directory(const File& file);

/// Reads the local header of `entry`, checks it against the central
/// directory (name, method, and CRC and sizes unless a data descriptor
/// follows the data) and that the data ends before the central directory.
/// Returns the offset of the member's first data byte. `what` names the
/// member in messages.
std::uint64_t locate_zip_data(const File& file, const ZipEntry& entry,
                              std::uint64_t central_directory_offset, const std::string& what);

/// "'a.npz' member 'x.npy'": how messages name a member.
std::string zip_member_label(const std::string& file_name, std::string_view member_name);

/// Whether `text` is well-formed UTF-8 (no overlongs, surrogates or code
/// points past U+10FFFF).
bool is_utf8(std::string_view text) noexcept;

}  // namespace ndbridge::detail
