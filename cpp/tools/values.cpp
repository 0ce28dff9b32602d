#include "values.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <complex>
#include <cstdio>
#include <optional>
#include <cstring>
#include <sstream>
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

// numpy's FloatingFormat (floatmode "maxprec", precision 8) over the
// elements that will be shown; `plus` for the imaginary parts of complex.
class FloatFormat {
 public:
  FloatFormat(const std::vector<double>& values, bool single, bool plus) : single_(single), plus_(plus) {
    std::vector<double> finite;
    double max_abs = 0, min_abs = 0;
    bool any_nonzero = false, neg_inf = false, any_nonfinite = false;
    for (double v : values) {
      if (!std::isfinite(v)) {
        any_nonfinite = true;
        neg_inf = neg_inf || (std::isinf(v) && v < 0);
        continue;
      }
      finite.push_back(v);
      if (v != 0) {
        const double a = std::fabs(v);
        max_abs = any_nonzero ? std::max(max_abs, a) : a;
        min_abs = any_nonzero ? std::min(min_abs, a) : a;
        any_nonzero = true;
      }
    }
    exp_ = any_nonzero && (max_abs >= 1e8 || min_abs < 1e-4 || max_abs / min_abs > 1000.);
    for (double v : finite) {
      Digits d = capped(v);
      if (exp_) {
        precision_ = std::max(precision_, d.digits.size() - 1);
        exp_digits_ = std::max(exp_digits_, std::to_string(std::abs(d.exponent)).size());
        pad_left_ = std::max(pad_left_, std::size_t{1} + (d.negative || plus_ ? 1 : 0));
      } else {
        auto [integer, fraction] = positional(d);
        pad_left_ = std::max(pad_left_, integer.size() + (plus_ && !d.negative ? 1 : 0));
        pad_right_ = std::max(pad_right_, fraction.size());
      }
    }
    if (exp_) pad_right_ = exp_digits_ + 2 + precision_;
    if (any_nonfinite) {
      const std::size_t offset = pad_right_ + 1;
      const std::size_t inf_len = 3 + ((plus_ || neg_inf) ? 1 : 0);
      pad_left_ = std::max({pad_left_, 3 > offset ? 3 - offset : 0, inf_len > offset ? inf_len - offset : 0});
    }
  }

  std::string operator()(double v) const {
    if (!std::isfinite(v)) {
      std::string s = nonfinite(v);
      if (plus_ && s[0] != '-') s.insert(0, "+");
      return pad(s, pad_left_ + pad_right_ + 1);
    }
    const Digits d = capped(v);
    const std::string sign = d.negative ? "-" : plus_ ? "+" : "";
    if (exp_) {
      std::string fraction = d.digits.substr(1);
      fraction.append(precision_ - fraction.size(), '0');
      return pad(sign + d.digits.substr(0, 1), pad_left_) + "." + fraction +
             exponent_text(d.exponent, exp_digits_);
    }
    auto [integer, fraction] = positional(d);
    if (plus_ && !d.negative) integer.insert(0, "+");
    fraction.append(pad_right_ - fraction.size(), ' ');
    return pad(integer, pad_left_) + "." + fraction;
  }

 private:
  // Shortest digits, but at most 8 after the point (scientific: after the
  // first digit), rounded, trailing zeros dropped.
  Digits capped(double v) const {
    Digits d = shortest_digits(v, single_);
    if (exp_) {
      if (d.digits.size() > 9) d = shortest_digits(v, single_, 8);
    } else {
      const long fraction_digits = static_cast<long>(d.digits.size()) - 1 - d.exponent;
      if (fraction_digits > 8) {
        char buf[512];
        auto r = single_ ? std::to_chars(buf, buf + sizeof buf, static_cast<float>(v), std::chars_format::fixed, 8)
                         : std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, 8);
        const double rounded = std::strtod(std::string(buf, r.ptr).c_str(), nullptr);
        const bool negative = d.negative;
        d = shortest_digits(rounded, false);
        d.negative = negative;
      }
    }
    return d;
  }

  static std::string pad(const std::string& s, std::size_t width) {
    return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
  }

  bool single_, plus_;
  bool exp_ = false;
  std::size_t pad_left_ = 0, pad_right_ = 0, precision_ = 0, exp_digits_ = 2;
};

// The indices shown along an axis of length n when summarizing: the first
// and last `edge`, with SIZE_MAX marking the "..." between them.
std::vector<std::size_t> shown_indices(std::uint64_t n, bool summarize) {
  constexpr std::size_t edge = 3;
  std::vector<std::size_t> out;
  if (summarize && n > 2 * edge) {
    for (std::size_t i = 0; i < edge; ++i) out.push_back(i);
    out.push_back(SIZE_MAX);
    for (std::size_t i = static_cast<std::size_t>(n) - edge; i < n; ++i) out.push_back(i);
  } else {
    for (std::size_t i = 0; i < n; ++i) out.push_back(i);
  }
  return out;
}

