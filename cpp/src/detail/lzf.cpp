#include "detail/lzf.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>

namespace ndbridge::detail {
namespace {

constexpr std::size_t kMaxLiteralRun = 32;  // control bytes 0..31
constexpr std::size_t kMaxDistance = 8192;  // the 13-bit field stores distance - 1
// A length field of 0 would read as a literal control byte, so the shortest
// reference covers 3 bytes; the longest has the field at 7 + 255.
constexpr std::size_t kMinMatch = 3;
constexpr std::size_t kMaxMatch = 7 + 255 + 2;

// The hash table grows with the input up to 2^16 slots (256 KiB). On data
// without matches, a larger table compressed 1.5-1.8x faster when measured:
// most slots then point more than 8 KiB back, so the candidate is turned down
// by a well predicted distance test instead of a coin-toss byte comparison.
// Inputs up to 4 KiB, and any input when the heap is short, use 2^12 slots on
// the stack.
constexpr unsigned kMinHashBits = 12;
constexpr unsigned kMaxHashBits = 16;

std::uint32_t load3(const std::byte* p) noexcept {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16;
}

std::uint32_t hash3(std::uint32_t v, unsigned bits) noexcept {
  // Fibonacci hashing: the top bits of the product depend on all input bits.
  return (v * 2654435761u) >> (32 - bits);
}

std::uint64_t load64(const std::byte* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

/// Appends items to the output, refusing any that would not fit.
class Writer {
 public:
  Writer(std::byte* out, std::size_t capacity) noexcept : out_(out), capacity_(capacity) {}

  std::size_t size() const noexcept { return size_; }

  /// Writes p[0, n) as literal runs of at most 32 bytes.
  bool literals(const std::byte* p, std::size_t n) noexcept {
    while (n > 0) {
      const std::size_t run = std::min(n, kMaxLiteralRun);
      if (capacity_ - size_ < run + 1) return false;
      out_[size_++] = static_cast<std::byte>(run - 1);
      std::memcpy(out_ + size_, p, run);
      size_ += run;
      p += run;
      n -= run;
    }
    return true;
  }

  /// Writes a reference to `length` bytes starting `distance` bytes back.
  bool reference(std::size_t length, std::size_t distance) noexcept {
    const std::size_t field = length - 2;
    const std::size_t d = distance - 1;
    const auto d_high = static_cast<std::byte>(d >> 8);
    if (field < 7) {
      if (capacity_ - size_ < 2) return false;
      out_[size_++] = static_cast<std::byte>(field << 5) | d_high;
    } else {
      if (capacity_ - size_ < 3) return false;
      out_[size_++] = std::byte{7 << 5} | d_high;
      out_[size_++] = static_cast<std::byte>(field - 7);
    }
    out_[size_++] = static_cast<std::byte>(d & 0xff);
    return true;
  }

 private:
  std::byte* out_;
  std::size_t capacity_;
  std::size_t size_ = 0;
};

std::size_t fail(LzfError* error, LzfError why) noexcept {
  if (error != nullptr) *error = why;
  return 0;
}

}  // namespace

std::size_t lzf_compress(const std::byte* in, std::size_t in_size, std::byte* out,
                         std::size_t out_capacity) noexcept {
  if (in_size == 0) return 0;
  // Each slot holds the last position (mod 2^32) whose next 3 bytes hashed
  // there. Only the distance matters, and unsigned subtraction recovers it for
  // any input size; a stale or colliding slot is caught by comparing bytes.
  unsigned bits = kMinHashBits;
  while (bits < kMaxHashBits && (std::size_t{1} << bits) < in_size) ++bits;
  std::uint32_t local[std::size_t{1} << kMinHashBits];
  std::unique_ptr<std::uint32_t[]> heap;
  if (bits > kMinHashBits) heap.reset(new (std::nothrow) std::uint32_t[std::size_t{1} << bits]);
  if (!heap) bits = kMinHashBits;
  std::uint32_t* const table = heap ? heap.get() : local;
  std::fill_n(table, std::size_t{1} << bits, 0u);
  Writer writer(out, out_capacity);
  std::size_t anchor = 0;  // first byte not yet written
  std::size_t ip = 0;
  while (in_size - ip >= kMinMatch) {
    const std::byte* cur = in + ip;
    const std::uint32_t next3 = load3(cur);
    std::uint32_t& slot = table[hash3(next3, bits)];
    const std::size_t distance = static_cast<std::uint32_t>(static_cast<std::uint32_t>(ip) - slot);
    slot = static_cast<std::uint32_t>(ip);
    // distance <= ip always holds (slots only hold earlier positions); it is
    // tested anyway so that no reasoning about the table guards the read.
    if (distance == 0 || distance > std::min(kMaxDistance, ip) || load3(cur - distance) != next3) {
      ++ip;
      continue;
    }
    const std::byte* ref = cur - distance;
    const std::size_t limit = std::min(kMaxMatch, in_size - ip);
    std::size_t length = kMinMatch;
    while (length + 8 <= limit && load64(ref + length) == load64(cur + length)) length += 8;
    while (length < limit && ref[length] == cur[length]) ++length;

    if (!writer.literals(in + anchor, ip - anchor) || !writer.reference(length, distance)) return 0;
    // Only the last two positions are indexed: long runs stay fast, and the
    // next match can still start right after this one.
    const std::size_t end = ip + length;
    for (std::size_t p = std::max(ip + 1, end - 2); p < end && in_size - p >= kMinMatch; ++p) {
      table[hash3(load3(in + p), bits)] = static_cast<std::uint32_t>(p);
    }
    ip = anchor = end;
  }
  if (!writer.literals(in + anchor, in_size - anchor)) return 0;
  return writer.size();
}

std::size_t lzf_decompress(const std::byte* in, std::size_t in_size, std::byte* out,
                           std::size_t out_capacity, LzfError* error) noexcept {
  if (error != nullptr) *error = LzfError::None;
  std::size_t ip = 0;
  std::size_t op = 0;  // counts on past the capacity once `fits` is false
  // Once out of room the rest is still parsed, without copying, so that a
  // corrupt stream is Corrupt whatever the capacity: a caller that grows the
  // buffer on OutputTooSmall is never sent round again by a broken stream.
  bool fits = true;
  while (ip < in_size) {
    const auto c = static_cast<std::size_t>(in[ip++]);
    if (c < 32) {
      const std::size_t run = c + 1;
      if (in_size - ip < run) return fail(error, LzfError::Corrupt);
      fits = fits && out_capacity - op >= run;
      if (fits) std::memcpy(out + op, in + ip, run);
      ip += run;
      op += run;
      continue;
    }
    std::size_t length = c >> 5;
    if (length == 7) {
      if (ip == in_size) return fail(error, LzfError::Corrupt);
      length += static_cast<std::size_t>(in[ip++]);
    }
    if (ip == in_size) return fail(error, LzfError::Corrupt);
    const std::size_t distance = ((c & 31) << 8 | static_cast<std::size_t>(in[ip++])) + 1;
    if (distance > op) return fail(error, LzfError::Corrupt);
    length += 2;
    fits = fits && out_capacity - op >= length;
    if (fits) {
      std::byte* dst = out + op;
      const std::byte* src = dst - distance;
      if (distance >= length) {
        std::memcpy(dst, src, length);
      } else if (distance == 1) {
        std::memset(dst, static_cast<int>(src[0]), length);
      } else {
        // Overlapping: each byte may be one this same reference just wrote.
        for (std::size_t i = 0; i < length; ++i) dst[i] = src[i];
      }
    }
    op += length;
  }
  return fits ? op : fail(error, LzfError::OutputTooSmall);
}

}  // namespace ndbridge::detail
