#include "detail/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <new>
#include <system_error>
#include <thread>
#include <vector>
#include <utility>

#include "ndbridge/error.hpp"

namespace ndbridge::detail {

namespace {
// Linux transfers at most this much per read/write call.
constexpr std::size_t kMaxTransfer = std::size_t{1} << 30;
}  // namespace

std::string quote(const std::filesystem::path& path) { return "'" + path.string() + "'"; }

void throw_io(const std::string& what, int err) {
  throw FileError(what + ": " + std::strerror(err), err);
}

File File::open_read(const std::filesystem::path& path) {
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) throw_io("cannot open " + quote(path) + " for reading", errno);
  File file(fd, quote(path));
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw_io("cannot stat " + file.name(), errno);
  if (S_ISDIR(st.st_mode)) throw_io("cannot read " + file.name(), EISDIR);
  file.size_at_open_ = static_cast<std::uint64_t>(st.st_size);
  return file;
}

File::File(File&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      name_(std::move(other.name_)),
      size_at_open_(other.size_at_open_) {}

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    name_ = std::move(other.name_);
    size_at_open_ = other.size_at_open_;
  }
  return *this;
}

File::~File() {
  if (fd_ >= 0) ::close(fd_);
}

std::uint64_t File::size() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) throw_io("cannot stat " + name_, errno);
  return static_cast<std::uint64_t>(st.st_size);
}

std::size_t File::read_at(void* buffer, std::size_t n, std::uint64_t offset) const {
  auto* out = static_cast<char*>(buffer);
  std::size_t done = 0;
  while (done < n) {
    const std::size_t want = std::min(n - done, kMaxTransfer);
    const ssize_t got = ::pread(fd_, out + done, want, static_cast<off_t>(offset + done));
    if (got < 0) {
      if (errno == EINTR) continue;
      throw_io("cannot read " + name_, errno);
    }
    if (got == 0) break;
    done += static_cast<std::size_t>(got);
  }
  return done;
}

std::size_t File::read_at_parallel(void* buffer, std::size_t n, std::uint64_t offset) const {
  constexpr std::size_t kParallelRead = std::size_t{64} << 20;
  constexpr unsigned kMaxThreads = 4;
  constexpr std::size_t kHugePage = std::size_t{2} << 20;
  if (n < kParallelRead) return read_at(buffer, n, offset);
  // hardware_concurrency() reads sysfs on every call: ask once.
  static const unsigned threads = std::min(kMaxThreads, std::thread::hardware_concurrency());
  if (threads < 2) return read_at(buffer, n, offset);
  // Pieces on 2 MiB boundaries, matching the huge pages big buffers ask for.
  const std::size_t piece = (n / threads + kHugePage - 1) & ~(kHugePage - 1);
  auto* out = static_cast<char*>(buffer);
  std::vector<std::size_t> got(threads, 0);
  std::vector<std::exception_ptr> failed(threads);
  const auto read_piece = [&](unsigned t) {
    const std::size_t begin = std::min(n, t * piece);
    const std::size_t length = std::min(n, begin + piece) - begin;
    try {
      got[t] = read_at(out + begin, length, offset + begin);
    } catch (...) {
      failed[t] = std::current_exception();
    }
  };
  std::vector<std::thread> workers;
  workers.reserve(threads);
  unsigned started = 0;
  try {
    for (; started < threads; ++started) workers.emplace_back(read_piece, started);
  } catch (const std::system_error&) {
    // No more threads to be had (a thread or address-space limit): rather
    // than fail, or leave the started ones unjoined (std::terminate), this
    // thread reads the pieces nobody took.
  } catch (const std::bad_alloc&) {
  }
  for (unsigned t = started; t < threads; ++t) read_piece(t);
  for (auto& w : workers) w.join();
  for (const auto& f : failed) {
    if (f) std::rethrow_exception(f);
  }
  // A short piece means end of file there: what counts is the unbroken
  // prefix, as a single read would have returned it.
  std::size_t total = 0;
  for (unsigned t = 0; t < threads; ++t) {
    const std::size_t begin = std::min(n, t * piece);
    total += got[t];
    if (got[t] != std::min(n, begin + piece) - begin) break;
  }
  return total;
}

void File::write_all(const void* buffer, std::size_t n) {
  const auto* in = static_cast<const char*>(buffer);
  while (n > 0) {
    const ssize_t put = ::write(fd_, in, std::min(n, kMaxTransfer));
    if (put < 0) {
      if (errno == EINTR) continue;
      throw_io("cannot write " + name_, errno);
    }
    in += put;
    n -= static_cast<std::size_t>(put);
  }
}

void File::write_at(const void* buffer, std::size_t n, std::uint64_t offset) {
  const auto* in = static_cast<const char*>(buffer);
  while (n > 0) {
    const ssize_t put = ::pwrite(fd_, in, std::min(n, kMaxTransfer), static_cast<off_t>(offset));
    if (put < 0) {
      if (errno == EINTR) continue;
      throw_io("cannot write " + name_, errno);
    }
    in += put;
    offset += static_cast<std::uint64_t>(put);
    n -= static_cast<std::size_t>(put);
  }
}

void File::sync() {
  if (::fsync(fd_) != 0 && errno != EINVAL) throw_io("cannot flush " + name_ + " to disk", errno);
}

void File::close() {
  const int fd = std::exchange(fd_, -1);
  // Linux closes the descriptor even when close() reports EINTR: never retry.
  if (fd >= 0 && ::close(fd) != 0 && errno != EINTR) throw_io("cannot close " + name_, errno);
}

}  // namespace ndbridge::detail
