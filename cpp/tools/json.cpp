#include "json.hpp"

#include <cstdio>

namespace ndbridge::tools {

namespace {

// The length of the valid UTF-8 sequence at text[i], or 0 if there is none.
std::size_t utf8_length(const std::string& text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char b0 = byte(i);
  const std::size_t len = b0 >= 0xF0 && b0 <= 0xF4 ? 4 : b0 >= 0xE0 ? 3 : b0 >= 0xC2 && b0 < 0xE0 ? 2 : 0;
  if (len == 0 || i + len > text.size()) return 0;
  std::uint32_t cp = b0 & (0x7F >> len);
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
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const std::size_t len = utf8_length(text, i);
      out += len ? text.substr(i, len) : "\xef\xbf\xbd";
      i += len ? len : 1;
      continue;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
  return out + "\"";
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
      out += sep + indent;
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
      out += sep + indent + json_quote(key) + ": ";
      item.dump(out, depth + 1);
      sep = ",\n";
    }
    out += "\n" + close + "}";
  }
}

}  // namespace ndbridge::tools
