#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ndbridge::detail {

/// Text taken from a file, made safe to put in an error message: printable
/// ASCII kept, every other byte written as \xNN, cut after `limit` bytes.
std::string printable(std::string_view text, std::size_t limit = 80);

}  // namespace ndbridge::detail
