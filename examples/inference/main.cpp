// ndbridge-inference: the input side of an image model, on a file that
// `ndbridge pack` wrote (dataset "images", (N, H, W, C) or (N, H, W) uint8,
// optional "labels" int64). Reads batches by row range, converts each from
// uint8 HWC to float32 CHW, y = (x / 255 - mean[c]) / std[c], and prints
// checksums that reference.py reproduces with numpy and h5py:
//
//   batch B rows A:Z sum=S hash=H [labels=L]
//
//   S  the float32 values of the batch's (n, C, H, W) tensor, in C order,
//      added one after the other into a double; printed "%.6f"
//   H  sum over i of bits(y[i]) * (2i + 1) mod 2^64, bits() the float32's
//      IEEE bit pattern, i its C-order index in the batch; 16 hex digits
//   L  the sum of the batch's labels, when the file has them
//
// then a "total" line with the same checksums over all batches and, on
// stderr (it differs run to run), the throughput.

#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <ndbridge/error.hpp>
#include <ndbridge/h5.hpp>

namespace {

struct Options {
  std::string file;
  std::string dataset = "images";
  std::uint64_t batch = 32;
  std::vector<float> mean, std;
};

const char usage[] =
    "usage: ndbridge-inference FILE [--dataset images] [--batch 32]\n"
    "                          [--mean M1,M2,M3 --std S1,S2,S3]\n"
    "Reads FILE (written by `ndbridge pack`) in batches, converts them to\n"
    "normalized float32 CHW tensors and prints per-batch checksums.\n";

// Parsed as Python parses them (to double, then rounded to float32) so that
// reference.py uses the very same float values.
std::vector<float> parse_floats(const std::string& text) {
  std::vector<float> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t comma = std::min(text.find(',', pos), text.size());
    const std::string item = text.substr(pos, comma - pos);
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    if (item.empty() || *end != '\0') throw ndbridge::UsageError("not a number: '" + item + "'");
    out.push_back(static_cast<float>(v));
    pos = comma + 1;
  }
  return out;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "-h" || arg == "--help") {
      std::fputs(usage, stdout);
      std::exit(0);
    } else if (arg == "--dataset" && has_value) {
      o.dataset = argv[++i];
    } else if (arg == "--batch" && has_value) {
      o.batch = std::strtoull(argv[++i], nullptr, 10);
      if (o.batch == 0) throw ndbridge::UsageError("--batch must be a positive integer");
    } else if (arg == "--mean" && has_value) {
      o.mean = parse_floats(argv[++i]);
    } else if (arg == "--std" && has_value) {
      o.std = parse_floats(argv[++i]);
    } else if (o.file.empty() && !arg.empty() && arg[0] != '-') {
      o.file = arg;
    } else {
      throw ndbridge::UsageError("unexpected argument '" + arg + "'");
    }
  }
  if (o.file.empty()) throw ndbridge::UsageError("FILE is required");
  return o;
}

// uint8 (n, H, W, C) -> float32 (n, C, H, W), y = (x / 255 - mean[c]) / std[c],
// each operation in float32 as numpy does it (no fused multiply-add can
// apply: there is no multiplication).
void to_chw(const std::uint8_t* in, std::uint64_t n, std::uint64_t h, std::uint64_t w,
            std::uint64_t c, const std::vector<float>& mean, const std::vector<float>& std,
            std::vector<float>& out) {
  out.resize(n * c * h * w);
  const std::uint64_t plane = h * w;
  for (std::uint64_t img = 0; img < n; ++img) {
    const std::uint8_t* src = in + img * plane * c;
    float* dst = out.data() + img * plane * c;
    for (std::uint64_t p = 0; p < plane; ++p)
      for (std::uint64_t ch = 0; ch < c; ++ch)
        dst[ch * plane + p] = (static_cast<float>(src[p * c + ch]) / 255.0f - mean[ch]) / std[ch];
  }
}

struct Checksum {
  double sum = 0;
  std::uint64_t hash = 0;
};

Checksum checksum(const std::vector<float>& y) {
  Checksum c;
  for (std::size_t i = 0; i < y.size(); ++i) {
    std::uint32_t bits;
    std::memcpy(&bits, &y[i], sizeof bits);
    c.sum += static_cast<double>(y[i]);
    c.hash += static_cast<std::uint64_t>(bits) * (2 * static_cast<std::uint64_t>(i) + 1);
  }
  return c;
}

