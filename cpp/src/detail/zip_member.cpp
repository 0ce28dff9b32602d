#include "detail/zip_member.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <new>
#include <stdexcept>
#include <utility>
#include <vector>

#include "ndbridge/error.hpp"

namespace ndbridge::detail {

namespace {

// Data moves in pieces of this size, so the CRC is computed while a piece is
// still in cache rather than in a second pass over the whole array.
constexpr std::size_t kPiece = std::size_t{1} << 20;

std::string hex32(std::uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", static_cast<unsigned>(value));
  return text;
}

const char* method_name(std::uint16_t method) {
  switch (method) {
    case 1: return "shrink";
    case 6: return "implode";
    case 9: return "deflate64";
    case 12: return "bzip2";
    case 14: return "lzma";
    case 93: return "zstd";
    case 95: return "xz";
    case 98: return "ppmd";
    default: return "unknown";
  }
}

// The part of MemberSource both kinds share: the name, the declared size,
// how far reading got, and the running CRC.
class CheckedMember : public MemberSource {
 public:
  CheckedMember(std::string label, const ZipEntry& entry)
      : label_(std::move(label)), size_(entry.uncompressed_size), expected_crc_(entry.crc32) {}

  std::optional<std::uint64_t> size() override { return size_; }
  const std::string& name() const override { return label_; }

  std::size_t read_at(void* buffer, std::size_t n, std::uint64_t offset) override {
    if (offset > position_) {
      throw std::logic_error(label_ + ": archive members are read in order");
    }
    n = static_cast<std::size_t>(std::min<std::uint64_t>(n, size_ - std::min(size_, offset)));
    auto* out = static_cast<std::byte*>(buffer);
    // Bytes already read are read again only from a stored member, whose
    // data can be fetched twice; they are not counted in the CRC again.
    const std::size_t again = static_cast<std::size_t>(std::min<std::uint64_t>(n, position_ - offset));
    if (again > 0) reread(out, again, offset);
    for (std::size_t done = again; done < n;) {
      const std::size_t got = produce(out + done, std::min(n - done, kPiece));
      crc_ = crc32_z(crc_, reinterpret_cast<const Bytef*>(out + done), got);
      done += got;
      position_ += got;
    }
    return n;
  }

 protected:
  // Fills exactly `n` bytes at position_ or throws.
  virtual std::size_t produce(std::byte* out, std::size_t n) = 0;
  virtual void reread(std::byte* out, std::size_t n, std::uint64_t offset) = 0;

  void check_crc() const {
    if (position_ != size_) {
      throw FormatError(label_ + ": only " + std::to_string(position_) + " of its " +
                        std::to_string(size_) + " bytes were read");
    }
    if (crc_ != expected_crc_) {
      throw FormatError(label_ + ": CRC-32 mismatch: the archive records " +
                        hex32(expected_crc_) + ", the data gives " +
                        hex32(static_cast<std::uint32_t>(crc_)) + " (corrupt member)");
    }
  }

  std::string label_;
  std::uint64_t size_;
  std::uint64_t position_ = 0;

 private:
  std::uint32_t expected_crc_;
  uLong crc_ = crc32_z(0, Z_NULL, 0);
};

class StoredMember final : public CheckedMember {
 public:
  StoredMember(const File& file, const ZipEntry& entry, std::uint64_t data_offset, std::string label)
      : CheckedMember(std::move(label), entry), file_(file), data_offset_(data_offset) {}

  void finish() override { check_crc(); }

 private:
  std::size_t produce(std::byte* out, std::size_t n) override {
    reread(out, n, position_);
    return n;
  }
  void reread(std::byte* out, std::size_t n, std::uint64_t offset) override {
    if (file_.read_at(out, n, data_offset_ + offset) != n) {
      throw FormatError(label_ + ": the archive ends inside the member's data (the file "
                                 "shrank while it was read)");
    }
  }

  const File& file_;
  std::uint64_t data_offset_;
};

class InflatingMember final : public CheckedMember {
 public:
  InflatingMember(const File& file, const ZipEntry& entry, std::uint64_t data_offset,
                  std::string label)
      : CheckedMember(std::move(label), entry),
        file_(file),
        next_in_(data_offset),
        end_in_(data_offset + entry.compressed_size),
        input_(static_cast<std::size_t>(std::min<std::uint64_t>(kPiece, entry.compressed_size))) {
    // Negative window bits: a raw deflate stream, as zip stores it.
    if (inflateInit2(&stream_, -MAX_WBITS) != Z_OK) throw std::bad_alloc();
  }
  InflatingMember(const InflatingMember&) = delete;
  InflatingMember& operator=(const InflatingMember&) = delete;
  ~InflatingMember() override { inflateEnd(&stream_); }

