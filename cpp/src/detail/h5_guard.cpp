#include "detail/h5_guard.hpp"

#include <hdf5.h>

#include <atomic>
#include <mutex>

namespace ndbridge::detail {

namespace {

std::mutex h5_lock;
thread_local int depth = 0;
std::atomic<bool> forced{false};

}  // namespace

bool h5_library_threadsafe() noexcept {
  static const bool threadsafe = [] {
    hbool_t answer = 0;
    return H5is_library_threadsafe(&answer) >= 0 && answer != 0;
  }();
  return threadsafe;
}

bool h5_serialised() noexcept { return forced.load() || !h5_library_threadsafe(); }

void h5_force_serialised_for_testing(bool serialise) noexcept { forced.store(serialise); }

H5Guard::H5Guard() {
  if (depth > 0 || !h5_serialised()) {
    ++depth;
    return;
  }
  h5_lock.lock();  // may throw; then this guard never counted
  locked_ = true;
  ++depth;
}

H5Guard::~H5Guard() {
  --depth;
  if (locked_) h5_lock.unlock();
}

}  // namespace ndbridge::detail
