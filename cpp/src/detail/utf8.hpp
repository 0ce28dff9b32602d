#pragma once

#include <string>

namespace ndbridge::detail {

/// Decodes NUL-terminated UTF-8; false on any invalid sequence (overlong
/// forms, surrogates, values past U+10FFFF, truncation).
bool utf8_to_utf32(const char* text, std::u32string& out);

/// Encodes; false if a value is a surrogate or past U+10FFFF.
bool utf32_to_utf8(const std::u32string& text, std::string& out);

}  // namespace ndbridge::detail
