#include "detail/npy_header.hpp"

#include <cctype>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "detail/descr.hpp"
#include "detail/text.hpp"
#include "ndbridge/error.hpp"

namespace ndbridge::detail {

namespace {

// A Python literal, as far as .npy headers use them.
struct Value {
  enum class Type { Str, Int, Bool, None, Tuple, List, Dict } type = Type::None;
  std::string text;               // Str
  bool negative = false;          // Int
  bool too_big = false;           // Int that does not fit in uint64
  std::uint64_t magnitude = 0;    // Int
  bool flag = false;              // Bool
  std::vector<Value> items;       // Tuple, List; Dict as key, value, key, value...
};

// A recursive-descent reader for the subset of Python literal syntax that
// ast.literal_eval would accept in a header: dicts, tuples, lists, strings,
// integers (with Python 2's L suffix), True, False, None, parentheses and
// comments. Depth is bounded so a hostile "((((..." cannot blow the stack.
class LiteralParser {
 public:
  LiteralParser(std::string_view text, const std::string& name) : text_(text), name_(name) {}

  Value parse_document() {
    Value value = parse_value(0);
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text after the header dictionary");
    return value;
  }

 private:
  static constexpr int kMaxDepth = 32;

  [[noreturn]] void fail(const std::string& what) const {
    throw FormatError(name_ + ": malformed .npy header (" + what + " at offset " +
                      std::to_string(pos_) + "): \"" + printable(text_) + "\"");
  }

  void skip_space() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
        ++pos_;
      } else if (c == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      } else if (c == '\\' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n') {
        pos_ += 2;  // explicit line continuation
      } else {
        break;
      }
    }
  }

  bool accept(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  Value parse_value(int depth) {
    if (depth > kMaxDepth) fail("nesting too deep");
    skip_space();
    if (pos_ >= text_.size()) fail("unexpected end");
    const char c = text_[pos_];
    if (c == '{') return parse_dict(depth);
    if (c == '(') return parse_parenthesized(depth);
    if (c == '[') return parse_list(depth);
    if (c == '\'' || c == '"') return parse_string();
    if ((c == 'u' || c == 'U') && pos_ + 1 < text_.size() &&
        (text_[pos_ + 1] == '\'' || text_[pos_ + 1] == '"')) {
      ++pos_;  // Python 2 unicode literal: same text
      return parse_string();
    }
    if (c == '-' || c == '+' || (c >= '0' && c <= '9')) return parse_int();
    return parse_name();
  }

  // Items up to `close`, commas between, an optional trailing comma.
  // Returns whether any comma was seen (it makes "(x,)" a tuple).
  bool parse_items(char close, int depth, std::vector<Value>& items, bool pairs) {
    bool comma = false;
    while (!accept(close)) {
      items.push_back(parse_value(depth + 1));
      if (pairs) {
        if (!accept(':')) fail("expected ':' in dictionary");
        items.push_back(parse_value(depth + 1));
      }
      if (accept(',')) {
        comma = true;
        continue;
      }
      if (!accept(close)) fail(std::string("expected ',' or '") + close + "'");
      break;
    }
    return comma;
  }

  Value parse_dict(int depth) {
    ++pos_;
    Value v;
    v.type = Value::Type::Dict;
    parse_items('}', depth, v.items, true);
    return v;
  }

  Value parse_list(int depth) {
    ++pos_;
    Value v;
    v.type = Value::Type::List;
    parse_items(']', depth, v.items, false);
    return v;
  }

  Value parse_parenthesized(int depth) {
    ++pos_;
    Value v;
    v.type = Value::Type::Tuple;
    const bool comma = parse_items(')', depth, v.items, false);
    // "(x)" is just x; "()" and "(x,)" are tuples.
    if (!comma && v.items.size() == 1) return std::move(v.items.front());
    return v;
  }

  Value parse_string() {
    const char quote = text_[pos_++];
    Value v;
    v.type = Value::Type::Str;
    while (true) {
      if (pos_ >= text_.size() || text_[pos_] == '\n') fail("unterminated string");
      const char c = text_[pos_++];
      if (c == quote) break;
      if (c == '\\') {
        if (pos_ >= text_.size()) fail("unterminated string");
        const char e = text_[pos_++];
        switch (e) {
          case '\\': case '\'': case '"': v.text += e; break;
          case 'n': v.text += '\n'; break;
          case 't': v.text += '\t'; break;
          case '\n': break;
          default: v.text += '\\'; v.text += e; break;  // Python keeps unknown escapes
        }
      } else {
        v.text += c;
      }
    }
    return v;
  }

  Value parse_int() {
    Value v;
    v.type = Value::Type::Int;
    if (text_[pos_] == '-' || text_[pos_] == '+') {
      v.negative = text_[pos_] == '-';
      ++pos_;
      skip_space();
    }
    const std::size_t first = pos_;
    while (pos_ < text_.size() && ((text_[pos_] >= '0' && text_[pos_] <= '9') ||
                                   (text_[pos_] == '_' && pos_ > first))) {
      if (text_[pos_] != '_') {
        const auto digit = static_cast<std::uint64_t>(text_[pos_] - '0');
        if (v.magnitude > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) v.too_big = true;
        v.magnitude = v.magnitude * 10 + digit;
      }
      ++pos_;
    }
    if (pos_ == first) fail("expected a number");
    if (text_[pos_ - 1] == '_') fail("malformed number");
    // Python 3 rejects leading zeros ("007"); so does literal_eval.
    if (text_[first] == '0' && pos_ - first > 1 && v.magnitude != 0) fail("malformed number");
    if (pos_ < text_.size() && (text_[pos_] == 'L' || text_[pos_] == 'l')) ++pos_;  // Python 2
    if (pos_ < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[pos_])) ||
                                text_[pos_] == '.')) {
      fail("expected an integer");
    }
    return v;
  }

  Value parse_name() {
    const std::size_t first = pos_;
    while (pos_ < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[pos_])) ||
                                   text_[pos_] == '_')) {
      ++pos_;
    }
    const std::string_view word = text_.substr(first, pos_ - first);
    Value v;
    if (word == "True" || word == "False") {
      v.type = Value::Type::Bool;
      v.flag = word == "True";
    } else if (word == "None") {
      v.type = Value::Type::None;
    } else {
      if (word.empty()) ++pos_;
      fail("unexpected '" + printable(word.empty() ? text_.substr(first, 1) : word) + "'");
    }
    return v;
  }

  std::string_view text_;
  const std::string& name_;
  std::size_t pos_ = 0;
};

