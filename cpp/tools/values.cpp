#include "values.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <complex>
#include <cstdio>
#include <cstring>
#include <vector>

namespace ndbridge::tools {

namespace {

// The shortest round-trip digits of a float or double in scientific form:
// sign, the digits without the point, and the decimal exponent of the first.
struct Digits {
  bool negative = false;
  std::string digits;
  int exponent = 0;
};

Digits shortest_digits(double value, bool single, int max_fraction = -1) {
  char buf[64];
  std::to_chars_result r;
  if (max_fraction < 0) {
    r = single ? std::to_chars(buf, buf + sizeof buf, static_cast<float>(value),
                               std::chars_format::scientific)
               : std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
  } else {
    r = single ? std::to_chars(buf, buf + sizeof buf, static_cast<float>(value),
                               std::chars_format::scientific, max_fraction)
               : std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific,
                               max_fraction);
  }
  std::string text(buf, r.ptr);
  Digits d;
  std::size_t i = 0;
  if (text[0] == '-') {
    d.negative = true;
    i = 1;
  }
  const std::size_t e = text.find('e');
  for (std::size_t k = i; k < e; ++k)
    if (text[k] != '.') d.digits += text[k];
  d.exponent = std::stoi(text.substr(e + 1));
  while (d.digits.size() > 1 && d.digits.back() == '0') d.digits.pop_back();
  return d;
}

std::string exponent_text(int exponent, std::size_t min_digits) {
  std::string digits = std::to_string(std::abs(exponent));
  if (digits.size() < min_digits) digits.insert(0, min_digits - digits.size(), '0');
  return std::string(exponent < 0 ? "e-" : "e+") + digits;
}

// Positional text of d: integer part and fraction digits (possibly empty).
std::pair<std::string, std::string> positional(const Digits& d) {
  std::string integer, fraction;
  if (d.exponent >= 0) {
    const auto n = static_cast<std::size_t>(d.exponent) + 1;
    integer = d.digits.substr(0, std::min(n, d.digits.size()));
    if (integer.size() < n) integer.append(n - integer.size(), '0');
    if (d.digits.size() > n) fraction = d.digits.substr(n);
  } else {
    integer = "0";
    fraction = std::string(static_cast<std::size_t>(-d.exponent - 1), '0') + d.digits;
  }
  if (d.digits == "0") fraction.clear();
  return {(d.negative ? "-" : "") + integer, fraction};
}

std::string nonfinite(double value) {
  if (std::isnan(value)) return "nan";
  return value < 0 ? "-inf" : "inf";
}

// Python's repr() rules (positional for 1e-4 <= |x| < 1e16), optionally
// without the ".0" that marks an integral float (complex components).
std::string python_float(double value, bool single, bool keep_point_zero) {
  if (!std::isfinite(value)) return nonfinite(value);
  const Digits d = shortest_digits(value, single);
  if (d.exponent >= -4 && d.exponent < 16) {
    auto [integer, fraction] = positional(d);
    if (fraction.empty()) return keep_point_zero ? integer + ".0" : integer;
    return integer + "." + fraction;
  }
  std::string out = d.negative ? "-" : "";
  out += d.digits.substr(0, 1);
  if (d.digits.size() > 1) out += "." + d.digits.substr(1);
  return out + exponent_text(d.exponent, 2);
}

std::string python_complex(double re, double im, bool single) {
  const std::string imag = python_float(im, single, false) + "j";
  if (re == 0 && !std::signbit(re)) return imag;
  const bool negative_imag = std::signbit(im) && !std::isnan(im);
  return "(" + python_float(re, single, false) + (negative_imag ? "" : "+") + imag + ")";
}

bool has_single_quote_only(const std::u32string& text) {
  return text.find(U'\'') != std::u32string::npos && text.find(U'"') == std::u32string::npos;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Python's repr() of str (code points) or, with `bytes`, of bytes.
std::string python_quote(const std::u32string& text, bool bytes) {
  const char quote = has_single_quote_only(text) ? '"' : '\'';
  std::string out = bytes ? "b" : "";
  out += quote;
  char buf[16];
  for (char32_t c : text) {
    if (c == static_cast<char32_t>(quote) || c == U'\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == U'\n') {
      out += "\\n";
    } else if (c == U'\r') {
      out += "\\r";
    } else if (c == U'\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F || (bytes && c >= 0x80) || (c >= 0x80 && c < 0xA0)) {
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(c));
      out += buf;
    } else {
      append_utf8(out, c);
    }
  }
  return out + quote;
}

std::u32string bytes_text(const std::byte* p, std::size_t n) {
  while (n > 0 && p[n - 1] == std::byte{0}) --n;  // numpy strips trailing NULs
  std::u32string out;
  for (std::size_t i = 0; i < n; ++i) out += static_cast<char32_t>(p[i]);
  return out;
}

std::u32string unicode_text(const std::byte* p, std::size_t itemsize) {
  std::u32string out(itemsize / 4, U'\0');
  std::memcpy(out.data(), p, itemsize / 4 * 4);
  while (!out.empty() && out.back() == U'\0') out.pop_back();
  return out;
}

template <class T>
T load(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

double load_float(const DType& dtype, const std::byte* p) {
  switch (dtype.itemsize()) {
    case 2: return load<float16>(p).to_float();
    case 4: return load<float>(p);
    default: return load<double>(p);
  }
}

std::string integer_text(const DType& dtype, const std::byte* p) {
  const bool is_signed = dtype.kind() == Kind::Int;
  switch (dtype.itemsize()) {
    case 1: return is_signed ? std::to_string(load<std::int8_t>(p)) : std::to_string(load<std::uint8_t>(p));
    case 2: return is_signed ? std::to_string(load<std::int16_t>(p)) : std::to_string(load<std::uint16_t>(p));
    case 4: return is_signed ? std::to_string(load<std::int32_t>(p)) : std::to_string(load<std::uint32_t>(p));
    default: return is_signed ? std::to_string(load<std::int64_t>(p)) : std::to_string(load<std::uint64_t>(p));
  }
}

// Python-scalar text of one element; `item` gives what numpy's .item()
// turns it into (floats widen to double), otherwise the element's own
// precision is kept.
std::string scalar_repr(const DType& dtype, const std::byte* p, bool item) {
  switch (dtype.kind()) {
    case Kind::Bool: return p[0] != std::byte{0} ? "True" : "False";
    case Kind::Int:
    case Kind::UInt: return integer_text(dtype, p);
    case Kind::Float: return python_float(load_float(dtype, p), !item && dtype.itemsize() <= 4, true);
    case Kind::Complex:
      if (dtype.itemsize() == 8) {
        const auto c = load<std::complex<float>>(p);
        return python_complex(c.real(), c.imag(), !item);
      } else {
        const auto c = load<std::complex<double>>(p);
        return python_complex(c.real(), c.imag(), false);
      }
    case Kind::Bytes: return python_quote(bytes_text(p, dtype.itemsize()), true);
    case Kind::Unicode: return python_quote(unicode_text(p, dtype.itemsize()), false);
  }
  return "?";
}

}  // namespace

std::string float_repr(double value, bool single) { return python_float(value, single, true); }

std::string element_repr(const DType& dtype, const std::byte* element) {
  return scalar_repr(dtype, element, false);
}

void for_each_element(const ArrayView& view, const std::function<void(const std::byte*)>& visit) {
  if (view.size() == 0) return;
  const std::size_t ndim = view.ndim();
  std::vector<std::uint64_t> index(ndim, 0);
  const std::byte* p = view.data();
  while (true) {
    visit(p);
    std::size_t axis = ndim;
    while (axis > 0) {
      --axis;
      if (++index[axis] < view.shape()[axis]) {
        p += view.strides()[axis];
        break;
      }
      p -= static_cast<std::int64_t>(index[axis] - 1) * view.strides()[axis];
      index[axis] = 0;
      if (axis == 0) return;
    }
    if (ndim == 0) return;
  }
}

std::string preview(const Array& value, std::size_t limit) {
  // The elements of a small array, or the first and last three of a larger
  // one, in C order; the shape first when there are two axes or more.
  Array native = Array::uninitialized(value.dtype(), value.shape(), value.order());
  if (value.nbytes() > 0) std::memcpy(native.mutable_bytes(), value.bytes(), value.nbytes());
  native.to_native_byte_order();
  std::string text;
  if (native.ndim() == 0) {
    text = element_repr(native.dtype(), native.bytes());
  } else {
    constexpr std::uint64_t edge = 3;
    const bool summarize = native.size() > 2 * edge + 2;
    std::uint64_t index = 0;
    for_each_element(native.view(), [&](const std::byte* element) {
      if (!summarize || index < edge || index >= native.size() - edge) {
        text += (text.empty() ? "" : " ") + element_repr(native.dtype(), element);
      } else if (index == edge) {
        text += " ...";
      }
      ++index;
    });
    text = "[" + text + "]";
    if (native.ndim() > 1) {
      std::string shape;
      for (const std::uint64_t n : native.shape()) shape += (shape.empty() ? "" : ", ") + std::to_string(n);
      text = "(" + shape + ") " + text;
    }
  }
  for (char& c : text)
    if (c == '\n' || c == '\t' || c == '\r') c = ' ';
  // Cut at a character (code point) boundary.
  std::size_t chars = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
    if (++chars > limit) {
      std::size_t cut = 0;
      for (std::size_t kept = 0; cut < text.size(); ++cut) {
        if ((static_cast<unsigned char>(text[cut]) & 0xC0) != 0x80 && kept++ == limit - 3) break;
      }
      return text.substr(0, cut) + "...";
    }
  }
  return text;
}

}  // namespace ndbridge::tools
