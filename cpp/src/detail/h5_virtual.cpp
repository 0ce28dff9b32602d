#include "detail/h5_virtual.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <map>
#include <string>
#include <system_error>
#include <vector>

#include "detail/file.hpp"
#include "detail/h5_call.hpp"
#include "detail/text.hpp"
#include "ndbridge/error.hpp"

namespace ndbridge::detail {

namespace fs = std::filesystem;

namespace {

bool is_file(const fs::path& path) {
  std::error_code error;
  return fs::exists(path, error) && !fs::is_directory(path, error);
}

// A name HDF5 returns through a (buffer, size) call that reports the length.
template <typename Get>
std::string hdf5_string(Get get, const std::string& what) {
  const ssize_t length = get(nullptr, 0);
  if (length < 0) throw_h5(what);
  std::string out(static_cast<std::size_t>(length) + 1, '\0');
  if (get(out.data(), out.size()) < 0) throw_h5(what);
  out.resize(static_cast<std::size_t>(length));
  return out;
}

// HDF5 splits its prefix variable on ':' and drops empty entries.
std::vector<std::string> environment_prefixes(const VirtualOrigin& origin) {
  std::vector<std::string> out;
  const char* value = std::getenv("HDF5_VDS_PREFIX");
  if (value == nullptr) return out;
  const std::string all = value;
  const std::string token = "${ORIGIN}";
  std::size_t start = 0;
  while (start <= all.size()) {
    std::size_t end = all.find(':', start);
    if (end == std::string::npos) end = all.size();
    std::string prefix = all.substr(start, end - start);
    if (prefix.compare(0, token.size(), token) == 0) {
      prefix = origin.directory.string() + prefix.substr(token.size());
    }
    if (!prefix.empty()) out.push_back(prefix);
    start = end + 1;
  }
  return out;
}


// Element bounds [start, end] of a selection along each axis, or false when
// it has none (an unlimited selection, which follows its source's extent).
bool selection_bounds(hid_t space, std::vector<hsize_t>& start, std::vector<hsize_t>& end) {
  start.assign(H5S_MAX_RANK, 0);
  end.assign(H5S_MAX_RANK, 0);
  if (H5Sget_select_bounds(space, start.data(), end.data()) < 0) {
    H5Eclear2(H5E_DEFAULT);
    return false;
  }
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0) return false;
  start.resize(static_cast<std::size_t>(rank));
  end.resize(static_cast<std::size_t>(rank));
  for (hsize_t e : end) {
    if (e >= (hsize_t{1} << 62)) return false;
  }
  return true;
}

// Throws FormatError unless the source dataset (extent `dims`) holds every
// element mapping `index` takes from it: fewer elements (a truncated or
// replaced shard) would read as the fill value too.
void check_extent(hid_t dcpl, size_t index, const std::vector<hsize_t>& dims,
                  const std::string& in_source, const std::string& what) {
  const std::string mapping = what + ": cannot read virtual mapping " + std::to_string(index);
  const Handle selection = own(H5Pget_virtual_srcspace(dcpl, index), mapping);
  std::vector<hsize_t> start, end;
  if (H5Sget_select_type(selection.get()) != H5S_SEL_ALL) {
    // A selection in the source: its far corner must lie inside it.
    if (!selection_bounds(selection.get(), start, end)) return;
    for (std::size_t k = 0; k < std::min(end.size(), dims.size()); ++k) {
      if (end[k] >= dims[k]) {
        throw FormatError(in_source + " has " + std::to_string(dims[k]) + " elements along axis " +
                          std::to_string(k) + ", but " + std::to_string(end[k] + 1) +
                          " are mapped (a truncated or replaced source file)");
      }
    }
    return;
  }
  // The whole source (as h5py maps it): HDF5 stores no extent for it, so it
  // must match the block of the virtual dataset it fills.
  const Handle block = own(H5Pget_virtual_vspace(dcpl, index), mapping);
  if (!selection_bounds(block.get(), start, end) || start.size() != dims.size()) return;
  for (std::size_t k = 0; k < dims.size(); ++k) {
    const hsize_t mapped = end[k] - start[k] + 1;
    if (dims[k] != mapped) {
      throw FormatError(in_source + " has " + std::to_string(dims[k]) + " elements along axis " +
                        std::to_string(k) + ", but " + std::to_string(mapped) +
                        " are mapped (a truncated or replaced source file)");
    }
  }
}

}  // namespace

