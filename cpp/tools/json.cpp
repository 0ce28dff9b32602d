#include "json.hpp"

#include <cstdio>
#include <stdexcept>

namespace ndbridge::tools {

namespace {

void append_u16(std::string& out, unsigned unit) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\u%04x", unit);
  out += buf;
}

// Decodes one UTF-8 sequence at text[i]; returns its length, or 0 if the
// bytes there are not valid UTF-8.
std::size_t decode_utf8(const std::string& text, std::size_t i, std::uint32_t& cp) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char b0 = byte(i);
  std::size_t len = b0 >= 0xF0 && b0 <= 0xF4 ? 4 : b0 >= 0xE0 ? 3 : b0 >= 0xC2 && b0 < 0xE0 ? 2 : 0;
  if (len == 0 || i + len > text.size()) return 0;
  cp = b0 & (0x7F >> len);
  for (std::size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  const std::uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

}  // namespace

std::string json_quote(const std::string& text) {
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
          if (c < 0x20 || c == 0x7F) {
            if (c == 0x7F) out += static_cast<char>(c);
            else append_u16(out, c);
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    std::uint32_t cp = 0;
    const std::size_t len = decode_utf8(text, i, cp);
    if (len == 0) {
      append_u16(out, 0xDC00u + c);
      ++i;
    } else if (cp >= 0x10000) {
      cp -= 0x10000;
      append_u16(out, 0xD800u + (cp >> 10));
      append_u16(out, 0xDC00u + (cp & 0x3FF));
      i += len;
    } else {
      append_u16(out, cp);
      i += len;
    }
  }
  return out + "\"";
}

const Json& Json::operator[](const std::string& key) const {
  for (const auto& [k, v] : object())
    if (k == key) return v;
  throw std::out_of_range("no key '" + key + "' in JSON object");
}

std::string Json::dump() const {
  std::string out;
  dump(out, 0);
  return out;
}

void Json::dump(std::string& out, int depth) const {
  const std::string indent(static_cast<std::size_t>(2 * (depth + 1)), ' ');
  const std::string close(static_cast<std::size_t>(2 * depth), ' ');
  if (std::holds_alternative<std::monostate>(value_)) {
    out += "null";
  } else if (auto b = std::get_if<bool>(&value_)) {
    out += *b ? "true" : "false";
  } else if (auto i = std::get_if<std::int64_t>(&value_)) {
    out += std::to_string(*i);
  } else if (auto u = std::get_if<std::uint64_t>(&value_)) {
    out += std::to_string(*u);
  } else if (auto s = std::get_if<std::string>(&value_)) {
    out += json_quote(*s);
  } else if (auto a = std::get_if<std::shared_ptr<JsonArray>>(&value_)) {
    if ((*a)->empty()) {
      out += "[]";
      return;
    }
    out += "[";
    const char* sep = "\n";
    for (const Json& item : **a) {
      out += sep;
      out += indent;
      item.dump(out, depth + 1);
      sep = ",\n";
    }
    out += "\n" + close + "]";
  } else {
    const auto& o = std::get<std::shared_ptr<JsonObject>>(value_);
    if (o->empty()) {
      out += "{}";
      return;
    }
    out += "{";
    const char* sep = "\n";
    for (const auto& [key, item] : *o) {
      out += sep;
      out += indent + json_quote(key) + ": ";
      item.dump(out, depth + 1);
      sep = ",\n";
    }
    out += "\n" + close + "}";
  }
}

}  // namespace ndbridge::tools
