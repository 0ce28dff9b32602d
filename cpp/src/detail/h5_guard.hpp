#pragma once

// libhdf5 is safe to call from several threads only when it was built
// thread-safe (--enable-threadsafe, HDF5_ENABLE_THREADSAFE; Debian's, conda's
// and h5py's are). ndbridge asks it (H5is_library_threadsafe) once; when it
// is not, every call into libhdf5 that ndbridge makes takes one process-wide
// lock, so readers stay correct from any number of threads, one at a time.

#include "detail/fork_guard.hpp"

namespace ndbridge::detail {

/// Whether the libhdf5 in this process was built thread-safe; asked once.
bool h5_library_threadsafe() noexcept;

/// Whether H5Guard serialises: libhdf5 is not thread-safe, or a test forced it.
bool h5_serialised() noexcept;

/// Held around every call into libhdf5 that ndbridge makes: a ForkGuard and,
/// when h5_serialised(), the process-wide HDF5 lock. Nests: a guard taken
/// on a thread that holds one neither waits nor locks again. ndbridge never
/// calls libhdf5 from threads of its own while a guard is held, so the lock
/// cannot deadlock on itself.
class H5Guard {
 public:
  H5Guard();
  H5Guard(const H5Guard&) = delete;
  H5Guard& operator=(const H5Guard&) = delete;
  ~H5Guard();

 private:
  ForkGuard fork_;  // first: a fork() waits for lock holders, never the reverse
  bool locked_ = false;
};

/// Tests only: serialise as for a libhdf5 that is not thread-safe (true), or
/// as libhdf5 says (false). No effect on guards already held.
void h5_force_serialised_for_testing(bool serialise) noexcept;

}  // namespace ndbridge::detail
