#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "detail/file.hpp"
#include "detail/npy_codec.hpp"

namespace ndbridge::detail {

/// Writes a zip archive member by member into a file opened for writing at
/// its start. Each local header is written first with room for zip64 sizes
/// (as numpy.savez does) and rewritten in place once the CRC and sizes are
/// known, so members stream through without being held in memory and
/// without data descriptors. The central directory uses zip64 extra fields,
/// and the end records the zip64 end record, only where a value needs them.
class ZipWriter {
 public:
  explicit ZipWriter(File& file);

  /// Appends member `name` (UTF-8), stored or deflated; `produce` writes
  /// its uncompressed bytes through the Sink it is given.
  void add(const std::string& name, bool deflate, const std::function<void(const Sink&)>& produce);
  /// Writes the central directory and end records.
  void finish();

 private:
  struct Entry {
    std::string name;
    std::uint16_t flags = 0;
    std::uint16_t method = 0;
    std::uint32_t crc32 = 0;
    std::uint64_t compressed_size = 0;
    std::uint64_t uncompressed_size = 0;
    std::uint64_t offset = 0;
  };
  std::string local_header(const Entry& e) const;

  File& file_;
  std::uint64_t offset_ = 0;
  std::uint16_t dos_time_ = 0;
  std::uint16_t dos_date_ = 0;
  std::vector<Entry> entries_;
};

}  // namespace ndbridge::detail