const char* type_name(Value::Type t) {
  switch (t) {
    case Value::Type::Str: return "a string";
    case Value::Type::Int: return "an integer";
    case Value::Type::Bool: return "a bool";
    case Value::Type::None: return "None";
    case Value::Type::Tuple: return "a tuple";
    case Value::Type::List: return "a list";
    case Value::Type::Dict: return "a dict";
  }
  return "?";
}

}  // namespace

NpyPrefix parse_npy_prefix(const std::byte* bytes, std::size_t available, const std::string& name) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes);
  if (available < 8 || std::string_view(reinterpret_cast<const char*>(p), 6) != kNpyMagic) {
    if (available >= 6 && std::string_view(reinterpret_cast<const char*>(p), 6) != kNpyMagic) {
      throw FormatError(name + ": not an .npy file (the magic string \\x93NUMPY is missing)");
    }
    throw FormatError(name + ": not an .npy file (only " + std::to_string(available) +
                      " bytes, too short for the magic string and version)");
  }
  NpyPrefix prefix;
  prefix.major = p[6];
  prefix.minor = p[7];
  const std::string version = std::to_string(prefix.major) + "." + std::to_string(prefix.minor);
  if (prefix.minor != 0 || prefix.major == 0) {
    throw FormatError(name + ": invalid .npy format version " + version +
                      " (numpy writes 1.0, 2.0 and 3.0)");
  }
  if (prefix.major > 3) {
    throw UnsupportedError(name + ": .npy format version " + version +
                           " is newer than this reader (it reads 1.0, 2.0 and 3.0)");
  }
  prefix.prefix_length = prefix.major == 1 ? 10 : 12;
  if (available < prefix.prefix_length) {
    throw FormatError(name + ": truncated .npy file (ends inside the header length field)");
  }
  prefix.header_length = std::uint64_t{p[8]} | (std::uint64_t{p[9]} << 8);
  if (prefix.major > 1) {
    prefix.header_length |= (std::uint64_t{p[10]} << 16) | (std::uint64_t{p[11]} << 24);
  }
  if (prefix.header_length > kNpyMaxHeaderLength) {
    throw FormatError(name + ": .npy header length " + std::to_string(prefix.header_length) +
                      " is implausibly large (limit " + std::to_string(kNpyMaxHeaderLength) + ")");
  }
  return prefix;
}

