#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "detail/file.hpp"
#include "detail/source.hpp"
#include "detail/zip.hpp"

namespace ndbridge::detail {

/// A member's uncompressed bytes as a Source, read straight from the
/// archive (stored) or inflated on the fly (deflated), with the CRC-32
/// computed over every byte as it goes by. Reads must go forwards: each one
/// starts where the previous ended, or inside the range already read.
class MemberSource : public Source {
 public:
  /// After the last byte was read: checks that every byte was read, that a
  /// deflate stream ends exactly there, and the CRC-32. Throws FormatError.
  virtual void finish() = 0;
};

/// Opens the member whose data starts at `data_offset` (see
/// locate_zip_data). `label` names it in messages. Throws UnsupportedError
/// for encrypted members and compression methods other than stored and
/// deflate, FormatError when a stored member's two sizes differ.
std::unique_ptr<MemberSource> open_zip_member(const File& file, const ZipEntry& entry,
                                              std::uint64_t data_offset, std::string label);

/// Throws UnsupportedError, naming `label`, unless ndbridge can decode the
/// member: neither encrypted nor compressed by a method other than stored or
/// deflate.
void check_zip_member_supported(const ZipEntry& entry, const std::string& label);

}  // namespace ndbridge::detail
