#include "detail/zip.hpp"

#include <algorithm>
#include <optional>
#include <unordered_set>

#include "detail/text.hpp"
#include "ndbridge/error.hpp"

namespace ndbridge::detail {

namespace {

// The end record may be followed by a comment of up to 65535 bytes.
constexpr std::size_t kMaxComment = 0xffff;

// Code points of CP437's upper half, which Python's zipfile uses for names
// stored without the UTF-8 flag.
constexpr std::uint16_t kCp437High[128] = {
    0x00c7, 0x00fc, 0x00e9, 0x00e2, 0x00e4, 0x00e0, 0x00e5, 0x00e7,
    0x00ea, 0x00eb, 0x00e8, 0x00ef, 0x00ee, 0x00ec, 0x00c4, 0x00c5,
    0x00c9, 0x00e6, 0x00c6, 0x00f4, 0x00f6, 0x00f2, 0x00fb, 0x00f9,
    0x00ff, 0x00d6, 0x00dc, 0x00a2, 0x00a3, 0x00a5, 0x20a7, 0x0192,
    0x00e1, 0x00ed, 0x00f3, 0x00fa, 0x00f1, 0x00d1, 0x00aa, 0x00ba,
    0x00bf, 0x2310, 0x00ac, 0x00bd, 0x00bc, 0x00a1, 0x00ab, 0x00bb,
    0x2591, 0x2592, 0x2593, 0x2502, 0x2524, 0x2561, 0x2562, 0x2556,
    0x2555, 0x2563, 0x2551, 0x2557, 0x255d, 0x255c, 0x255b, 0x2510,
    0x2514, 0x2534, 0x252c, 0x251c, 0x2500, 0x253c, 0x255e, 0x255f,
    0x255a, 0x2554, 0x2569, 0x2566, 0x2560, 0x2550, 0x256c, 0x2567,
    0x2568, 0x2564, 0x2565, 0x2559, 0x2558, 0x2552, 0x2553, 0x256b,
    0x256a, 0x2518, 0x250c, 0x2588, 0x2584, 0x258c, 0x2590, 0x2580,
    0x03b1, 0x00df, 0x0393, 0x03c0, 0x03a3, 0x03c3, 0x00b5, 0x03c4,
    0x03a6, 0x0398, 0x03a9, 0x03b4, 0x221e, 0x03c6, 0x03b5, 0x2229,
    0x2261, 0x00b1, 0x2265, 0x2264, 0x2320, 0x2321, 0x00f7, 0x2248,
    0x00b0, 0x2219, 0x00b7, 0x221a, 0x207f, 0x00b2, 0x25a0, 0x00a0,
};

std::string cp437_to_utf8(std::string_view raw) {
  std::string out;
  for (const char c : raw) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x80) {
      out += c;
      continue;
    }
    const unsigned cp = kCp437High[u - 0x80];
    if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
    } else {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    }
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
  return out;
}

std::vector<std::byte> read_range(const File& file, std::uint64_t offset, std::size_t n,
                                  const std::string& what) {
  std::vector<std::byte> bytes(n);
  if (file.read_at(bytes.data(), n, offset) != n) {
    throw FormatError(what + " ends early: the file shrank while it was read");
  }
  return bytes;
}

// The zip64 extra field holds, in this order, only the values whose 32-bit
// fields are all ones.
struct Zip64Fields {
  std::uint64_t* uncompressed = nullptr;
  std::uint64_t* compressed = nullptr;
  std::uint64_t* offset = nullptr;
};

// Walks the extra fields of a header and resolves the zip64 ones. Returns
// false when a value that needs one was not found.
bool resolve_zip64(const std::byte* extra, std::size_t length, Zip64Fields fields,
                   const std::string& what) {
  std::size_t pos = 0;
  while (length - pos >= 4) {
    const std::uint16_t id = get_le16(extra + pos);
    const std::uint16_t size = get_le16(extra + pos + 2);
    pos += 4;
    if (size > length - pos) {
      throw FormatError(what + ": corrupt extra field (id " + std::to_string(id) + ", " +
                        std::to_string(size) + " bytes, only " + std::to_string(length - pos) +
                        " left in the header)");
    }
    if (id == kZip64ExtraId) {
      std::size_t at = 0;
      for (std::uint64_t* value : {fields.uncompressed, fields.compressed, fields.offset}) {
        if (value == nullptr || *value != 0xffffffffu) continue;
        if (size - at < 8) {
          throw FormatError(what + ": the zip64 extra field is too short for the sizes and "
                                   "offset it should hold");
        }
        *value = get_le64(extra + pos + at);
        at += 8;
      }
      return true;
    }
    pos += size;
  }
  for (const std::uint64_t* value : {fields.uncompressed, fields.compressed, fields.offset}) {
    if (value != nullptr && *value == 0xffffffffu) return false;
  }
  return true;
}

