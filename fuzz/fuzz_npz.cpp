// .npz from strangers: the central directory, member headers, stored and
// deflated members, CRC checks, size limits, row reads.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "ndbridge/npz.hpp"
#include "scratch_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto path = ndbridge::fuzz::scratch_path(".npz");
  ndbridge::fuzz::write_file(path, data, size);
  volatile std::uint64_t sink = 0;
  try {
    // A limit well under the fuzzer's memory cap: a bomb must be refused by
    // the check, never reach the allocator.
    ndbridge::NpzLimits limits;
    limits.max_inflated_bytes = std::uint64_t{64} << 20;
    const ndbridge::NpzReader reader(path, limits);
    for (const auto& name : reader.names()) {
      try {
        const ndbridge::Array a = reader.read(name);
        for (std::uint64_t i = 0; i < a.nbytes(); ++i) sink = sink + static_cast<std::uint8_t>(a.bytes()[i]);
      } catch (const ndbridge::Error&) {
      }
      try {
        // Row reads: in place from a map (stored) or inflated part way.
        const std::vector<std::int64_t> picked = {-1, 0, -1};
        sink = sink + reader.read_rows(name, picked).nbytes();
        sink = sink + reader.read_rows(name, 0, 1).nbytes();
      } catch (const ndbridge::Error&) {
      }
    }
    try {
      sink = sink + reader.members().size();
    } catch (const ndbridge::Error&) {
    }
  } catch (const ndbridge::Error&) {
  }
  return 0;
}
