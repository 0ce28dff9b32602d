#pragma once

// Which kind of array file a path holds, told by its first bytes and never
// by its suffix: a ".h5" that is really an .npy file is read as what it is.

#include <filesystem>

namespace ndbridge {

/// The array file formats ndbridge reads.
enum class FileFormat {
  Npy,   ///< one array: starts with "\x93NUMPY"
  Npz,   ///< a zip archive of .npy members: starts with "PK\x03\x04" (or "PK\x05\x06" when empty)
  Hdf5,  ///< HDF5's signature at offset 0, 512, 1024, 2048... (after a user block)
};

/// "npy", "npz" or "h5": the names the listings and the Python package use.
const char* format_name(FileFormat format) noexcept;

/// The format of `path`, told by its magic bytes. Throws FormatError naming
/// the file and showing its first bytes when it is none of them, FileError
/// when it cannot be opened or read (a folder, a missing file).
FileFormat detect_format(const std::filesystem::path& path);

}  // namespace ndbridge