struct EndRecord {
  std::uint64_t position = 0;  // of the end record in the file
  std::uint64_t entries = 0;
  std::uint64_t cd_size = 0;
  std::uint64_t cd_offset = 0;
  std::uint64_t cd_end = 0;  // where the central directory must end
};

EndRecord find_end_record(const File& file, std::uint64_t file_size) {
  const std::string& name = file.name();
  if (file_size < kZipEndSize) {
    throw FormatError(name + ": not an .npz archive (" + std::to_string(file_size) +
                      " bytes, too short for a zip file)");
  }
  const auto tail_size =
      static_cast<std::size_t>(std::min<std::uint64_t>(file_size, kZipEndSize + kMaxComment));
  const std::uint64_t tail_start = file_size - tail_size;
  const std::vector<std::byte> tail = read_range(file, tail_start, tail_size, name);
  // The record whose comment reaches exactly to the end of the file; failing
  // that, the last one, as Python's zipfile does.
  std::optional<std::size_t> found;
  for (std::size_t i = tail_size - kZipEndSize + 1; i-- > 0;) {
    if (get_le32(tail.data() + i) != kZipEndSignature) continue;
    if (!found) found = i;
    if (i + kZipEndSize + get_le16(tail.data() + i + 20) == tail_size) {
      found = i;
      break;
    }
  }
  if (!found) {
    const auto start = read_range(file, 0, 6, name);
    const bool npy =
        std::string_view(reinterpret_cast<const char*>(start.data()), 6) == "\x93NUMPY";
    throw FormatError(name + (npy ? ": an .npy file, not an .npz archive"
                                  : ": not an .npz archive, or a truncated one (no zip end of "
                                    "central directory record in the last 64 KiB)"));
  }
  const std::byte* end = tail.data() + *found;
  EndRecord record;
  record.position = tail_start + *found;
  if (get_le16(end + 4) != 0 || get_le16(end + 6) != 0) {
    throw UnsupportedError(name + ": archives split over several disks are not supported");
  }
  record.entries = get_le16(end + 10);
  record.cd_size = get_le32(end + 12);
  record.cd_offset = get_le32(end + 16);
  record.cd_end = record.position;

  if (record.position < kZip64LocatorSize) return record;
  const std::uint64_t locator_at = record.position - kZip64LocatorSize;
  const auto locator = read_range(file, locator_at, kZip64LocatorSize, name);
  if (get_le32(locator.data()) != kZip64LocatorSignature) return record;
  if (get_le32(locator.data() + 4) != 0 || get_le32(locator.data() + 16) > 1) {
    throw UnsupportedError(name + ": archives split over several disks are not supported");
  }
  // The zip64 end record normally sits right before its locator; the offset
  // the locator gives is relative to the archive's start, which differs when
  // data precedes the archive.
  std::optional<std::uint64_t> z64_at;
  for (const std::uint64_t candidate :
       {get_le64(locator.data() + 8), locator_at - std::min<std::uint64_t>(locator_at, kZip64EndSize)}) {
    if (candidate > locator_at || locator_at - candidate < kZip64EndSize) continue;
    const auto probe = read_range(file, candidate, 4, name);
    if (get_le32(probe.data()) == kZip64EndSignature) {
      z64_at = candidate;
      break;
    }
  }
  if (!z64_at) {
    throw FormatError(name + ": the zip64 end of central directory locator points at no zip64 "
                             "end record (truncated or corrupt archive)");
  }
  const auto z64 = read_range(file, *z64_at, kZip64EndSize, name);
  if (get_le32(z64.data() + 16) != 0 || get_le32(z64.data() + 20) != 0) {
    throw UnsupportedError(name + ": archives split over several disks are not supported");
  }
  record.entries = get_le64(z64.data() + 32);
  record.cd_size = get_le64(z64.data() + 40);
  record.cd_offset = get_le64(z64.data() + 48);
  record.cd_end = *z64_at;
  return record;
}

}  // namespace

