#include "packed.hpp"

#include <utility>

#include "ndbridge/packed.hpp"

namespace py = pybind11;

namespace ndbridge::python {

void register_packed(py::module_& m) {
  py::module_ packed = m.def_submodule("packed", "the names of ndbridge/packed.hpp");
  const std::pair<const char*, const char*> names[] = {
      {"FORMAT", packed::kFormat},
      {"IMAGES", packed::kImages},
      {"LABELS", packed::kLabels},
      {"CLASS_NAMES", packed::kClassNames},
      {"PATHS", packed::kPaths},
      {"ENCODED", packed::kEncoded},
      {"OFFSETS", packed::kOffsets},
      {"SHAPES", packed::kShapes},
      {"SKIPPED_PATHS", packed::kSkippedPaths},
      {"SKIPPED_REASONS", packed::kSkippedReasons},
      {"IGNORED_PATHS", packed::kIgnoredPaths},
      {"IGNORED_REASONS", packed::kIgnoredReasons},
      {"PROVENANCE", packed::kProvenance},
      {"META_SUFFIX", packed::kMetaSuffix},
      {"ATTR_FORMAT", packed::kAttrFormat},
      {"ATTR_STORE", packed::kAttrStore},
      {"ATTR_COUNT", packed::kAttrCount},
      {"ATTR_OPTIONS", packed::kAttrOptions},
      {"ATTR_PIXELS", packed::kAttrPixels},
      {"ATTR_NAMES", packed::kAttrNames},
      {"ATTR_SOURCE_ROOT", packed::kAttrSourceRoot},
      {"ATTR_VERSION", packed::kAttrVersion},
      {"ATTR_CREATED", packed::kAttrCreated},
      {"ATTR_SHARDS", packed::kAttrShards},
  };
  for (const auto& [name, value] : names) packed.attr(name) = value;
}

}  // namespace ndbridge::python
