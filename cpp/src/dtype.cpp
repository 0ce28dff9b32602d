#include "ndbridge/dtype.hpp"

#include <cstring>
#include <limits>
#include <string>

#include "detail/descr.hpp"
#include "ndbridge/error.hpp"

namespace ndbridge {

namespace {

// numpy refuses element sizes above INT_MAX; so do we, which also keeps every
// itemsize product below well away from overflow.
constexpr std::size_t kMaxItemsize = std::numeric_limits<int>::max();

bool valid_numeric_size(Kind kind, std::size_t n) {
  switch (kind) {
    case Kind::Bool: return n == 1;
    case Kind::Int:
    case Kind::UInt: return n == 1 || n == 2 || n == 4 || n == 8;
    case Kind::Float: return n == 2 || n == 4 || n == 8;
    case Kind::Complex: return n == 8 || n == 16;
    case Kind::Bytes: return n >= 1 && n <= kMaxItemsize;
    case Kind::Unicode: return n >= 4 && n % 4 == 0 && n <= kMaxItemsize;
  }
  return false;
}

std::string kind_name(Kind kind) {
  switch (kind) {
    case Kind::Bool: return "bool";
    case Kind::Int: return "signed integer";
    case Kind::UInt: return "unsigned integer";
    case Kind::Float: return "float";
    case Kind::Complex: return "complex";
    case Kind::Bytes: return "byte string";
    case Kind::Unicode: return "unicode string";
  }
  return "unknown";
}

}  // namespace

ByteOrder native_byte_order() noexcept {
  const std::uint16_t probe = 1;
  unsigned char first = 0;
  std::memcpy(&first, &probe, 1);
  return first == 1 ? ByteOrder::Little : ByteOrder::Big;
}

float float16::to_float() const noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
  const std::uint32_t exponent = (bits >> 10) & 0x1fu;
  std::uint32_t mantissa = bits & 0x3ffu;
  std::uint32_t out;
  if (exponent == 0x1f) {
    out = sign | 0x7f800000u | (mantissa << 13);  // inf or NaN, payload kept
  } else if (exponent != 0) {
    out = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    out = sign;
  } else {
    // Subnormal half: normalise it, every one is a normal float.
    std::uint32_t e = 113;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --e;
    }
    out = sign | (e << 23) | ((mantissa & 0x3ffu) << 13);
  }
  float result;
  std::memcpy(&result, &out, sizeof result);
  return result;
}

float16 float16::from_float(float value) noexcept {
  std::uint32_t x;
  std::memcpy(&x, &value, sizeof x);
  const auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  const std::uint32_t exponent = (x >> 23) & 0xffu;
  const std::uint32_t mantissa = x & 0x7fffffu;
  if (exponent == 0xff) {
    // Keep NaN a NaN even when its payload sits only in the low bits.
    const std::uint32_t payload = mantissa ? ((mantissa >> 13) | 0x200u) : 0;
    return float16{static_cast<std::uint16_t>(sign | 0x7c00u | payload)};
  }
  const int e = static_cast<int>(exponent) - 127 + 15;
  if (e >= 0x1f) return float16{static_cast<std::uint16_t>(sign | 0x7c00u)};
  if (e <= 0) {
    if (e < -10) return float16{sign};
    const std::uint32_t m = mantissa | 0x800000u;
    const auto shift = static_cast<std::uint32_t>(14 - e);
    std::uint32_t half = m >> shift;
    const std::uint32_t rest = m & ((1u << shift) - 1);
    const std::uint32_t halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (half & 1u))) ++half;
    return float16{static_cast<std::uint16_t>(sign | half)};
  }
  std::uint32_t half = (static_cast<std::uint32_t>(e) << 10) | (mantissa >> 13);
  const std::uint32_t rest = mantissa & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;  // may carry into inf: correct
  return float16{static_cast<std::uint16_t>(sign | half)};
}

DType::DType(Kind kind, std::size_t itemsize, ByteOrder order)
    : kind_(kind), itemsize_(itemsize), order_(order) {
  if (!valid_numeric_size(kind, itemsize)) {
    throw UnsupportedError("a " + kind_name(kind) + " element of " + std::to_string(itemsize) +
                           " bytes has no numpy equivalent supported by ndbridge");
  }
  // numpy's rules: single bytes and byte strings have no byte order, and "no
  // order" on a wider type means native.
  if (swap_unit() == 1) {
    order_ = ByteOrder::NotApplicable;
  } else if (order_ == ByteOrder::NotApplicable) {
    order_ = native_byte_order();
  }
}

DType DType::from_descr(std::string_view descr) { return detail::parse_descr(descr, ""); }

std::string DType::descr() const {
  const std::size_t count = kind_ == Kind::Unicode ? itemsize_ / 4 : itemsize_;
  std::string out;
  out += static_cast<char>(order_);
  out += static_cast<char>(kind_);
  out += std::to_string(count);
  return out;
}

bool DType::is_native() const noexcept {
  return order_ == ByteOrder::NotApplicable || order_ == native_byte_order();
}

DType DType::native() const { return DType(kind_, itemsize_, native_byte_order()); }

std::size_t DType::swap_unit() const noexcept {
  switch (kind_) {
    case Kind::Bool:
    case Kind::Bytes: return 1;
    case Kind::Unicode: return 4;
    case Kind::Complex: return itemsize_ / 2;
    default: return itemsize_;
  }
}

}  // namespace ndbridge