std::uint16_t get_le16(const std::byte* p) noexcept {
  return static_cast<std::uint16_t>(std::to_integer<unsigned>(p[0]) |
                                    (std::to_integer<unsigned>(p[1]) << 8));
}

std::uint32_t get_le32(const std::byte* p) noexcept {
  return std::uint32_t{get_le16(p)} | (std::uint32_t{get_le16(p + 2)} << 16);
}

std::uint64_t get_le64(const std::byte* p) noexcept {
  return std::uint64_t{get_le32(p)} | (std::uint64_t{get_le32(p + 4)} << 32);
}

namespace {
void put_le(std::string& out, std::uint64_t value, int bytes) {
  for (int k = 0; k < bytes; ++k) out += static_cast<char>((value >> (8 * k)) & 0xff);
}
}  // namespace

void put_le16(std::string& out, std::uint64_t value) { put_le(out, value, 2); }
void put_le32(std::string& out, std::uint64_t value) { put_le(out, value, 4); }
void put_le64(std::string& out, std::uint64_t value) { put_le(out, value, 8); }

std::string zip_member_label(const std::string& file_name, std::string_view member_name) {
  return file_name + " member '" + printable(member_name) + "'";
}

bool is_utf8(std::string_view text) noexcept {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t extra = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      extra = 1;
      cp = c & 0x1fu;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      cp = c & 0x0fu;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      cp = c & 0x07u;
    } else {
      return false;
    }
    if (text.size() - i <= extra) return false;
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto d = static_cast<unsigned char>(text[i + k]);
      if ((d & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3fu);
    }
    static constexpr std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += extra + 1;
  }
  return true;
}

ZipDirectory read_zip_directory(const File& file) {
  const std::string& name = file.name();
  const std::uint64_t file_size = file.size_at_open();
  const EndRecord end = find_end_record(file, file_size);
  if (end.cd_size > end.cd_end || end.cd_offset > end.cd_end - end.cd_size) {
    throw FormatError(name + ": the central directory (" + std::to_string(end.cd_size) +
                      " bytes at offset " + std::to_string(end.cd_offset) +
                      ") does not fit before its end record at offset " +
                      std::to_string(end.cd_end) + " (truncated or corrupt archive)");
  }
  ZipDirectory dir;
  dir.central_directory_offset = end.cd_end - end.cd_size;
  // Bytes in front of the archive shift every offset it records.
  const std::uint64_t shift = dir.central_directory_offset - end.cd_offset;
  const auto cd = read_range(file, dir.central_directory_offset,
                             static_cast<std::size_t>(end.cd_size), name);
  std::unordered_set<std::string> seen;
  std::size_t pos = 0;
  while (pos < cd.size()) {
    const std::string where =
        name + ": central directory entry " + std::to_string(dir.entries.size());
    if (cd.size() - pos < kZipCentralHeaderSize || get_le32(cd.data() + pos) != kZipCentralSignature) {
      throw FormatError(where + " is malformed (no central file header signature at offset " +
                        std::to_string(dir.central_directory_offset + pos) + ")");
    }
    const std::byte* h = cd.data() + pos;
    const std::size_t name_len = get_le16(h + 28);
    const std::size_t extra_len = get_le16(h + 30);
    const std::size_t comment_len = get_le16(h + 32);
    if (cd.size() - pos - kZipCentralHeaderSize < name_len + extra_len + comment_len) {
      throw FormatError(where + " runs past the end of the central directory");
    }
    ZipEntry e;
    e.flags = get_le16(h + 8);
    e.method = get_le16(h + 10);
    e.crc32 = get_le32(h + 16);
    e.compressed_size = get_le32(h + 20);
    e.uncompressed_size = get_le32(h + 24);
    e.local_header_offset = get_le32(h + 42);
    const std::byte* variable = h + kZipCentralHeaderSize;
    e.raw_name.assign(reinterpret_cast<const char*>(variable), name_len);
    const std::string label = zip_member_label(name, e.raw_name);
    if (get_le16(h + 34) != 0 && get_le16(h + 34) != 0xffff) {
      throw UnsupportedError(label + ": archives split over several disks are not supported");
    }
    if (!resolve_zip64(variable + name_len, extra_len,
                       {&e.uncompressed_size, &e.compressed_size, &e.local_header_offset}, label)) {
      throw FormatError(label + ": sizes or offset marked as zip64 but no zip64 extra field");
    }
    if (e.flags & kZipFlagUtf8) {
      if (!is_utf8(e.raw_name)) {
        throw FormatError(label + ": the name is flagged as UTF-8 but is not valid UTF-8");
      }
      e.name = e.raw_name;
    } else {
      e.name = cp437_to_utf8(e.raw_name);
    }
    if (e.local_header_offset > dir.central_directory_offset - shift ||
        dir.central_directory_offset - shift - e.local_header_offset < kZipLocalHeaderSize) {
      throw FormatError(label + ": local header offset " + std::to_string(e.local_header_offset) +
                        " lies past the start of the central directory (corrupt archive)");
    }
    e.local_header_offset += shift;
    if (!seen.insert(e.name).second) {
      throw FormatError(label + ": the archive holds two members of this name");
    }
    dir.entries.push_back(std::move(e));
    pos += kZipCentralHeaderSize + name_len + extra_len + comment_len;
  }
  (void)end.entries;  // Python's zipfile trusts the directory's size, not its count; so do we.
  return dir;
}

