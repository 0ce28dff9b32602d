#include "detail/h5_plugins.hpp"

#include <H5PLextern.h>
#include <dirent.h>
#include <dlfcn.h>
#include <sys/stat.h>

#include <array>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "detail/h5_call.hpp"
#include "detail/h5_filters.hpp"
#include "ndbridge/error.hpp"

namespace ndbridge::detail {

namespace {

// H5Z_func_t carries no user data, so each wrapped plugin gets a
// trampoline of its own: this many plugins per process at most.
constexpr std::size_t kSlots = 32;

struct Slot {
  H5Z_func_t filter = nullptr;
  std::string name;   // the class's name
  std::string label;  // "filter <id> (<name>)", for errors
  H5Z_class2_t cls{};
};

std::array<Slot, kSlots> slots;
std::size_t slots_used = 0;
std::mutex mutex;  // guards slots, slots_used, tried and folders
std::map<H5Z_filter_t, bool> tried;  // id -> wrapped
std::vector<std::string> appended;

template <std::size_t N>
std::size_t wrapped_filter(unsigned flags, std::size_t count, const unsigned values[], std::size_t nbytes,
                           std::size_t* buf_size, void** buf) {
  const Slot& slot = slots[N];
  const std::size_t size = slot.filter(flags, count, values, nbytes, buf_size, buf);
  // On failure the plugin reported it; the chunk buffer (*buf, which the
  // plugin may have replaced) is the caller's to free either way.
  if (size == 0 || (flags & H5Z_FLAG_REVERSE) == 0) return size;
  return chunk_size_expected(size, slot.label.c_str()) ? size : 0;
}

template <std::size_t... N>
constexpr std::array<H5Z_func_t, sizeof...(N)> make_wrappers(std::index_sequence<N...>) {
  return {&wrapped_filter<N>...};
}
constexpr std::array<H5Z_func_t, kSlots> wrappers = make_wrappers(std::make_index_sequence<kSlots>());

// libhdf5's plugin path, in its order.
std::vector<std::string> plugin_folders() {
  std::vector<std::string> out;
  unsigned count = 0;
  if (H5PLsize(&count) < 0) return out;
  for (unsigned i = 0; i < count; ++i) {
    const ssize_t size = H5PLget(i, nullptr, 0);
    if (size <= 0) continue;
    std::string path(static_cast<std::size_t>(size) + 1, '\0');
    if (H5PLget(i, path.data(), path.size()) < 0) continue;
    path.resize(static_cast<std::size_t>(size));
    out.push_back(path);
  }
  return out;
}

using PluginType = H5PL_type_t (*)();
using PluginInfo = const void* (*)();

// The filter class of `id` from the first plugin in `folders` that has it,
// its library left loaded; null when none has.
const H5Z_class2_t* find_plugin(H5Z_filter_t id, const std::vector<std::string>& folders) {
  for (const std::string& folder : folders) {
    DIR* dir = ::opendir(folder.c_str());
    if (dir == nullptr) continue;
    const H5Z_class2_t* found = nullptr;
    while (const dirent* entry = ::readdir(dir)) {
      const std::string file = folder + "/" + entry->d_name;
      struct stat info {};
      if (entry->d_name[0] == '.' || ::stat(file.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) continue;
      // As libhdf5 opens plugins: local symbols, so that the HDF5 stubs some
      // plugins carry (hdf5plugin's) replace nothing of libhdf5's.
      void* library = ::dlopen(file.c_str(), RTLD_LAZY | RTLD_LOCAL);
      if (library == nullptr) continue;
      const auto type = reinterpret_cast<PluginType>(::dlsym(library, "H5PLget_plugin_type"));
      const auto get = reinterpret_cast<PluginInfo>(::dlsym(library, "H5PLget_plugin_info"));
      const auto* cls = type && get && type() == H5PL_TYPE_FILTER ? static_cast<const H5Z_class2_t*>(get()) : nullptr;
      if (cls != nullptr && cls->version == H5Z_CLASS_T_VERS && cls->id == id && cls->filter != nullptr) {
        found = cls;  // stays loaded, as libhdf5 keeps its plugins
        break;
      }
      ::dlclose(library);
    }
    ::closedir(dir);
    if (found != nullptr) return found;
  }
  return nullptr;
}

bool plugins_enabled() {
  unsigned mask = 0;
  return H5PLget_loading_state(&mask) >= 0 && (mask & H5PL_FILTER_PLUGIN) != 0;
}

// Where the plugin for some well-known filters is to be had.
std::string where_to_get(H5Z_filter_t id) {
  switch (id) {
    case 307:    // bzip2
    case 32001:  // blosc
    case 32004:  // lz4
    case 32008:  // bitshuffle
    case 32013:  // zfp
    case 32015:  // zstd
    case 32017:  // SZ
    case 32018:  // FCIDECOMP
    case 32024:  // SZ3
    case 32026:  // blosc2
    case 32028:  // SPERR
    case 32029:  // HTJ2K
      return "the Python package hdf5plugin has it (pip install hdf5plugin: ndbridge.cpp then finds it "
             "by itself; C++ programs: set HDF5_PLUGIN_PATH to its plugins folder)";
    default:
      return "install the plugin its writer used (the HDF Group keeps the list of registered filters) "
             "and set HDF5_PLUGIN_PATH to its folder";
  }
}

}  // namespace

bool plugin_checks_chunk_size(H5Z_filter_t id) {
  if (id < 256) return false;
  const std::lock_guard<std::mutex> lock(mutex);
  const auto known = tried.find(id);
  if (known != tried.end()) return known->second;
  const QuietErrors quiet;
  bool wrapped = false;
  if (slots_used < kSlots && plugins_enabled()) {
    if (const H5Z_class2_t* cls = find_plugin(id, plugin_folders())) {
      Slot& slot = slots[slots_used];
      slot.filter = cls->filter;
      slot.name = cls->name ? cls->name : "";
      slot.label = "filter " + std::to_string(id) + (slot.name.empty() ? "" : " (" + slot.name + ")");
      slot.cls = *cls;
      slot.cls.name = slot.name.c_str();
      slot.cls.filter = wrappers[slots_used];
      // Replaces the plugin's own registration, if libhdf5 loaded it first.
      wrapped = H5Zregister(&slot.cls) >= 0;
      if (wrapped) ++slots_used;
      H5Eclear2(H5E_DEFAULT);
    }
  }
  tried.emplace(id, wrapped);
  return wrapped;
}

std::string missing_filter(H5Z_filter_t id, const std::string& name) {
  std::string folders;
  {
    const std::lock_guard<std::mutex> lock(mutex);
    for (const std::string& f : plugin_folders()) folders += (folders.empty() ? "" : ", ") + f;
  }
  std::string where = plugins_enabled() ? "no plugin for it in libhdf5's plugin path (HDF5_PLUGIN_PATH; now: " +
                                              (folders.empty() ? std::string("none") : folders) + ")"
                                        : "HDF5_PLUGIN_PRELOAD turns filter plugins off";
  return "filter " + std::to_string(id) + (name.empty() ? "" : " (" + name + ")") + " is not available: " +
         where + "; " + where_to_get(id);
}

void append_plugin_folder(const std::filesystem::path& folder) {
  const std::lock_guard<std::mutex> lock(mutex);
  for (const std::string& f : appended) {
    if (f == folder.string()) return;
  }
  const QuietErrors quiet;
  check(H5PLappend(folder.c_str()), "cannot add " + folder.string() + " to libhdf5's plugin path");
  appended.push_back(folder.string());
  // A filter looked for before may be there now.
  for (auto it = tried.begin(); it != tried.end();) it = it->second ? std::next(it) : tried.erase(it);
}

}  // namespace ndbridge::detail
