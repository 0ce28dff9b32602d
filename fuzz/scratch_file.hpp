#pragma once

// Readers that take a path get the fuzzer's bytes through a file in memory
// (/dev/shm where it exists), one per process, rewritten for every input.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace ndbridge::fuzz {

inline std::filesystem::path scratch_path(const char* suffix) {
  const std::filesystem::path shm = "/dev/shm";
  const std::filesystem::path folder =
      std::filesystem::is_directory(shm) ? shm : std::filesystem::temp_directory_path();
  return folder / ("ndbridge-fuzz-" + std::to_string(::getpid()) + suffix);
}

inline void write_file(const std::filesystem::path& path, const std::uint8_t* data,
                       std::size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
}

}  // namespace ndbridge::fuzz