std::string collapse_whitespace(const std::string& text) {
  std::istringstream in(text);
  std::string word, out;
  while (in >> word) out += (out.empty() ? "" : " ") + word;
  return out;
}

class ArrayPrinter {
 public:
  explicit ArrayPrinter(const Array& a) : a_(a), view_(a.view()), summarize_(a.size() > 8) {
    std::vector<const std::byte*> shown;
    collect(0, view_.data(), shown);
    const DType& dt = a.dtype();
    if (dt.kind() == Kind::Float || dt.kind() == Kind::Complex) {
      const bool is_complex = dt.kind() == Kind::Complex;
      const bool single = is_complex ? dt.itemsize() == 8 : dt.itemsize() <= 4;
      std::vector<double> re, im;
      for (const std::byte* p : shown) {
        if (!is_complex) {
          re.push_back(load_float(dt, p));
        } else if (dt.itemsize() == 8) {
          re.push_back(load<std::complex<float>>(p).real());
          im.push_back(load<std::complex<float>>(p).imag());
        } else {
          re.push_back(load<std::complex<double>>(p).real());
          im.push_back(load<std::complex<double>>(p).imag());
        }
      }
      real_.emplace(re, single, false);
      if (is_complex) imag_.emplace(im, single, true);
    } else if (dt.kind() == Kind::Int || dt.kind() == Kind::UInt) {
      for (const std::byte* p : shown) width_ = std::max(width_, integer_text(dt, p).size());
    }
  }

  std::string text() {
    if (a_.size() == 0) return "[]";
    return collapse_whitespace(print(0, view_.data()));
  }

 private:
  void collect(std::size_t axis, const std::byte* p, std::vector<const std::byte*>& out) {
    if (axis == view_.ndim()) {
      out.push_back(p);
      return;
    }
    for (std::size_t i : shown_indices(view_.shape()[axis], summarize_))
      if (i != SIZE_MAX) collect(axis + 1, p + static_cast<std::int64_t>(i) * view_.strides()[axis], out);
  }

  std::string element(const std::byte* p) const {
    const DType& dt = a_.dtype();
    switch (dt.kind()) {
      case Kind::Bool: return p[0] != std::byte{0} ? " True" : "False";
      case Kind::Int:
      case Kind::UInt: {
        std::string s = integer_text(dt, p);
        return std::string(width_ - s.size(), ' ') + s;
      }
      case Kind::Float: return (*real_)(load_float(dt, p));
      case Kind::Complex:
        if (dt.itemsize() == 8) {
          const auto c = load<std::complex<float>>(p);
          return (*real_)(c.real()) + (*imag_)(c.imag()) + "j";
        } else {
          const auto c = load<std::complex<double>>(p);
          return (*real_)(c.real()) + (*imag_)(c.imag()) + "j";
        }
      case Kind::Bytes:
      case Kind::Unicode: return scalar_repr(dt, p, false);
    }
    return "?";
  }

  std::string print(std::size_t axis, const std::byte* p) const {
    std::string out = "[";
    const char* sep = "";
    for (std::size_t i : shown_indices(view_.shape()[axis], summarize_)) {
      out += sep;
      sep = " ";
      if (i == SIZE_MAX) {
        out += "...";
        continue;
      }
      const std::byte* q = p + static_cast<std::int64_t>(i) * view_.strides()[axis];
      out += axis + 1 == view_.ndim() ? element(q) : print(axis + 1, q);
    }
    return out + "]";
  }

  const Array& a_;
  ArrayView view_;
  bool summarize_;
  std::size_t width_ = 0;
  std::optional<FloatFormat> real_, imag_;
};

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
  std::string text;
  if (value.ndim() == 0) {
    // The binding returns text attributes as str, other 0-d values as numpy
    // scalars: listing.preview() shows repr() of the first, .item() of the rest.
    text = collapse_whitespace(scalar_repr(value.dtype(), value.bytes(), true));
  } else {
    text = ArrayPrinter(value).text();
  }
  if (text.size() <= limit) return text;
  // Python counts characters, not bytes: cut at a code point boundary.
  std::size_t chars = 0, cut = 0;
  for (std::size_t i = 0; i < text.size(); ++i)
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++chars;
  if (chars <= limit) return text;
  chars = 0;
  for (cut = 0; cut < text.size(); ++cut) {
    if ((static_cast<unsigned char>(text[cut]) & 0xC0) != 0x80) {
      if (chars == limit - 3) break;
      ++chars;
    }
  }
  return text.substr(0, cut) + "...";
}

}  // namespace ndbridge::tools