std::uint64_t locate_zip_data(const File& file, const ZipEntry& entry,
                              std::uint64_t central_directory_offset, const std::string& what) {
  const auto fixed = read_range(file, entry.local_header_offset, kZipLocalHeaderSize, what);
  if (get_le32(fixed.data()) != kZipLocalSignature) {
    throw FormatError(what + ": no local file header at offset " +
                      std::to_string(entry.local_header_offset) + " (corrupt archive)");
  }
  const std::size_t name_len = get_le16(fixed.data() + 26);
  const std::size_t extra_len = get_le16(fixed.data() + 28);
  const std::uint64_t header_end = entry.local_header_offset + kZipLocalHeaderSize + name_len +
                                   extra_len;
  if (header_end > central_directory_offset) {
    throw FormatError(what + ": the local file header runs into the central directory");
  }
  const auto variable = read_range(file, entry.local_header_offset + kZipLocalHeaderSize,
                                   name_len + extra_len, what);
  if (std::string_view(reinterpret_cast<const char*>(variable.data()), name_len) !=
      entry.raw_name) {
    throw FormatError(what + ": the local file header names it '" +
                      printable(std::string_view(reinterpret_cast<const char*>(variable.data()),
                                                 name_len)) +
                      "' (the central directory and local header disagree)");
  }
  if (get_le16(fixed.data() + 8) != entry.method) {
    throw FormatError(what + ": the local file header gives compression method " +
                      std::to_string(get_le16(fixed.data() + 8)) + ", the central directory " +
                      std::to_string(entry.method));
  }
  if (!(get_le16(fixed.data() + 6) & kZipFlagDataDescriptor)) {
    std::uint64_t compressed = get_le32(fixed.data() + 18);
    std::uint64_t uncompressed = get_le32(fixed.data() + 22);
    const std::uint32_t crc = get_le32(fixed.data() + 14);
    const bool resolved = resolve_zip64(variable.data() + name_len, extra_len,
                                        {&uncompressed, &compressed, nullptr}, what);
    auto disagree = [&](const char* field, std::uint64_t local, std::uint64_t central) {
      throw FormatError(what + ": the local file header gives " + field + " " +
                        std::to_string(local) + ", the central directory " +
                        std::to_string(central) + " (corrupt archive or lying sizes)");
    };
    if (crc != entry.crc32) disagree("CRC-32", crc, entry.crc32);
    if (resolved && compressed != entry.compressed_size) {
      disagree("compressed size", compressed, entry.compressed_size);
    }
    if (resolved && uncompressed != entry.uncompressed_size) {
      disagree("uncompressed size", uncompressed, entry.uncompressed_size);
    }
  }
  if (entry.compressed_size > central_directory_offset - header_end) {
    throw FormatError(what + ": " + std::to_string(entry.compressed_size) +
                      " bytes of member data at offset " + std::to_string(header_end) +
                      " run past the start of the central directory at offset " +
                      std::to_string(central_directory_offset) +
                      " (truncated archive or lying size)");
  }
  return header_end;
}

}  // namespace ndbridge::detail
