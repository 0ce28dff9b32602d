#pragma once

#include <complex>
#include <limits>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace ndbridge {

/// What an element is, independent of its size and byte order.
enum class Kind : char {
  Bool = 'b',      ///< one byte, 0 or 1
  Int = 'i',       ///< signed two's-complement integer
  UInt = 'u',      ///< unsigned integer
  Float = 'f',     ///< IEEE 754 binary16/32/64
  Complex = 'c',   ///< two IEEE floats, real then imaginary
  Bytes = 'S',     ///< fixed-length byte string, NUL padded
  Unicode = 'U',   ///< fixed-length UCS-4 string, NUL padded
};

/// Byte order of the elements as stored.
enum class ByteOrder : char {
  Little = '<',  ///< least significant byte first
  Big = '>',     ///< most significant byte first
  NotApplicable = '|',  ///< one-byte elements and byte strings
};

/// Byte order of the machine this library was compiled for.
ByteOrder native_byte_order() noexcept;

/// An IEEE 754 binary16 value, kept as its bit pattern. C++17 has no half
/// type; this lets `Array::data<float16>()` name the element type.
struct float16 {
  /// The binary16 bit pattern: sign, 5 exponent bits, 10 fraction bits.
  std::uint16_t bits = 0;

  /// Exact conversion to float (every binary16 value is a float).
  float to_float() const noexcept;
  /// Round-to-nearest-even conversion from float.
  static float16 from_float(float value) noexcept;
};

/// The element type of an array: the one place that maps numpy's `descr`
/// strings, C++ element types (and, with HDF5, HDF5 types) onto each other.
/// The Python binding asks this class rather than keeping a table of its own.
class DType {
 public:
  /// Builds a dtype after checking that kind, size and byte order fit
  /// together; throws UnsupportedError otherwise.
  DType(Kind kind, std::size_t itemsize, ByteOrder order);

  /// Parses a numpy type string such as "<f4", "|b1", ">c16", "<U7", "|S3".
  /// A missing or "=" byte order means native. Throws UnsupportedError for
  /// valid numpy types outside the supported set (object "O", void "V",
  /// datetime "M"/"m", ...) and for strings numpy itself would not accept.
  static DType from_descr(std::string_view descr);

  /// The numpy type string, as `numpy.dtype.str` spells it: "<f4", "|u1",
  /// "|b1", "<U7" (for Unicode the count is in characters, not bytes).
  std::string descr() const;

  /// The dtype of C++ type T: bool, fixed-width integers, float, double,
  /// std::complex<float|double>, float16. Native byte order.
  template <class T>
  static DType of();

  /// What an element is.
  Kind kind() const noexcept { return kind_; }
  /// Size of one element in bytes (for Unicode, 4 bytes per character).
  std::size_t itemsize() const noexcept { return itemsize_; }
  /// Byte order of the elements as stored.
  ByteOrder byte_order() const noexcept { return order_; }
  /// True when the elements can be used as C++ values on this machine
  /// without swapping bytes.
  bool is_native() const noexcept;
  /// The same dtype in native byte order (byte strings and one-byte types
  /// are returned unchanged).
  DType native() const;
  /// Size in bytes of the unit that a byte swap reverses: the itemsize for
  /// numbers, half of it for complex, 4 for Unicode, 1 when nothing swaps.
  std::size_t swap_unit() const noexcept;

  /// Same kind, itemsize and byte order.
  friend bool operator==(const DType& a, const DType& b) noexcept {
    return a.kind_ == b.kind_ && a.itemsize_ == b.itemsize_ && a.order_ == b.order_;
  }
  /// Not operator==.
  friend bool operator!=(const DType& a, const DType& b) noexcept { return !(a == b); }

 private:
  Kind kind_;
  std::size_t itemsize_;
  ByteOrder order_;
};

namespace detail {
template <class T>
struct is_complex : std::false_type {};
template <class T>
struct is_complex<std::complex<T>> : std::true_type {};
template <class T>
inline constexpr bool dependent_false = false;
}  // namespace detail

/// True for the C++ types that DType::of<T>() maps: bool, the fixed-width
/// integers, float, double, std::complex<float|double> and float16. Plain
/// `char` is left out (it is text or raw bytes, not a number), so typed
/// reads into a `char*` or `std::byte*` buffer take the untyped overload.
template <class T>
inline constexpr bool is_element_type_v =
    std::is_same_v<std::remove_cv_t<T>, bool> || std::is_same_v<std::remove_cv_t<T>, float16> ||
    std::is_same_v<std::remove_cv_t<T>, float> || std::is_same_v<std::remove_cv_t<T>, double> ||
    std::is_same_v<std::remove_cv_t<T>, std::complex<float>> ||
    std::is_same_v<std::remove_cv_t<T>, std::complex<double>> ||
    (std::is_integral_v<T> && !std::is_same_v<std::remove_cv_t<T>, char> &&
     !std::is_same_v<std::remove_cv_t<T>, wchar_t> && !std::is_same_v<std::remove_cv_t<T>, char16_t> &&
     !std::is_same_v<std::remove_cv_t<T>, char32_t>);

template <class T>
DType DType::of() {
  using U = std::remove_cv_t<T>;
  constexpr std::size_t n = sizeof(U);
  if constexpr (std::is_same_v<U, bool>) {
    static_assert(n == 1, "ndbridge needs a one-byte bool");
    return DType(Kind::Bool, 1, ByteOrder::NotApplicable);
  } else if constexpr (std::is_integral_v<U>) {
    const ByteOrder order = n == 1 ? ByteOrder::NotApplicable : native_byte_order();
    return DType(std::is_signed_v<U> ? Kind::Int : Kind::UInt, n, order);
  } else if constexpr (std::is_same_v<U, float16>) {
    return DType(Kind::Float, 2, native_byte_order());
  } else if constexpr (std::is_floating_point_v<U>) {
    static_assert(std::numeric_limits<U>::is_iec559 && (n == 4 || n == 8),
                  "only IEEE float and double map onto numpy types");
    return DType(Kind::Float, n, native_byte_order());
  } else if constexpr (detail::is_complex<U>::value) {
    static_assert(std::numeric_limits<typename U::value_type>::is_iec559,
                  "only complex<float> and complex<double> map onto numpy types");
    return DType(Kind::Complex, n, native_byte_order());
  } else {
    static_assert(detail::dependent_false<U>, "this C++ type has no numpy dtype");
  }
}

}  // namespace ndbridge
