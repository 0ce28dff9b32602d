#include "detail/signature.hpp"

#include <cstring>

namespace ndbridge::detail {

namespace {

constexpr char kHdf5Signature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};

}  // namespace

bool has_hdf5_signature(const File& file) {
  const std::uint64_t size = file.size_at_open();
  for (std::uint64_t offset = 0; offset + 8 <= size; offset = offset ? offset * 2 : 512) {
    char probe[8];
    if (file.read_at(probe, 8, offset) == 8 && std::memcmp(probe, kHdf5Signature, 8) == 0) return true;
  }
  return false;
}

}  // namespace ndbridge::detail
