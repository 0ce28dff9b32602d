#pragma once

// Virtual datasets (HDF5's VDS): where their source files are, and a check
// that every one is there before any data is read. HDF5 itself fills the
// elements of a missing source with the fill value and says nothing, which
// would turn a lost shard into silently wrong data.

#include <hdf5.h>

#include <filesystem>
#include <string>
#include <vector>

#include "ndbridge/h5.hpp"

namespace ndbridge::detail {

/// Where the file holding the virtual datasets is, fixed when it is opened,
/// as HDF5 fixes its own "extpath" then: relative source names resolve the
/// same way whatever the working directory is later.
struct VirtualOrigin {
  /// The path the file was opened with.
  std::filesystem::path file;
  /// Its folder, made absolute against the working directory at open time.
  std::filesystem::path directory;
  /// The same folder with symbolic links resolved (HDF5's last resort).
  std::filesystem::path resolved_directory;

  /// The origin of `file`, computed now.
  static VirtualOrigin of(const std::filesystem::path& file);
};

/// The file HDF5 opens for source file name `name` of a virtual dataset in
/// the file at `origin`, trying the places in HDF5's own order (an absolute
/// name as it is; each HDF5_VDS_PREFIX entry, "${ORIGIN}" standing for the
/// file's folder; the file's folder; the working directory; the folder with
/// links resolved); empty when none holds it.
std::filesystem::path find_virtual_source(const VirtualOrigin& origin, const std::string& name);

/// Every mapping of the virtual dataset whose creation property list is
/// `dcpl`, each with the file found for it. `what` names the dataset in
/// messages.
std::vector<H5VirtualSource> virtual_sources(hid_t dcpl, const VirtualOrigin& origin,
                                             const std::string& what);

/// Throws unless every source of the virtual dataset is readable as mapped:
/// FileError (ENOENT) when a source file is missing, FormatError when it is not
/// HDF5, lacks the source dataset, or holds fewer elements than the mapping
/// selects (a truncated or replaced shard). Each file is opened once.
void check_virtual_sources(hid_t dcpl, const VirtualOrigin& origin, const std::string& what);

}  // namespace ndbridge::detail
