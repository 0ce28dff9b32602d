#pragma once

// A minimal JSON document model, enough for the tools' output: objects keep
// the order keys were added in, output is UTF-8 indented by two spaces.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace ndbridge::tools {

class Json;
using JsonArray = std::vector<Json>;
/// Keys keep the order they were added in.
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

  /// The document as text, nested values indented by two spaces per level.
  std::string dump() const;

 private:
  void dump(std::string& out, int depth) const;

  std::variant<std::monostate, bool, std::int64_t, std::uint64_t, std::string,
               std::shared_ptr<JsonArray>, std::shared_ptr<JsonObject>>
      value_;
};

/// `text` as a JSON string literal. Names read from files need not be
/// UTF-8: bytes that are not become U+FFFD, so the output always parses.
std::string json_quote(const std::string& text);

}  // namespace ndbridge::tools
