// .npy from strangers: the header parser, whole and row reads from a stream,
// the path readers (read, rows, memory map of the file and of rows) and
// NpyReader (both access modes: picked rows, into a new array and into a
// caller's buffer) on the same bytes.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "detail/npy_header.hpp"
#include "ndbridge/npy.hpp"
#include "scratch_file.hpp"

namespace {

// Touch every byte so a wrong length shows up under AddressSanitizer.
std::uint64_t checksum(const ndbridge::Array& a) {
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < a.nbytes(); ++i) sum += static_cast<std::uint8_t>(a.bytes()[i]);
  return sum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  volatile std::uint64_t sink = 0;
  try {
    ndbridge::NpyHeader h;
    ndbridge::detail::parse_npy_dict(bytes, "fuzz", h);
  } catch (const ndbridge::Error&) {
  }
  try {
    std::istringstream in(bytes);
    sink = sink + checksum(ndbridge::read_npy(in, "fuzz"));
  } catch (const ndbridge::Error&) {
  }
  try {
    std::istringstream in(bytes);
    const auto h = ndbridge::read_npy_header(in, "fuzz");
    if (!h.shape.empty() && h.shape[0] > 0) {
      std::istringstream again(bytes);
      sink = sink + checksum(ndbridge::read_npy_rows(again, h.shape[0] / 2, h.shape[0], "fuzz"));
    }
  } catch (const ndbridge::Error&) {
  }
  static const auto path = ndbridge::fuzz::scratch_path(".npy");
  ndbridge::fuzz::write_file(path, data, size);
  try {
    sink = sink + checksum(ndbridge::read_npy(path));
  } catch (const ndbridge::Error&) {
  }
  try {
    const ndbridge::Array mapped = ndbridge::map_npy(path);
    sink = sink + checksum(mapped);
    if (!mapped.shape().empty() && mapped.shape()[0] > 0) {
      const std::uint64_t rows = mapped.shape()[0];
      sink = sink + checksum(ndbridge::read_npy_rows(path, 0, 1));
      sink = sink + checksum(ndbridge::map_npy_rows(path, rows / 2, rows));
      sink = sink + checksum(ndbridge::map_npy_rows(path, rows - 1, rows));
    }
  } catch (const ndbridge::Error&) {
  }
  for (const auto access : {ndbridge::NpyAccess::Read, ndbridge::NpyAccess::Map}) {
    try {
      const ndbridge::NpyReader reader(path, access);
      const ndbridge::NpyHeader& h = reader.header();
      if (h.shape.empty() || h.shape[0] == 0) continue;
      const auto rows = static_cast<std::int64_t>(h.shape[0]);
      // Last, first, a repeat and one counted from the end: every kind of
      // index the readers take, in an order no plan can assume.
      const std::vector<std::int64_t> picked = {rows - 1, 0, rows - 1, -1, rows / 2};
      const ndbridge::Array a = reader.read_rows(picked);
      sink = sink + checksum(a);
      std::vector<std::byte> buffer(static_cast<std::size_t>(a.nbytes()));
      reader.read_rows_into(picked, buffer.data(), buffer.size());
      sink = sink + (buffer.empty() ? 0 : static_cast<std::uint8_t>(buffer.back()));
    } catch (const ndbridge::Error&) {
    }
  }
  return 0;
}
