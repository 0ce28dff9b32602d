#pragma once

// What ndbridge-ls and ndbridge-cat share as command-line programs: --help
// and --version, exit codes (0 done, 1 the file could not be read or the
// output written, 2 bad usage) and messages prefixed with the tool's name.

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace ndbridge::tools {

/// The path as ndbridge messages quote it: 'dir/file.npy'.
std::string quote_path(const std::filesystem::path& path);

/// The tool's name and its usage text.
struct Cli {
  const char* name;
  const char* usage;

  /// For --help and --version: prints what they ask for and returns the exit
  /// code (0); nothing for any other argument.
  std::optional<int> standard_option(const std::string& arg) const;
  /// Prints the usage and `message` to stderr; returns 2.
  int usage_error(const std::string& message) const;
  /// Runs `body`, turning ndbridge errors into a message and exit code 1.
  int run(const std::function<int()>& body) const;
};

}  // namespace ndbridge::tools
