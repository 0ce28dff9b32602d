#include "detail/mapping.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <limits>

#include "ndbridge/error.hpp"

namespace ndbridge::detail {

std::shared_ptr<Mapping> Mapping::map(const File& file, std::uint64_t size) {
  if (size > std::numeric_limits<std::size_t>::max()) {
    throw_io("cannot map " + file.name() + " (larger than the address space)", EFBIG);
  }
  const auto length = static_cast<std::size_t>(size);
  void* base = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, file.fd(), 0);
  if (base == MAP_FAILED) throw_io("cannot map " + file.name() + " into memory", errno);
  return std::make_shared<Mapping>(static_cast<const std::byte*>(base), length);
}

std::shared_ptr<Mapping> Mapping::map(const File& file, std::uint64_t offset, std::uint64_t length) {
  static const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  const std::uint64_t start = offset / page * page;
  const std::uint64_t span = offset - start + length;
  if (span > std::numeric_limits<std::size_t>::max()) {
    throw_io("cannot map " + file.name() + " (larger than the address space)", EFBIG);
  }
  void* base = ::mmap(nullptr, static_cast<std::size_t>(span), PROT_READ, MAP_SHARED, file.fd(),
                      static_cast<off_t>(start));
  if (base == MAP_FAILED) throw_io("cannot map " + file.name() + " into memory", errno);
  return std::make_shared<Mapping>(static_cast<const std::byte*>(base), static_cast<std::size_t>(span), start);
}

Mapping::~Mapping() {
  ::munmap(const_cast<std::byte*>(base_), size_);
}

const std::shared_ptr<Mapping>& LazyMapping::get(const File& file) const {
  std::call_once(once_, [&] {
    try {
      if (file.size_at_open() > 0) mapping_ = Mapping::map(file, file.size_at_open());
    } catch (const FileError&) {
    }
  });
  return mapping_;
}

}  // namespace ndbridge::detail
