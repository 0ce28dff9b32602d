#pragma once

// Which kind of array file a path holds, told by its first bytes (never its
// suffix), as ndbridge's Python `_formats.detect_format` tells it.

#include <filesystem>
#include <string>

namespace ndbridge::tools {

/// The array file formats ndbridge knows.
enum class Format { Npy, Npz, Hdf5 };

/// "npy", "npz" or "hdf5", the names the JSON listing uses.
const char* format_name(Format format);

/// Detects the format of `path` by its magic bytes (HDF5 may sit after a
/// user block at 512, 1024, 2048... bytes). Throws FormatError for anything
/// else and IOError when the file cannot be read.
Format detect_format(const std::filesystem::path& path);

/// The path as ndbridge messages quote it: 'dir/file.npy'.
std::string quote_path(const std::filesystem::path& path);

}  // namespace ndbridge::tools
