#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <optional>
#include <string>

#include "detail/file.hpp"

namespace ndbridge::detail {

/// Random-access bytes the .npy reader decodes from: a file, a seekable
/// stream, or a member of an .npz archive.
class Source {
 public:
  virtual ~Source() = default;
  /// Reads up to n bytes at offset; fewer only at the end of the data.
  virtual std::size_t read_at(void* buffer, std::size_t n, std::uint64_t offset) = 0;
  /// Total size, when it can be known without reading.
  virtual std::optional<std::uint64_t> size() = 0;
  /// How messages name the data: "'x.npy'", "'a.npz' member 'x.npy'".
  virtual const std::string& name() const = 0;
};

/// A whole open file.
class FileSource final : public Source {
 public:
  explicit FileSource(const File& file) : file_(file), size_(file.size_at_open()) {}
  std::size_t read_at(void* buffer, std::size_t n, std::uint64_t offset) override {
    return file_.read_at_parallel(buffer, n, offset);
  }
  std::optional<std::uint64_t> size() override { return size_; }
  const std::string& name() const override { return file_.name(); }

 private:
  const File& file_;
  std::uint64_t size_;
};

/// A stream read from its current position, which counts as offset 0. A
/// stream that cannot seek can only be read in order.
class StreamSource final : public Source {
 public:
  StreamSource(std::istream& in, std::string name);
  bool seekable() const { return base_ != std::streampos(-1); }
  std::size_t read_at(void* buffer, std::size_t n, std::uint64_t offset) override;
  std::optional<std::uint64_t> size() override;
  const std::string& name() const override { return name_; }

 private:
  std::istream& in_;
  std::string name_;
  std::streampos base_;
  std::uint64_t consumed_ = 0;
};

}  // namespace ndbridge::detail
