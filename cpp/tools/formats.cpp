#include "formats.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "ndbridge/error.hpp"

namespace ndbridge::tools {

const char* format_name(Format format) {
  switch (format) {
    case Format::Npy: return "npy";
    case Format::Npz: return "npz";
    case Format::Hdf5: return "hdf5";
  }
  return "?";
}

std::string quote_path(const std::filesystem::path& path) { return "'" + path.string() + "'"; }

Format detect_format(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    throw IOError(quote_path(path) + ": cannot open: " + std::strerror(err), err);
  }
  char head[8] = {};
  in.read(head, sizeof head);
  const std::string first(head, static_cast<std::size_t>(in.gcount()));
  if (first.rfind("\x93NUMPY", 0) == 0) return Format::Npy;
  if (first.rfind("PK\x03\x04", 0) == 0 || first.rfind("PK\x05\x06", 0) == 0) return Format::Npz;
  static const char hdf5_magic[] = "\x89HDF\r\n\x1a\n";
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  for (std::uintmax_t offset = 0; !ec && offset + 8 <= size; offset = offset == 0 ? 512 : offset * 2) {
    char probe[8];
    in.clear();
    in.seekg(static_cast<std::streamoff>(offset));
    if (in.read(probe, 8) && std::memcmp(probe, hdf5_magic, 8) == 0) return Format::Hdf5;
  }
  std::string what = "it is empty";
  if (!first.empty()) {
    // Python's repr of the first bytes, as the Python tool words it.
    what = "it starts with b'";
    for (unsigned char c : first) {
      char buf[8];
      if (c == '\\' || c == '\'') {
        what += '\\';
        what += static_cast<char>(c);
      } else if (c == '\n') {
        what += "\\n";
      } else if (c == '\r') {
        what += "\\r";
      } else if (c == '\t') {
        what += "\\t";
      } else if (c < 0x20 || c >= 0x7F) {
        std::snprintf(buf, sizeof buf, "\\x%02x", c);
        what += buf;
      } else {
        what += static_cast<char>(c);
      }
    }
    what += "'";
  }
  throw FormatError(quote_path(path) + ": not an .npy, .npz or HDF5 file (" + what + ")");
}

}  // namespace ndbridge::tools
