#include "detail/atomic_output.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <string>

namespace ndbridge::detail {

namespace {

// Temporary names must not collide between threads or processes writing
// beside each other; pid + a counter + a clock reading makes that so without
// any shared state that needs locking.
std::filesystem::path temporary_name(const std::filesystem::path& destination, unsigned attempt) {
  static std::atomic<unsigned long> counter{0};
  const auto ticks = std::chrono::steady_clock::now().time_since_epoch().count();
  const std::string name = "." + destination.filename().string() + ".tmp-" +
                           std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
                           std::to_string(static_cast<unsigned long long>(ticks) % 1000003u) +
                           "-" + std::to_string(attempt);
  return destination.parent_path() / name;
}

int create_exclusive(const std::filesystem::path& destination, std::filesystem::path& chosen) {
  for (unsigned attempt = 0;; ++attempt) {
    chosen = temporary_name(destination, attempt);
    const int fd = ::open(chosen.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) return fd;
    if (errno == EINTR || (errno == EEXIST && attempt < 100)) continue;
    throw_io("cannot create a temporary file beside " + quote(destination), errno);
  }
}

}  // namespace

AtomicOutput::AtomicOutput(const std::filesystem::path& destination)
    : destination_(destination),
      file_(create_exclusive(destination, temporary_), quote(destination)) {}

AtomicOutput::~AtomicOutput() {
  if (!committed_) {
    // Best effort on the failure path: the exception already in flight says
    // what went wrong, and the half-written file must not survive.
    file_ = File(-1, {});
    ::unlink(temporary_.c_str());
  }
}

void AtomicOutput::commit() {
  file_.sync();
  file_.close();
  if (std::rename(temporary_.c_str(), destination_.c_str()) != 0) {
    throw_io("cannot rename the finished file to " + quote(destination_), errno);
  }
  committed_ = true;
}

void AtomicOutput::commit_as_new() {
  file_.sync();
  file_.close();
  if (::link(temporary_.c_str(), destination_.c_str()) != 0) {
    const int err = errno;
    throw_io(err == EEXIST ? quote(destination_) + ": already exists (it was not to be replaced)"
                           : "cannot link the finished file to " + quote(destination_),
             err);
  }
  ::unlink(temporary_.c_str());
  committed_ = true;
}

}  // namespace ndbridge::detail
