#pragma once

// The thin checked layer every HDF5 C call goes through: failures become
// ndbridge::H5Error carrying HDF5's error stack, nothing is printed, and
// every identifier has an owner that releases it.

#include <hdf5.h>

#include <string>
#include <utility>

namespace ndbridge::detail {

static_assert(sizeof(hid_t) == sizeof(std::int64_t), "ndbridge stores hid_t as int64_t");

/// Throws H5Error "<what>: <HDF5's innermost message>" with the current
/// thread's HDF5 error stack, then clears that stack.
[[noreturn]] void throw_h5(const std::string& what);

/// Records why a filter ndbridge registered failed, on this thread, for the
/// next throw_h5 to report ("" forgets it). Filters push their errors onto
/// HDF5's stack too, but libhdf5 1.14 drops what a callback pushes there.
void note_filter_error(const std::string& why);

/// Owns an HDF5 identifier and releases it (H5Idec_ref) on destruction;
/// release never throws, as it runs on error paths.
class Handle {
 public:
  Handle() noexcept = default;
  explicit Handle(hid_t id) noexcept : id_(id) {}
  Handle(Handle&& other) noexcept : id_(std::exchange(other.id_, H5I_INVALID_HID)) {}
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }

  hid_t get() const noexcept { return id_; }
  hid_t release() noexcept { return std::exchange(id_, H5I_INVALID_HID); }
  void reset() noexcept {
    if (id_ >= 0) H5Idec_ref(id_);
    id_ = H5I_INVALID_HID;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

/// Takes ownership of a freshly created identifier, or throws if the call
/// that made it failed.
inline Handle own(hid_t id, const std::string& what) {
  if (id < 0) throw_h5(what);
  return Handle(id);
}

/// Checks an herr_t.
inline void check(herr_t status, const std::string& what) {
  if (status < 0) throw_h5(what);
}

/// Checks an htri_t and returns it as bool.
inline bool check_tri(htri_t status, const std::string& what) {
  if (status < 0) throw_h5(what);
  return status > 0;
}

/// Turns HDF5's automatic error printing off for the calling thread (the
/// setting is per thread in thread-safe builds) and restores it afterwards,
/// so a library user's own setting survives our calls.
class QuietErrors {
 public:
  QuietErrors() noexcept;
  QuietErrors(const QuietErrors&) = delete;
  QuietErrors& operator=(const QuietErrors&) = delete;
  ~QuietErrors();

 private:
  H5E_auto2_t saved_func_ = nullptr;
  void* saved_data_ = nullptr;
  bool saved_ = false;
};

}  // namespace ndbridge::detail
