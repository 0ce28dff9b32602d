#pragma once

// HDF5 filter plugins (Blosc, Zstd, LZ4, Bitshuffle, BZip2... as hdf5plugin
// and PyTables ship them), loaded the way libhdf5 loads them: from the
// folders of libhdf5's plugin path (HDF5_PLUGIN_PATH, else its default
// /usr/local/hdf5/lib/plugin, plus folders added with H5PLappend), unless
// HDF5_PLUGIN_PRELOAD="::" turned plugins off.
//
// libhdf5 takes whatever a filter hands back as the chunk (detail/
// h5_filters.hpp): a plugin whose output is short for a damaged chunk would
// have libhdf5 copy past its buffer. So ndbridge loads the plugin itself
// and registers it under its own id wrapped: the wrapper runs the plugin's
// filter and, within an ExpectChunkBytes scope, refuses output that is not
// exactly the chunk's size. Outside one (another user of libhdf5 in the
// process) it passes everything through.

#include <hdf5.h>

#include <filesystem>
#include <string>

namespace ndbridge::detail {

/// Whether reads through filter `id` (an id of 256 and up, a plugin's) have
/// their output size checked: true once its plugin is found in libhdf5's
/// plugin path and registered wrapped. Loads it the first time it is asked
/// for; thread-safe.
bool plugin_checks_chunk_size(H5Z_filter_t id);

/// Why filter `id` named `name` (as the file names it) cannot be read here,
/// for an error: not found in libhdf5's plugin path (listed), and where its
/// plugin is to be had.
std::string missing_filter(H5Z_filter_t id, const std::string& name);

/// Adds `folder` at the end of libhdf5's plugin path (H5PLappend), once.
void append_plugin_folder(const std::filesystem::path& folder);

}  // namespace ndbridge::detail