void parse_npy_dict(std::string_view text, const std::string& name, NpyHeader& header) {
  const Value dict = LiteralParser(text, name).parse_document();
  if (dict.type != Value::Type::Dict) {
    throw FormatError(name + ": malformed .npy header (" + type_name(dict.type) +
                      ", not a dictionary)");
  }
  const Value* descr = nullptr;
  const Value* order = nullptr;
  const Value* shape = nullptr;
  for (std::size_t i = 0; i < dict.items.size(); i += 2) {
    const Value& key = dict.items[i];
    const Value& value = dict.items[i + 1];
    const Value** slot = nullptr;
    if (key.type == Value::Type::Str) {
      if (key.text == "descr") slot = &descr;
      if (key.text == "fortran_order") slot = &order;
      if (key.text == "shape") slot = &shape;
    }
    if (slot == nullptr) {
      throw FormatError(name + ": malformed .npy header (unexpected key " +
                        (key.type == Value::Type::Str ? "'" + printable(key.text) + "'"
                                                      : std::string(type_name(key.type))) +
                        "; the keys are 'descr', 'fortran_order' and 'shape')");
    }
    if (*slot != nullptr) {
      throw FormatError(name + ": malformed .npy header (key '" + key.text + "' appears twice)");
    }
    *slot = &value;
  }
  for (const auto& [value, key] : {std::pair{descr, "descr"}, std::pair{order, "fortran_order"},
                                   std::pair{shape, "shape"}}) {
    if (value == nullptr) {
      throw FormatError(name + ": malformed .npy header (key '" + key + "' is missing)");
    }
  }

  if (descr->type == Value::Type::List) {
    throw UnsupportedError(name + ": structured dtypes (records with named fields) are not "
                                  "supported; ndbridge reads plain numeric and string arrays");
  }
  if (descr->type != Value::Type::Str) {
    throw FormatError(name + ": malformed .npy header ('descr' is " + type_name(descr->type) +
                      ", not a type string)");
  }
  header.dtype = parse_descr(descr->text, name);

  if (order->type != Value::Type::Bool) {
    throw FormatError(name + ": malformed .npy header ('fortran_order' is " +
                      type_name(order->type) + ", not True or False)");
  }
  header.fortran_order = order->flag;

  if (shape->type != Value::Type::Tuple) {
    throw FormatError(name + ": malformed .npy header ('shape' is " + type_name(shape->type) +
                      ", not a tuple of integers)");
  }
  header.shape.clear();
  for (const Value& dim : shape->items) {
    if (dim.type != Value::Type::Int) {
      throw FormatError(name + ": malformed .npy header ('shape' holds " + type_name(dim.type) +
                        ", not only integers)");
    }
    if (dim.negative && dim.magnitude != 0) {
      throw FormatError(name + ": malformed .npy header ('shape' has a negative dimension -" +
                        std::to_string(dim.magnitude) + ")");
    }
    if (dim.too_big || dim.magnitude > static_cast<std::uint64_t>(
                                           std::numeric_limits<std::int64_t>::max())) {
      throw FormatError(name + ": malformed .npy header ('shape' has a dimension too large "
                               "for 64-bit sizes)");
    }
    header.shape.push_back(dim.magnitude);
  }
  if (header.shape.size() > 64) {
    throw UnsupportedError(name + ": " + std::to_string(header.shape.size()) +
                           " dimensions (numpy allows at most 64)");
  }
  header.data_bytes = checked_element_count(header.shape, header.dtype.itemsize(), name) *
                      header.dtype.itemsize();
}

}  // namespace ndbridge::detail
