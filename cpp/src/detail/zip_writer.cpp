#include "detail/zip_writer.hpp"

#include <zlib.h>

#include <algorithm>
#include <ctime>
#include <new>
#include <vector>

#include "detail/zip.hpp"
#include "ndbridge/error.hpp"

namespace ndbridge::detail {

namespace {

// Python's zipfile switches to zip64 fields above 2**31 - 1 rather than
// 2**32 - 1, for readers that take the 32-bit fields as signed; so do we.
constexpr std::uint64_t kZip64Limit = (std::uint64_t{1} << 31) - 1;
constexpr std::uint64_t kMaxEntries16 = 0xffff;
// Version made by: 4.5 on Unix, as Python's zipfile writes for zip64 members.
constexpr std::uint16_t kMadeBy = (3u << 8) | kZipVersionZip64;
// rw------- for Unix unzip, what zipfile.ZipFile.open(name, "w") gives.
constexpr std::uint32_t kExternalAttributes = 0600u << 16;
// Input goes to zlib and the CRC in pieces of this size, output leaves in
// pieces of this size: bounded memory, and the CRC reads cached bytes.
constexpr std::size_t kPiece = std::size_t{1} << 20;
// The zip64 extra field of a local header: id, size, uncompressed and
// compressed sizes.
constexpr std::size_t kLocalZip64Extra = 20;

std::uint32_t saturate32(std::uint64_t value, bool& zip64) {
  if (value <= kZip64Limit) return static_cast<std::uint32_t>(value);
  zip64 = true;
  return 0xffffffffu;
}

class Deflater {
 public:
  explicit Deflater(const std::string& name) : name_(name) {
    // Python's zipfile: default level, raw deflate, default memory level.
    if (deflateInit2(&stream_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
      throw std::bad_alloc();
    }
  }
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;
  ~Deflater() { deflateEnd(&stream_); }

  // Compresses `n` bytes (n fits in uInt), handing output to `out`.
  template <class Out>
  void run(const void* data, std::size_t n, int flush, Out&& out) {
    stream_.next_in = static_cast<Bytef*>(const_cast<void*>(data));
    stream_.avail_in = static_cast<uInt>(n);
    do {
      stream_.next_out = reinterpret_cast<Bytef*>(buffer_.data());
      stream_.avail_out = static_cast<uInt>(buffer_.size());
      const int status = deflate(&stream_, flush);
      if (status == Z_STREAM_ERROR) throw Error(name_ + ": zlib's deflate failed");
      out(buffer_.data(), buffer_.size() - stream_.avail_out);
    } while (stream_.avail_out == 0);  // zlib has consumed all input once output is left over
  }

 private:
  const std::string& name_;
  z_stream stream_{};
  std::vector<std::byte> buffer_ = std::vector<std::byte>(kPiece);
};

}  // namespace

ZipWriter::ZipWriter(File& file) : file_(file) {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  if (::localtime_r(&now, &local) != nullptr && local.tm_year >= 80) {
    dos_time_ = static_cast<std::uint16_t>((local.tm_hour << 11) | (local.tm_min << 5) |
                                           (local.tm_sec / 2));
    dos_date_ = static_cast<std::uint16_t>(((local.tm_year - 80) << 9) |
                                           ((local.tm_mon + 1) << 5) | local.tm_mday);
  } else {
    dos_date_ = (1 << 5) | 1;  // 1980-01-01, the earliest date zip can record
  }
}

std::string ZipWriter::local_header(const Entry& e) const {
  std::string h;
  put_le32(h, kZipLocalSignature);
  put_le16(h, kZipVersionZip64);
  put_le16(h, e.flags);
  put_le16(h, e.method);
  put_le16(h, dos_time_);
  put_le16(h, dos_date_);
  put_le32(h, e.crc32);
  put_le32(h, 0xffffffffu);
  put_le32(h, 0xffffffffu);
  put_le16(h, e.name.size());
  put_le16(h, kLocalZip64Extra);
  h += e.name;
  put_le16(h, kZip64ExtraId);
  put_le16(h, kLocalZip64Extra - 4);
  put_le64(h, e.uncompressed_size);
  put_le64(h, e.compressed_size);
  return h;
}

void ZipWriter::add(const std::string& name, bool deflate,
                    const std::function<void(const Sink&)>& produce) {
  Entry e;
  e.name = name;
  e.method = deflate ? kZipMethodDeflated : kZipMethodStored;
  e.flags = std::any_of(name.begin(), name.end(), [](char c) { return (c & 0x80) != 0; })
                ? kZipFlagUtf8
                : 0;
  e.offset = offset_;
  const std::string placeholder = local_header(e);
  file_.write_all(placeholder.data(), placeholder.size());

  uLong crc = crc32_z(0, Z_NULL, 0);
  auto emit = [&](const void* p, std::size_t n) {
    file_.write_all(p, n);
    e.compressed_size += n;
  };
  // Each piece is checksummed and then compressed or written while cached.
  auto for_pieces = [&](const void* data, std::size_t n, auto&& each) {
    const auto* bytes = static_cast<const Bytef*>(data);
    for (std::size_t done = 0; done < n;) {
      const std::size_t piece = std::min(n - done, kPiece);
      crc = crc32_z(crc, bytes + done, piece);
      each(bytes + done, piece);
      done += piece;
    }
    e.uncompressed_size += n;
  };
  if (deflate) {
    Deflater deflater(file_.name());
    produce([&](const void* data, std::size_t n) {
      for_pieces(data, n, [&](const Bytef* p, std::size_t k) {
        deflater.run(p, k, Z_NO_FLUSH, emit);
      });
    });
    deflater.run(nullptr, 0, Z_FINISH, emit);
  } else {
    produce([&](const void* data, std::size_t n) { for_pieces(data, n, emit); });
  }
  e.crc32 = static_cast<std::uint32_t>(crc);
  const std::string header = local_header(e);
  file_.write_at(header.data(), header.size(), e.offset);
  offset_ += header.size() + e.compressed_size;
  entries_.push_back(std::move(e));
}

void ZipWriter::finish() {
  const std::uint64_t cd_offset = offset_;
  std::string cd;
  for (const Entry& e : entries_) {
    bool zip64 = false;
    // Python's zipfile moves both sizes into the extra field when either needs it.
    const bool big = e.uncompressed_size > kZip64Limit || e.compressed_size > kZip64Limit;
    std::string extra;
    if (big) {
      put_le64(extra, e.uncompressed_size);
      put_le64(extra, e.compressed_size);
      zip64 = true;
    }
    const std::uint32_t offset32 = saturate32(e.offset, zip64);
    if (offset32 == 0xffffffffu) put_le64(extra, e.offset);
    if (!extra.empty()) {
      std::string field;
      put_le16(field, kZip64ExtraId);
      put_le16(field, extra.size());
      extra = field + extra;
    }
    put_le32(cd, kZipCentralSignature);
    put_le16(cd, kMadeBy);
    put_le16(cd, zip64 ? kZipVersionZip64 : kZipVersionDeflate);
    put_le16(cd, e.flags);
    put_le16(cd, e.method);
    put_le16(cd, dos_time_);
    put_le16(cd, dos_date_);
    put_le32(cd, e.crc32);
    put_le32(cd, big ? 0xffffffffu : e.compressed_size);
    put_le32(cd, big ? 0xffffffffu : e.uncompressed_size);
    put_le16(cd, e.name.size());
    put_le16(cd, extra.size());
    put_le16(cd, 0);  // comment
    put_le16(cd, 0);  // disk
    put_le16(cd, 0);  // internal attributes
    put_le32(cd, kExternalAttributes);
    put_le32(cd, offset32);
    cd += e.name;
    cd += extra;
  }
  const std::uint64_t count = entries_.size();
  const std::uint64_t cd_size = cd.size();
  if (count > kMaxEntries16 || cd_offset > kZip64Limit || cd_size > kZip64Limit) {
    const std::uint64_t z64_offset = cd_offset + cd_size;
    put_le32(cd, kZip64EndSignature);
    put_le64(cd, kZip64EndSize - 12);  // size of the rest of the record
    put_le16(cd, kMadeBy);
    put_le16(cd, kZipVersionZip64);
    put_le32(cd, 0);  // this disk
    put_le32(cd, 0);  // disk with the central directory
    put_le64(cd, count);
    put_le64(cd, count);
    put_le64(cd, cd_size);
    put_le64(cd, cd_offset);
    put_le32(cd, kZip64LocatorSignature);
    put_le32(cd, 0);
    put_le64(cd, z64_offset);
    put_le32(cd, 1);  // total disks
  }
  put_le32(cd, kZipEndSignature);
  put_le16(cd, 0);
  put_le16(cd, 0);
  put_le16(cd, std::min(count, kMaxEntries16));
  put_le16(cd, std::min(count, kMaxEntries16));
  put_le32(cd, std::min<std::uint64_t>(cd_size, 0xffffffffu));
  put_le32(cd, std::min<std::uint64_t>(cd_offset, 0xffffffffu));
  put_le16(cd, 0);  // comment
  file_.write_all(cd.data(), cd.size());
  offset_ += cd.size();
}

}  // namespace ndbridge::detail
