#pragma once

// fork() copies a process with only the thread that called it. A lock held
// at that moment by another thread (libhdf5's global lock, or a mutex of
// ndbridge's) stays locked for ever in the child, and the child's first
// HDF5 call hangs. So every call into libhdf5 that ndbridge makes holds a
// ForkGuard, and a fork() in this process (pthread_atfork) first waits for
// every guard to be gone and holds new ones off until it is done: a child
// (a DataLoader worker, a multiprocessing pool) inherits files that work.

namespace ndbridge::detail {

class ForkGuard {
 public:
  /// Waits while a fork() is under way, then holds the next one off.
  /// Nests: a guard taken on a thread that holds one never waits.
  ForkGuard() noexcept;
  ForkGuard(const ForkGuard&) = delete;
  ForkGuard& operator=(const ForkGuard&) = delete;
  ~ForkGuard();
};

}  // namespace ndbridge::detail