int run(const Options& o) {
  using clock = std::chrono::steady_clock;
  const auto file = ndbridge::H5File::open(o.file);
  const ndbridge::H5Object info = file.info(o.dataset);
  if (info.dtype != ndbridge::DType::of<std::uint8_t>() || (info.shape.size() != 3 && info.shape.size() != 4))
    throw ndbridge::UnsupportedError("'" + o.file + "': dataset '" + o.dataset +
                                     "' is not (N, H, W[, C]) uint8 images (was it packed with --store encoded?)");
  const std::uint64_t count = info.shape[0], height = info.shape[1], width = info.shape[2];
  const std::uint64_t channels = info.shape.size() == 4 ? info.shape[3] : 1;
  const std::vector<float> mean = o.mean.empty() ? std::vector<float>(channels, 0.0f) : o.mean;
  const std::vector<float> std = o.std.empty() ? std::vector<float>(channels, 1.0f) : o.std;
  if (mean.size() != channels || std.size() != channels)
    throw ndbridge::UsageError("--mean and --std need " + std::to_string(channels) + " values, one per channel");
  const bool has_labels = file.contains("labels");

  std::printf("%s: %" PRIu64 " images of %" PRIu64 "x%" PRIu64 "x%" PRIu64 ", batch %" PRIu64 "\n",
              o.dataset.c_str(), count, height, width, channels, o.batch);
  std::vector<float> tensor;
  // One pixel buffer for every batch: read_rows_into fills it in place.
  std::vector<std::uint8_t> pixels;
  std::vector<std::int64_t> labels;
  Checksum total;
  std::int64_t label_total = 0;
  double read_seconds = 0, convert_seconds = 0;
  for (std::uint64_t start = 0, b = 0; start < count; start += o.batch, ++b) {
    const std::uint64_t stop = std::min(count, start + o.batch);
    const auto t0 = clock::now();
    pixels.resize(static_cast<std::size_t>((stop - start) * height * width * channels));
    file.read_rows_into(o.dataset, start, stop, pixels.data(), pixels.size());
    const auto t1 = clock::now();
    to_chw(pixels.data(), stop - start, height, width, channels, mean, std, tensor);
    const auto t2 = clock::now();
    read_seconds += std::chrono::duration<double>(t1 - t0).count();
    convert_seconds += std::chrono::duration<double>(t2 - t1).count();

    const Checksum c = checksum(tensor);
    total.sum += c.sum;
    total.hash += c.hash;
    std::printf("batch %" PRIu64 " rows %" PRIu64 ":%" PRIu64 " sum=%.6f hash=%016" PRIx64, b, start, stop,
                c.sum, c.hash);
    if (has_labels) {
      // A typed read: int64 in native byte order whatever the file's, or an
      // error naming the dataset's type.
      labels.resize(static_cast<std::size_t>(stop - start));
      file.read_rows_into("labels", start, stop, labels.data(), labels.size() * sizeof(std::int64_t));
      std::int64_t s = 0;
      for (const std::int64_t label : labels) s += label;
      label_total += s;
      std::printf(" labels=%" PRId64, s);
    }
    std::printf("\n");
  }
  std::printf("total images=%" PRIu64 " sum=%.6f hash=%016" PRIx64, count, total.sum, total.hash);
  if (has_labels) std::printf(" labels=%" PRId64, label_total);
  std::printf("\n");
  const double seconds = read_seconds + convert_seconds;
  const double megabytes = static_cast<double>(count * height * width * channels) / 1e6;
  std::fprintf(stderr,
               "throughput: %.1f images/s, %.1f MB/s of pixels (read %.3f s, convert %.3f s)\n",
               seconds > 0 ? static_cast<double>(count) / seconds : 0.0,
               seconds > 0 ? megabytes / seconds : 0.0, read_seconds, convert_seconds);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv));
  } catch (const ndbridge::UsageError& e) {
    std::fprintf(stderr, "%sndbridge-inference: %s\n", usage, e.what());
    return 2;
  } catch (const ndbridge::Error& e) {
    std::fprintf(stderr, "ndbridge-inference: %s\n", e.what());
    return 1;
  }
}
