// ndbridge-ls FILE [--json]: what is inside an .npy, .npz or HDF5 file, as
// the C++ reader sees it (ndbridge::describe()).

#include <cstdio>
#include <string>

#include "cli.hpp"
#include "listing.hpp"
#include "ndbridge/describe.hpp"

namespace {

const char usage[] =
    "usage: ndbridge-ls FILE [--json]\n"
    "\n"
    "List the arrays, groups and attributes of an .npy, .npz or HDF5 file as the\n"
    "ndbridge C++ reader sees them: tree, dtypes, shapes, chunks, filters and\n"
    "attributes. With --json, print one JSON document (the keys and facts of\n"
    "`ndbridge ls --json`). Exits 1 when a virtual dataset's source file (a\n"
    "shard of a sharded pack) is missing.\n";

}  // namespace

int main(int argc, char** argv) {
  const ndbridge::tools::Cli cli{"ndbridge-ls", usage};
  std::string file;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (auto code = cli.standard_option(arg)) return *code;
    if (arg == "--json") {
      json = true;
    } else if (file.empty() && !arg.empty() && arg[0] != '-') {
      file = arg;
    } else {
      return cli.usage_error("unexpected argument '" + arg + "'");
    }
  }
  if (file.empty()) return cli.usage_error("FILE is required");
  return cli.run([&] {
    const ndbridge::FileDescription description = ndbridge::describe(file);
    const std::string text =
        json ? ndbridge::tools::to_json(description).dump() : ndbridge::tools::format_listing(description);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
    if (std::fflush(stdout) != 0) return 1;
    const auto missing = description.missing_sources();
    for (const auto& [dataset, source] : missing) {
      std::fprintf(stderr,
                   "ndbridge-ls: error: '%s': dataset '%s' is virtual and its source file '%s' is "
                   "missing; reads would fail\n",
                   file.c_str(), dataset.c_str(), source.c_str());
    }
    return missing.empty() ? 0 : 1;
  });
}
