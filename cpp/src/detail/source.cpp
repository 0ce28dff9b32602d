#include "detail/source.hpp"

#include <algorithm>
#include <limits>
#include <utility>

#include "ndbridge/error.hpp"

namespace ndbridge::detail {

StreamSource::StreamSource(std::istream& in, std::string name) : in_(in), name_(std::move(name)) {
  base_ = in_.tellg();
}

std::size_t StreamSource::read_at(void* buffer, std::size_t n, std::uint64_t offset) {
  if (seekable()) {
    in_.clear();
    in_.seekg(base_ + static_cast<std::streamoff>(offset));
  } else if (offset != consumed_) {
    throw UsageError(name_ + ": the stream cannot seek, so it can only be read in order");
  }
  std::size_t done = 0;
  auto* out = static_cast<char*>(buffer);
  while (done < n && in_) {
    const auto want = static_cast<std::streamsize>(
        std::min<std::size_t>(n - done, static_cast<std::size_t>(std::numeric_limits<int>::max())));
    in_.read(out + done, want);
    done += static_cast<std::size_t>(in_.gcount());
  }
  if (in_.bad()) throw FileError(name_ + ": the stream failed while reading", 0);
  consumed_ = offset + done;
  return done;
}

std::optional<std::uint64_t> StreamSource::size() {
  if (!seekable()) return std::nullopt;
  in_.clear();
  in_.seekg(0, std::ios::end);
  const std::streampos end = in_.tellg();
  if (end == std::streampos(-1)) return std::nullopt;
  return static_cast<std::uint64_t>(end - base_);
}

}  // namespace ndbridge::detail
