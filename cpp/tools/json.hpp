#pragma once

// A minimal JSON document model, enough for the tools' output. Dumping
// matches Python's `json.dump(doc, f, indent=2)` byte for byte (ASCII-only
// output, insertion-ordered objects), so `ndbridge-ls --json` and
// `ndbridge ls --json` can be compared as text.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace ndbridge::tools {

class Json;
using JsonArray = std::vector<Json>;
/// Keys keep the order they were added in, as Python dicts do.
using JsonObject = std::vector<std::pair<std::string, Json>>;

/// null, bool, unsigned or signed integer, string, array or object.
class Json {
 public:
  Json() = default;
  Json(std::nullptr_t) {}
  Json(bool v) : value_(v) {}
  Json(int v) : value_(static_cast<std::int64_t>(v)) {}
  Json(std::int64_t v) : value_(v) {}
  Json(std::uint64_t v) : value_(v) {}
  Json(const char* v) : value_(std::string(v)) {}
  Json(std::string v) : value_(std::move(v)) {}
  Json(JsonArray v) : value_(std::make_shared<JsonArray>(std::move(v))) {}
  Json(JsonObject v) : value_(std::make_shared<JsonObject>(std::move(v))) {}

  bool is_null() const { return std::holds_alternative<std::monostate>(value_); }
  /// The string; throws std::bad_variant_access for other types.
  const std::string& str() const { return std::get<std::string>(value_); }
  bool boolean() const { return std::get<bool>(value_); }
  std::uint64_t uint() const { return std::get<std::uint64_t>(value_); }
  const JsonArray& array() const { return *std::get<std::shared_ptr<JsonArray>>(value_); }
  const JsonObject& object() const { return *std::get<std::shared_ptr<JsonObject>>(value_); }
  /// The member `key` of an object; throws std::out_of_range if absent.
  const Json& operator[](const std::string& key) const;

  /// The document as Python's json.dumps(indent=2) writes it.
  std::string dump() const;

 private:
  void dump(std::string& out, int depth) const;

  std::variant<std::monostate, bool, std::int64_t, std::uint64_t, std::string,
               std::shared_ptr<JsonArray>, std::shared_ptr<JsonObject>>
      value_;
};

/// `text` as a JSON string literal, with non-ASCII characters escaped as
/// Python's ensure_ascii does. Bytes that are not UTF-8 become \udcXX, as
/// Python's surrogateescape decodes them.
std::string json_quote(const std::string& text);

}  // namespace ndbridge::tools
