#include "detail/h5_call.hpp"

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "ndbridge/error.hpp"

namespace ndbridge::detail {

namespace {

struct Entry {
  std::string function;
  std::string description;
  std::string major;
  std::string minor;
};

std::string message_text(hid_t id) {
  char buffer[256] = {};
  if (H5Eget_msg(id, nullptr, buffer, sizeof buffer) < 0) return {};
  return buffer;
}

herr_t collect(unsigned, const H5E_error2_t* error, void* data) {
  auto* entries = static_cast<std::vector<Entry>*>(data);
  entries->push_back({error->func_name ? error->func_name : "",
                      error->desc ? error->desc : "", message_text(error->maj_num),
                      message_text(error->min_num)});
  return 0;
}

thread_local std::string filter_error;

}  // namespace

void note_filter_error(const std::string& why) { filter_error = why; }

void throw_h5(const std::string& what) {
  std::vector<Entry> entries;
  const hid_t stack = H5Eget_current_stack();  // also clears the thread's stack
  if (stack >= 0) {
    H5Ewalk2(stack, H5E_WALK_UPWARD, collect, &entries);
    H5Eclose_stack(stack);
  }
  // A filter's own reason comes first, as libhdf5 1.10 stacks it.
  if (!filter_error.empty()) {
    if (entries.empty() || entries.front().description != filter_error) {
      entries.insert(entries.begin(), Entry{"ndbridge_filter", filter_error, "Data filters", "Filter operation failed"});
    }
    filter_error.clear();
  }
  std::string text;
  for (const Entry& e : entries) {
    text += e.function + "(): " + e.description + " [" + e.major + ": " + e.minor + "]\n";
  }
  // Upward order puts the innermost, most specific entry first.
  std::string reason = "unknown HDF5 error";
  if (!entries.empty()) {
    reason = entries.front().description;
    if (!entries.front().minor.empty()) reason += " (" + entries.front().minor + ")";
  }
  // HDF5's file drivers report a failed system call as "..., errno = 28,
  // error message = '...', buf = 0x..., ..." over several lines: the errno
  // says it all, and callers can act on it (a full disk, a size limit).
  for (const Entry& e : entries) {
    const std::size_t at = e.description.find("errno = ");
    if (at == std::string::npos) continue;
    const int err = std::atoi(e.description.c_str() + at + 8);
    if (err <= 0) continue;
    throw H5Error(what + ": " + std::strerror(err), text, err);
  }
  // libhdf5 names a format version it does not know this way; say what
  // that means for the user, who usually meets it with h5py's libver="latest".
  if (reason.rfind("bad version number for", 0) == 0) {
    unsigned major = 0, minor = 0, release = 0;
    H5get_libversion(&major, &minor, &release);
    reason += "; the file uses an HDF5 format newer than this libhdf5 (" + std::to_string(major) +
              "." + std::to_string(minor) + "." + std::to_string(release) +
              ") reads: write it with h5py's libver=\"earliest\" (its default) to read it here";
  }
  throw H5Error(what + ": " + reason, text);
}

QuietErrors::QuietErrors() noexcept {
  saved_ = H5Eget_auto2(H5E_DEFAULT, &saved_func_, &saved_data_) >= 0;
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

QuietErrors::~QuietErrors() {
  if (saved_) H5Eset_auto2(H5E_DEFAULT, saved_func_, saved_data_);
}

}  // namespace ndbridge::detail
