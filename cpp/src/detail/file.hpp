#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace ndbridge::detail {

/// "'path'": how every message names a file.
std::string quote(const std::filesystem::path& path);

/// Throws FileError "<what>: <strerror(err)>" carrying `err`.
[[noreturn]] void throw_io(const std::string& what, int err);

/// An open POSIX file descriptor, closed on destruction. Every failure throws
/// FileError naming the file.
class File {
 public:
  /// Opens an existing file for reading.
  static File open_read(const std::filesystem::path& path);

  File(int fd, std::string name) noexcept : fd_(fd), name_(std::move(name)) {}
  File(File&& other) noexcept;
  File& operator=(File&& other) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  ~File();

  int fd() const noexcept { return fd_; }
  /// The quoted path, for messages.
  const std::string& name() const noexcept { return name_; }
  /// Current size in bytes (fstat).
  std::uint64_t size() const;
  /// Size in bytes when open_read() opened the file, saving a second fstat
  /// on the small-file path.
  std::uint64_t size_at_open() const noexcept { return size_at_open_; }
  /// Reads up to `n` bytes at `offset`; returns fewer only at end of file.
  std::size_t read_at(void* buffer, std::size_t n, std::uint64_t offset) const;
  /// read_at(), split between threads for large reads: copying from the
  /// page cache and faulting in fresh pages each run at one core's speed,
  /// and more cores go faster (this is how a full read beats numpy.load).
  std::size_t read_at_parallel(void* buffer, std::size_t n, std::uint64_t offset) const;
  /// Appends all `n` bytes at the current position.
  void write_all(const void* buffer, std::size_t n);
  /// Overwrites `n` bytes at `offset`, leaving the current position alone.
  void write_at(const void* buffer, std::size_t n, std::uint64_t offset);
  /// Flushes data to the device.
  void sync();
  /// Closes and reports a failed close (which can mean lost writes).
  void close();

 private:
  int fd_;
  std::string name_;
  std::uint64_t size_at_open_ = 0;
};

}  // namespace ndbridge::detail
