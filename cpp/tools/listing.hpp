#pragma once

// How ndbridge-ls shows ndbridge::describe()'s facts: a JSON document (the
// keys `ndbridge ls --json` uses, documented in python/ndbridge/listing.py) or an
// indented, column-aligned tree.

#include <string>

#include "json.hpp"
#include "ndbridge/describe.hpp"

namespace ndbridge::tools {

/// The description as JSON: {"path", "format", "size", "entries"}.
Json to_json(const FileDescription& description);

/// The description as a tree, one line per entry and attribute.
std::string format_listing(const FileDescription& description);

}  // namespace ndbridge::tools
