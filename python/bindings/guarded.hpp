#pragma once

// A reader Python can close while other threads use it. Reads run with the
// GIL released, so close() from one thread could otherwise free the C++
// object under a read in another: here every use holds a lease, close()
// refuses new leases and waits for the ones out, and a closed reader raises
// UsageError naming its file.

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "ndbridge/error.hpp"

namespace ndbridge::python {

template <class T>
class Guarded {
 public:
  /// Holds `value`; `name` (the quoted path) names it in errors.
  Guarded(std::string name, T value) : name_(std::move(name)), value_(std::move(value)) {}
  Guarded(const Guarded&) = delete;
  Guarded& operator=(const Guarded&) = delete;

  /// The reader, for as long as the lease lives.
  class Lease {
   public:
    explicit Lease(Guarded& owner) : owner_(&owner) {}
    Lease(Lease&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (owner_ != nullptr) owner_->give_back();
    }
    T& operator*() const { return *owner_->value_; }
    T* operator->() const { return &*owner_->value_; }

   private:
    Guarded* owner_;
  };

  /// A lease on the reader; UsageError once close() was called.
  Lease use() {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (closing_) throw UsageError(name_ + ": the file is closed");
    ++leases_;
    return Lease(*this);
  }

  /// Refuses new leases, waits for those out, then closes the reader. Call
  /// without the GIL: a lease may be waiting for it to finish.
  void close() {
    std::optional<T> closed;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      closing_ = true;
      returned_.wait(lock, [this] { return leases_ == 0; });
      closed.swap(value_);
    }
    // Destroyed outside the lock: closing an HDF5 file takes libhdf5's.
  }

  /// The quoted path.
  const std::string& name() const noexcept { return name_; }

 private:
  void give_back() {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (--leases_ == 0) returned_.notify_all();
  }

  std::string name_;
  std::mutex mutex_;
  std::condition_variable returned_;
  int leases_ = 0;
  bool closing_ = false;
  std::optional<T> value_;
};

}  // namespace ndbridge::python