  void finish() override {
    // The stream must end where the declared size does, not go on.
    std::byte probe[64];
    while (!ended_) {
      const std::size_t got = step(probe, sizeof probe);
      if (got > 0) {
        throw FormatError(label_ + ": the deflate data inflates to more than the " +
                          std::to_string(size_) + " bytes the archive declares");
      }
    }
    check_crc();
  }

 private:
  std::size_t produce(std::byte* out, std::size_t n) override {
    std::size_t done = 0;
    while (done < n) {
      if (ended_) {
        throw FormatError(label_ + ": the deflate data ends after " +
                          std::to_string(position_ + done) + " bytes, but the archive declares " +
                          std::to_string(size_));
      }
      done += step(out + done, n - done);
    }
    return done;
  }

  void reread(std::byte*, std::size_t, std::uint64_t) override {
    throw std::logic_error(label_ + ": inflated bytes cannot be read twice");
  }

  // One inflate call into out[0, n); returns how many bytes it produced.
  std::size_t step(std::byte* out, std::size_t n) {
    if (stream_.avail_in == 0 && next_in_ < end_in_) {
      const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(input_.size(), end_in_ - next_in_));
      if (file_.read_at(input_.data(), want, next_in_) != want) {
        throw FormatError(label_ + ": the archive ends inside the member's data (the file "
                                   "shrank while it was read)");
      }
      next_in_ += want;
      stream_.next_in = reinterpret_cast<Bytef*>(input_.data());
      stream_.avail_in = static_cast<uInt>(want);
    }
    stream_.next_out = reinterpret_cast<Bytef*>(out);
    stream_.avail_out = static_cast<uInt>(n);
    const int status = inflate(&stream_, Z_NO_FLUSH);
    const std::size_t got = n - stream_.avail_out;
    switch (status) {
      case Z_OK:
        break;
      case Z_STREAM_END:
        ended_ = true;
        break;
      case Z_BUF_ERROR:  // no progress: the input ran out before the stream ended
        throw FormatError(label_ + ": the deflate data is cut short (truncated or corrupt "
                                   "member, or a lying compressed size)");
      case Z_MEM_ERROR:
        throw std::bad_alloc();
      default:  // Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR
        throw FormatError(label_ + ": corrupt deflate data (" +
                          (stream_.msg ? std::string(stream_.msg) : "zlib error " + std::to_string(status)) +
                          ")");
    }
    return got;
  }

  const File& file_;
  std::uint64_t next_in_;
  std::uint64_t end_in_;
  std::vector<std::byte> input_;
  z_stream stream_{};
  bool ended_ = false;
};

}  // namespace

void check_zip_member_supported(const ZipEntry& entry, const std::string& label) {
  // WinZip's AES marks itself as method 99 as well as by the flag.
  if ((entry.flags & (kZipFlagEncrypted | kZipFlagStrongEncryption)) || entry.method == 99) {
    throw UnsupportedError(label + ": the member is encrypted; ndbridge reads only unencrypted "
                                   "archives");
  }
  if (entry.method != kZipMethodStored && entry.method != kZipMethodDeflated) {
    throw UnsupportedError(label + ": compression method " + std::to_string(entry.method) + " (" +
                           method_name(entry.method) +
                           ") is not supported; ndbridge reads stored and deflated members, "
                           "as numpy.savez and numpy.savez_compressed write them");
  }
}

std::unique_ptr<MemberSource> open_zip_member(const File& file, const ZipEntry& entry,
                                              std::uint64_t data_offset, std::string label) {
  check_zip_member_supported(entry, label);
  if (entry.method == kZipMethodStored) {
    if (entry.compressed_size != entry.uncompressed_size) {
      throw FormatError(label + ": a stored member whose sizes differ (" +
                        std::to_string(entry.compressed_size) + " bytes in the archive, " +
                        std::to_string(entry.uncompressed_size) + " declared uncompressed)");
    }
    return std::make_unique<StoredMember>(file, entry, data_offset, std::move(label));
  }
  return std::make_unique<InflatingMember>(file, entry, data_offset, std::move(label));
}

}  // namespace ndbridge::detail
