#pragma once

// What is inside an .npy, .npz or HDF5 file: the document `ndbridge-ls
// --json` prints and the text `ndbridge-ls` prints. Both are the same as the
// Python `ndbridge ls` gives (python/ndbridge/listing.py documents the keys),
// so scripts can use either tool.

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "json.hpp"

namespace ndbridge::tools {

/// Describes every array (and HDF5 group) in `path`: {"path", "format",
/// "size", "entries"}, each entry with the keys name, kind, dtype, shape,
/// readable, type, fortran_order, layout, chunks, filters, stored_bytes,
/// nbytes, virtual_sources and attributes. Throws FormatError for files that are not .npy,
/// .npz or HDF5, UnsupportedError for formats this build cannot read (.npz
/// until the C++ library has an .npz reader; HDF5 when built without it).
Json describe(const std::string& path);

/// describe()'s document as an indented, column-aligned tree.
std::string format_listing(const Json& doc);

/// (dataset, source file) for every source file of a virtual dataset in
/// describe()'s document that is missing (HDF5 would read it as zeros).
std::vector<std::pair<std::string, std::string>> missing_sources(const Json& doc);

}  // namespace ndbridge::tools
