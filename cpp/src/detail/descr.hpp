#pragma once

#include <string>
#include <string_view>

#include "ndbridge/dtype.hpp"

namespace ndbridge::detail {

/// Parses a numpy type string. Throws UnsupportedError (a type numpy knows
/// but ndbridge does not handle: object, void, datetime, long double, ...)
/// or FormatError (not a numpy type string at all); both messages start with
/// `context` (when not empty), which names the file the string came from.
DType parse_descr(std::string_view descr, const std::string& context);

}  // namespace ndbridge::detail
