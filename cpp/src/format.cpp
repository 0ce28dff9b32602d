#include "ndbridge/format.hpp"

#include <string>
#include <string_view>

#include "detail/file.hpp"
#include "detail/npy_header.hpp"
#include "detail/signature.hpp"
#include "detail/text.hpp"
#include "ndbridge/error.hpp"

namespace ndbridge {

const char* format_name(FileFormat format) noexcept {
  switch (format) {
    case FileFormat::Npy: return "npy";
    case FileFormat::Npz: return "npz";
    case FileFormat::Hdf5: return "h5";
  }
  return "?";
}

FileFormat detect_format(const std::filesystem::path& path) {
  const detail::File file = detail::File::open_read(path);
  char head[8] = {};
  const std::string_view first(head, file.read_at(head, sizeof head, 0));
  if (first.substr(0, detail::kNpyMagic.size()) == detail::kNpyMagic) return FileFormat::Npy;
  const std::string_view zip = first.substr(0, 4);
  if (zip == std::string_view("PK\x03\x04", 4) || zip == std::string_view("PK\x05\x06", 4)) return FileFormat::Npz;
  if (detail::has_hdf5_signature(file)) return FileFormat::Hdf5;
  const std::string what = first.empty() ? "it is empty" : "it starts with b'" + detail::printable(first) + "'";
  throw FormatError(file.name() + ": not an .npy, .npz or HDF5 file (" + what + ")");
}

}  // namespace ndbridge