VirtualOrigin VirtualOrigin::of(const fs::path& file) {
  VirtualOrigin origin;
  origin.file = file;
  std::error_code error;
  const fs::path absolute = fs::absolute(file, error);
  origin.directory = (error ? file : absolute).parent_path();
  const fs::path canonical = fs::weakly_canonical(file, error);
  origin.resolved_directory = error ? origin.directory : canonical.parent_path();
  return origin;
}

fs::path find_virtual_source(const VirtualOrigin& origin, const std::string& name) {
  if (name == ".") return origin.file;
  fs::path relative = name;
  if (relative.is_absolute()) {
    if (is_file(relative)) return relative;
    relative = relative.filename();  // HDF5 goes on searching for the bare name
  }
  std::vector<fs::path> candidates;
  for (const std::string& prefix : environment_prefixes(origin)) {
    candidates.push_back(fs::path(prefix) / relative);
  }
  candidates.push_back(origin.directory / relative);
  candidates.push_back(relative);
  candidates.push_back(origin.resolved_directory / relative);
  for (const fs::path& candidate : candidates) {
    if (is_file(candidate)) return candidate;
  }
  return {};
}

std::vector<H5VirtualSource> virtual_sources(hid_t dcpl, const VirtualOrigin& origin,
                                             const std::string& what) {
  size_t count = 0;
  check(H5Pget_virtual_count(dcpl, &count), what + ": cannot read the virtual mappings");
  std::vector<H5VirtualSource> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const std::string where = what + ": cannot read virtual mapping " + std::to_string(i);
    H5VirtualSource source;
    source.file = hdf5_string(
        [&](char* buffer, size_t size) { return H5Pget_virtual_filename(dcpl, i, buffer, size); },
        where);
    source.dataset = hdf5_string(
        [&](char* buffer, size_t size) { return H5Pget_virtual_dsetname(dcpl, i, buffer, size); },
        where);
    // printf-style names ("%b") stand for many files, made up at read time.
    if (source.file.find('%') == std::string::npos) {
      source.found = find_virtual_source(origin, source.file);
    }
    out.push_back(std::move(source));
  }
  return out;
}

void check_virtual_sources(hid_t dcpl, const VirtualOrigin& origin, const std::string& what) {
  const std::vector<H5VirtualSource> sources = virtual_sources(dcpl, origin, what);
  std::map<fs::path, Handle> files;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    const H5VirtualSource& source = sources[i];
    if (source.file.find('%') != std::string::npos || source.dataset.find('%') != std::string::npos) {
      continue;  // printf-style mappings: HDF5 decides at read time which files exist
    }
    const std::string named = what + " is virtual and its source file " + quote(source.file);
    if (source.found.empty()) {
      const bool prefixed = std::getenv("HDF5_VDS_PREFIX") != nullptr;
      throw FileError(named + " is missing (looked " + (prefixed ? "under HDF5_VDS_PREFIX, " : "") +
                        "in " + quote(origin.directory) + ", the folder of " +
                        quote(origin.file.filename()) + ", and in the working directory)",
                    ENOENT);
    }
    auto file = files.find(source.found);
    if (file == files.end()) {
      const hid_t id = source.file == "." ? H5Fopen(origin.file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)
                                          : H5Fopen(source.found.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
      if (id < 0) {
        H5Eclear2(H5E_DEFAULT);
        throw FormatError(named + " (found at " + quote(source.found) +
                          ") cannot be opened as HDF5");
      }
      file = files.emplace(source.found, Handle(id)).first;
    }
    const hid_t dataset_id = H5Dopen2(file->second.get(), source.dataset.c_str(), H5P_DEFAULT);
    if (dataset_id < 0) {
      H5Eclear2(H5E_DEFAULT);
      throw FormatError(named + " (" + quote(source.found) + ") has no dataset " +
                        quote(source.dataset));
    }
    const Handle dataset(dataset_id);
    const std::string in_source = named + " (" + quote(source.found) + "): dataset " +
                                  quote(source.dataset);
    const Handle space = own(H5Dget_space(dataset.get()), in_source + ": cannot read the dataspace");
    std::vector<hsize_t> dims(H5S_MAX_RANK);
    const int rank = H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    if (rank < 0) throw_h5(in_source + ": cannot read the dataspace");
    dims.resize(static_cast<std::size_t>(rank));
    check_extent(dcpl, i, dims, in_source, what);
  }
}

}  // namespace ndbridge::detail
