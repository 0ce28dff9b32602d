// A consumer of the installed (or add_subdirectory'd) ndbridge: writes and
// reads back an .npy file and, when the library has HDF5, an HDF5 file.
// Usage: consumer WORK_DIR. Prints one line and exits 0 when all is well.

#include <cstdio>
#include <filesystem>
#include <numeric>
#include <vector>

#include <ndbridge/config.hpp>
#include <ndbridge/error.hpp>
#include <ndbridge/npy.hpp>
#if NDBRIDGE_WITH_HDF5
#include <ndbridge/h5.hpp>
#endif

namespace {

int failures = 0;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "consumer: FAILED: %s\n", what);
    ++failures;
  }
}

bool rows_1_to_3(const ndbridge::Array& a) {
  if (a.shape() != ndbridge::Shape{2, 4}) return false;
  const float* p = a.data<float>();
  for (int i = 0; i < 8; ++i)
    if (p[i] != static_cast<float>(4 + i)) return false;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: consumer WORK_DIR\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);

  std::vector<float> values(12);
  std::iota(values.begin(), values.end(), 0.0f);
  const auto view = ndbridge::ArrayView::contiguous(values.data(), ndbridge::DType::of<float>(), {3, 4});

  ndbridge::write_npy(dir / "x.npy", view);
  check(rows_1_to_3(ndbridge::read_npy_rows(dir / "x.npy", 1, 3)), ".npy rows 1:3");
  try {
    ndbridge::read_npy(dir / "missing.npy");
    check(false, "reading a missing file throws");
  } catch (const ndbridge::IOError&) {
  }

#if NDBRIDGE_WITH_HDF5
  {
    ndbridge::H5Writer writer(dir / "x.h5");
    ndbridge::H5DatasetOptions options;
    options.compression = "gzip";
    options.chunks = ndbridge::Shape{1, 4};
    writer.write("images", view, options);
    writer.commit();
  }
  const auto file = ndbridge::H5File::open(dir / "x.h5");
  check(rows_1_to_3(file.read_rows("images", 1, 3)), "HDF5 rows 1:3");
#endif

  std::printf("consumer: ndbridge %s (HDF5 %s): %s\n", NDBRIDGE_VERSION_STRING,
              NDBRIDGE_WITH_HDF5 ? "on" : "off", failures ? "FAILED" : "ok");
  return failures ? 1 : 0;
}
