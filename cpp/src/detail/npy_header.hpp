#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ndbridge/npy.hpp"

namespace ndbridge::detail {

/// The .npy magic string, "\x93NUMPY".
inline constexpr std::string_view kNpyMagic{"\x93NUMPY", 6};
/// Magic, two version bytes and a four-byte length: the longest fixed prefix.
inline constexpr std::size_t kNpyMaxPrefix = 12;
/// No header ndbridge can use comes near this; a larger length field is a
/// corrupt or hostile file, refused before anything is allocated for it.
inline constexpr std::uint64_t kNpyMaxHeaderLength = std::uint64_t{1} << 20;

/// The fixed part in front of the header dictionary.
struct NpyPrefix {
  int major = 0;
  int minor = 0;
  std::size_t prefix_length = 0;   ///< 10 for version 1, 12 for 2 and 3
  std::uint64_t header_length = 0; ///< bytes of dictionary text after the prefix
};

/// Decodes the prefix from the first `available` bytes of a file (at most
/// kNpyMaxPrefix are looked at). Throws FormatError naming `name` for a
/// short file, bad magic or bad version, UnsupportedError for a future version.
NpyPrefix parse_npy_prefix(const std::byte* bytes, std::size_t available, const std::string& name);

/// Parses the header dictionary text (a Python literal) into `header`'s
/// dtype, shape and order, with the same checks numpy applies and a few more
/// (negative or overflowing shapes, duplicate keys). Throws FormatError or
/// UnsupportedError naming `name`.
void parse_npy_dict(std::string_view text, const std::string& name, NpyHeader& header);

}  // namespace ndbridge::detail
