// HDF5 from strangers: opening, listing, reading every dataset and
// attribute. The HDF5 C library itself is Debian's, not instrumented: a
// crash inside it is reported as such, and what ndbridge can guard against
// (sizes, types it dispatches on, its LZF decoder) is guarded.
#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

#include "ndbridge/h5.hpp"
#include "scratch_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto path = ndbridge::fuzz::scratch_path(".h5");
  ndbridge::fuzz::write_file(path, data, size);
  volatile std::uint64_t sink = 0;
  try {
    const ndbridge::H5File file = ndbridge::H5File::open(path);
    for (const auto& object : file.list()) {
      try {
        for (const auto& [name, value] : file.attributes(object.path)) sink = sink + value.nbytes();
        if (object.kind != ndbridge::H5Object::Kind::Dataset || !object.readable) continue;
        // Bounded: a header may declare a huge extent over a tiny file.
        std::uint64_t elements = 1;
        for (const auto d : object.shape) elements *= d;
        if (elements > (std::uint64_t{1} << 20)) continue;
        const ndbridge::Array a = file.read(object.path);
        for (std::uint64_t i = 0; i < a.nbytes(); ++i) sink = sink + static_cast<std::uint8_t>(a.bytes()[i]);
        if (!object.shape.empty() && object.shape[0] > 1) {
          sink = sink + file.read_rows(object.path, 1, object.shape[0]).nbytes();
          // Picked rows go through the chunk reader's own path (per chunk
          // row, decoded outside libhdf5's lock): last, first, last again.
          const std::vector<std::int64_t> picked = {-1, 0, -1};
          sink = sink + file.read_rows(object.path, picked).nbytes();
        }
      } catch (const ndbridge::Error&) {
      } catch (const std::bad_alloc&) {
        // A chunked dataset may legitimately be larger than memory.
      }
    }
  } catch (const ndbridge::Error&) {
  }
  return 0;
}
