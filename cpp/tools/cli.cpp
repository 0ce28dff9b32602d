#include "cli.hpp"

#include <cstdio>
#include <exception>

#include "ndbridge/config.hpp"
#include "ndbridge/error.hpp"

namespace ndbridge::tools {

std::string quote_path(const std::filesystem::path& path) { return "'" + path.string() + "'"; }

std::optional<int> Cli::standard_option(const std::string& arg) const {
  if (arg == "-h" || arg == "--help") {
    std::fputs(usage, stdout);
    return 0;
  }
  if (arg == "--version") {
    std::printf("%s %s\n", name, NDBRIDGE_VERSION_STRING);
    return 0;
  }
  return std::nullopt;
}

int Cli::usage_error(const std::string& message) const {
  std::fprintf(stderr, "%s%s: %s\n", usage, name, message.c_str());
  return 2;
}

int Cli::run(const std::function<int()>& body) const {
  try {
    return body();
  } catch (const Error& e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: internal error: %s\n", name, e.what());
  }
  return 1;
}

}  // namespace ndbridge::tools
