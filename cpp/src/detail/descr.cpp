#include "detail/descr.hpp"

#include <cstdint>
#include <limits>

#include "detail/text.hpp"
#include "ndbridge/error.hpp"

namespace ndbridge::detail {

namespace {

std::string show(std::string_view descr) { return "'" + printable(descr) + "'"; }

std::string prefix(const std::string& context) { return context.empty() ? "" : context + ": "; }

[[noreturn]] void invalid(std::string_view descr, const std::string& context) {
  throw FormatError(prefix(context) + show(descr) + " is not a valid numpy dtype descriptor");
}

[[noreturn]] void unsupported(std::string_view descr, const std::string& context,
                              const std::string& what) {
  throw UnsupportedError(prefix(context) + "dtype " + show(descr) + " (" + what +
                         ") is not supported; ndbridge reads bool, integer, float, complex, "
                         "fixed-length bytes and unicode arrays");
}

// The digits after the type letter; false when absent, malformed or absurd.
bool parse_count(std::string_view digits, std::uint64_t& out) {
  if (digits.empty() || digits.size() > 12) return false;
  out = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return true;
}

}  // namespace

DType parse_descr(std::string_view descr, const std::string& context) {
  std::string_view rest = descr;
  ByteOrder order = ByteOrder::NotApplicable;
  if (!rest.empty()) {
    switch (rest.front()) {
      case '<': order = ByteOrder::Little; rest.remove_prefix(1); break;
      case '>': order = ByteOrder::Big; rest.remove_prefix(1); break;
      case '|':
      case '=': rest.remove_prefix(1); break;
      default: break;
    }
  }
  if (rest.empty()) invalid(descr, context);
  const char letter = rest.front();
  const std::string_view digits = rest.substr(1);

  // Types numpy has but ndbridge deliberately leaves out: reject by name
  // rather than reinterpret their bytes as something else.
  switch (letter) {
    case 'O': unsupported(descr, context, "Python objects, stored pickled");
    case 'V': unsupported(descr, context, "raw void records");
    case 'M': unsupported(descr, context, "datetime64");
    case 'm': unsupported(descr, context, "timedelta64");
    case 'T': unsupported(descr, context, "variable-width strings");
    case 'g':
    case 'G': unsupported(descr, context, "long double");
    default: break;
  }

  std::uint64_t count = 0;
  if (!parse_count(digits, count)) invalid(descr, context);

  Kind kind;
  std::uint64_t itemsize = count;
  switch (letter) {
    case 'b':
      if (count != 1) invalid(descr, context);
      kind = Kind::Bool;
      break;
    case 'i': kind = Kind::Int; break;
    case 'u': kind = Kind::UInt; break;
    case 'f':
      if (count == 12 || count == 16) unsupported(descr, context, "long double");
      kind = Kind::Float;
      break;
    case 'c':
      if (count == 24 || count == 32) unsupported(descr, context, "complex long double");
      kind = Kind::Complex;
      break;
    case 'S':
    case 'a': kind = Kind::Bytes; break;
    case 'U':
      kind = Kind::Unicode;
      itemsize = count * 4;
      break;
    default: invalid(descr, context);
  }
  if (count == 0 && (kind == Kind::Bytes || kind == Kind::Unicode)) {
    unsupported(descr, context, "zero-length strings");
  }
  if (itemsize > static_cast<std::uint64_t>(std::numeric_limits<int>::max())) {
    unsupported(descr, context, "elements larger than 2 GiB");
  }
  const bool numeric = kind != Kind::Bytes && kind != Kind::Unicode;
  const bool valid_size = !numeric || count == 1 || count == 2 || count == 4 || count == 8 ||
                          (kind == Kind::Complex && count == 16);
  if (!valid_size || (kind == Kind::Float && count == 1) ||
      (kind == Kind::Complex && count < 8)) {
    invalid(descr, context);
  }
  return DType(kind, static_cast<std::size_t>(itemsize), order);
}

}  // namespace ndbridge::detail
