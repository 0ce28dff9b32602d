#include "detail/utf8.hpp"

namespace ndbridge::detail {

bool utf8_to_utf32(const char* text, std::u32string& out) {
  out.clear();
  const auto* p = reinterpret_cast<const unsigned char*>(text);
  while (*p) {
    const unsigned char lead = *p++;
    char32_t c;
    int more;
    char32_t min;
    if (lead < 0x80) {
      out.push_back(lead);
      continue;
    } else if ((lead & 0xe0) == 0xc0) {
      c = lead & 0x1fu; more = 1; min = 0x80;
    } else if ((lead & 0xf0) == 0xe0) {
      c = lead & 0x0fu; more = 2; min = 0x800;
    } else if ((lead & 0xf8) == 0xf0) {
      c = lead & 0x07u; more = 3; min = 0x10000;
    } else {
      return false;
    }
    for (int k = 0; k < more; ++k) {
      if ((*p & 0xc0) != 0x80) return false;  // also stops at the terminating NUL
      c = (c << 6) | (*p++ & 0x3fu);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return false;
    out.push_back(c);
  }
  return true;
}

bool utf32_to_utf8(const std::u32string& text, std::string& out) {
  out.clear();
  for (const char32_t c : text) {
    if (c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return false;
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (c < 0x800) {
      out += static_cast<char>(0xc0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
      out += static_cast<char>(0xe0 | (c >> 12));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (c & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (c >> 18));
      out += static_cast<char>(0x80 | ((c >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (c & 0x3f));
    }
  }
  return true;
}

}  // namespace ndbridge::detail
