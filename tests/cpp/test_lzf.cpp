// The LZF codec: round trips over many kinds of data, streams written out by
// hand from the format description, the two failure kinds, and a fuzz loop
// (meant to be run under AddressSanitizer too: every output buffer is exactly
// as large as the capacity passed, so a write past it is caught).
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <random>
#include <string_view>
#include <vector>

#include "detail/lzf.hpp"

namespace {

using ndbridge::detail::lzf_compress;
using ndbridge::detail::lzf_decompress;
using ndbridge::detail::LzfError;
using Bytes = std::vector<std::byte>;

Bytes bytes(std::initializer_list<int> values) {
  Bytes out;
  for (const int v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}

Bytes bytes(std::string_view text) {
  Bytes out(text.size());
  std::memcpy(out.data(), text.data(), text.size());
  return out;
}

Bytes random_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes out(n);
  for (auto& b : out) b = static_cast<std::byte>(rng() & 0xff);
  return out;
}

template <typename T>
Bytes as_bytes(const std::vector<T>& values) {
  Bytes out(values.size() * sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), values.data(), out.size());
  return out;
}

/// Room that always suffices: literal runs cost one byte per 32.
std::size_t ample(std::size_t n) { return n + n / 16 + 64; }

/// The compressed bytes, or nothing if they did not fit in `capacity`.
Bytes compress(const Bytes& in, std::size_t capacity) {
  Bytes out(capacity);
  out.resize(lzf_compress(in.data(), in.size(), out.data(), capacity));
  return out;
}

Bytes compress(const Bytes& in) { return compress(in, ample(in.size())); }

struct Decoded {
  std::size_t size;
  LzfError error;
  Bytes data;
};

/// Decompresses into a buffer of exactly `capacity` bytes.
Decoded decompress(const Bytes& in, std::size_t capacity) {
  Decoded d{0, LzfError::None, Bytes(capacity)};
  d.error = static_cast<LzfError>(-1);  // shows whether success sets it
  d.size = lzf_decompress(in.data(), in.size(), d.data.data(), capacity, &d.error);
  d.data.resize(d.size);
  return d;
}

/// What a valid stream is made of, read with the format description.
struct StreamStats {
  std::size_t literal_runs = 0;
  std::size_t references = 0;
  std::size_t max_length = 0;
  std::size_t max_distance = 0;
  std::size_t min_distance = SIZE_MAX;
};

StreamStats stats_of(const Bytes& stream) {
  StreamStats s;
  std::size_t i = 0;
  while (i < stream.size()) {
    const auto c = static_cast<std::size_t>(stream[i++]);
    if (c < 32) {
      ++s.literal_runs;
      i += c + 1;
      continue;
    }
    std::size_t length = c >> 5;
    if (length == 7) length += static_cast<std::size_t>(stream.at(i++));
    const std::size_t distance = ((c & 31) << 8 | static_cast<std::size_t>(stream.at(i++))) + 1;
    ++s.references;
    s.max_length = std::max(s.max_length, length + 2);
    s.max_distance = std::max(s.max_distance, distance);
    s.min_distance = std::min(s.min_distance, distance);
  }
  EXPECT_EQ(i, stream.size()) << "the last literal run is cut short";
  return s;
}

/// Compresses with ample room, checks the result decodes back exactly with a
/// buffer of the exact size and not one byte less, and returns the stream.
Bytes expect_round_trip(const Bytes& data) {
  const Bytes packed = compress(data);
  EXPECT_FALSE(packed.empty()) << "size " << data.size();
  EXPECT_LE(packed.size(), ample(data.size()));
  const Decoded d = decompress(packed, data.size());
  EXPECT_EQ(d.error, LzfError::None);
  EXPECT_EQ(d.size, data.size());
  EXPECT_TRUE(d.data == data) << "size " << data.size();
  const Decoded short_by_one = decompress(packed, data.size() - 1);
  EXPECT_EQ(short_by_one.size, 0u);
  EXPECT_EQ(short_by_one.error, LzfError::OutputTooSmall);
  return packed;
}

}  // namespace

TEST(Lzf, EmptyInput) {
  std::byte out[8];
  EXPECT_EQ(lzf_compress(nullptr, 0, out, sizeof out), 0u);
  LzfError error = LzfError::Corrupt;
  EXPECT_EQ(lzf_decompress(nullptr, 0, out, sizeof out, &error), 0u);
  EXPECT_EQ(error, LzfError::None);
}

TEST(Lzf, SingleByte) {
  const Bytes packed = expect_round_trip(bytes({0x5a}));
  EXPECT_EQ(packed, bytes({0x00, 0x5a}));
}

TEST(Lzf, ShortInputsOfEveryLength) {
  for (std::size_t n = 1; n <= 300; ++n) {
    expect_round_trip(random_bytes(n, static_cast<std::uint32_t>(n)));
    expect_round_trip(Bytes(n, std::byte{0x11}));
    Bytes text;
    for (std::size_t i = 0; i < n; ++i) text.push_back(static_cast<std::byte>("hello, world "[i % 13]));
    expect_round_trip(text);
  }
}

TEST(Lzf, InputsAroundHashTableSizes) {
  // The compressor's table grows with the input from 2^12 to 2^16 slots.
  for (const std::size_t n : {4095u, 4096u, 4097u, 8192u, 8193u, 65535u, 65536u, 65537u, 300000u}) {
    Bytes data = random_bytes(n, static_cast<std::uint32_t>(n));
    for (std::size_t i = 0; i < n; i += 100) data[i / 2] = data[i];  // some matches
    expect_round_trip(data);
    EXPECT_TRUE(compress(random_bytes(n, 1), n - 1).empty());
  }
}

TEST(Lzf, NullOutputIsFineWhenCapacityIsZero) {
  EXPECT_EQ(lzf_compress(bytes("abc").data(), 3, nullptr, 0), 0u);
  LzfError error = LzfError::None;
  EXPECT_EQ(lzf_decompress(bytes({0x00, 0x61}).data(), 2, nullptr, 0, &error), 0u);
  EXPECT_EQ(error, LzfError::OutputTooSmall);
}

TEST(Lzf, LargeMixedInput) {
  // 8 MiB of 64 KiB blocks of different kinds, so that matches, literal runs
  // and the switches between them all occur far from the start.
  std::mt19937 rng(7);
  Bytes data;
  for (int block = 0; block < 128; ++block) {
    const std::size_t start = data.size();
    data.resize(start + 65536);
    std::byte* p = data.data() + start;
    switch (rng() % 4) {
      case 0:
        break;  // zeros
      case 1:
        for (std::size_t i = 0; i < 65536; ++i) p[i] = static_cast<std::byte>(rng() & 0xff);
        break;
      case 2:
        for (std::size_t i = 0; i < 65536; ++i) p[i] = static_cast<std::byte>("the quick brown fox "[(i * 7 + rng() % 2) % 20]);
        break;
      default:
        for (std::size_t i = 0; i < 65536 / 4; ++i) {
          const float f = static_cast<float>(block) + static_cast<float>(i) / 4096.0f;
          std::memcpy(p + 4 * i, &f, 4);
        }
    }
  }
  const Bytes packed = expect_round_trip(data);
  EXPECT_LT(packed.size(), data.size() * 3 / 4);
  const StreamStats s = stats_of(packed);
  EXPECT_LE(s.max_distance, 8192u);
  EXPECT_LE(s.max_length, 264u);
}

TEST(Lzf, RandomDataIsRefusedWithoutAGainAndFitsWithAmpleRoom) {
  for (const std::size_t n : {100u, 4096u, 1u << 20}) {
    const Bytes data = random_bytes(n, 42);
    // What h5py asks for: compression that gains at least one byte.
    EXPECT_TRUE(compress(data, n - 1).empty()) << n;
    expect_round_trip(data);
  }
}

TEST(Lzf, CompressibleData) {
  const std::size_t n = 1 << 20;
  const Bytes zeros(n);
  EXPECT_LT(expect_round_trip(zeros).size(), n / 50);

  Bytes pattern(n);
  for (std::size_t i = 0; i < n; ++i) pattern[i] = static_cast<std::byte>("0123456789abcdefghijk"[i % 21]);
  EXPECT_LT(expect_round_trip(pattern).size(), n / 50);

  Bytes ramp(n);
  for (std::size_t i = 0; i < n; ++i) ramp[i] = static_cast<std::byte>(i & 0xff);
  EXPECT_LT(expect_round_trip(ramp).size(), n / 50);

  std::vector<std::uint32_t> counter(n / 4);
  for (std::size_t i = 0; i < counter.size(); ++i) counter[i] = static_cast<std::uint32_t>(i);
  // Only the repeated high bytes match, 3 at a time: liblzf gains 0.1% here.
  EXPECT_LT(expect_round_trip(as_bytes(counter)).size(), n);

  // Smooth float32 values: the high bytes of neighbours repeat.
  std::vector<float> smooth(n / 4);
  for (std::size_t i = 0; i < smooth.size(); ++i) {
    smooth[i] = static_cast<float>(std::round(1000.0 * std::sin(static_cast<double>(i) / 5000.0)) / 8.0);
  }
  EXPECT_LT(expect_round_trip(as_bytes(smooth)).size(), n / 2);
}

TEST(Lzf, RunsUseOverlappingReferences) {
  const Bytes packed = expect_round_trip(Bytes(1000, std::byte{'a'}));
  const StreamStats s = stats_of(packed);
  EXPECT_EQ(s.min_distance, 1u);
  EXPECT_LT(packed.size(), 20u);
  // A two-byte period gives references shorter than their length, too.
  Bytes pairs;
  for (int i = 0; i < 500; ++i) pairs.push_back(std::byte{static_cast<unsigned char>(i % 2 ? 'x' : 'y')});
  EXPECT_EQ(stats_of(expect_round_trip(pairs)).min_distance, 2u);
}

TEST(Lzf, LongestMatches) {
  const Bytes packed = expect_round_trip(Bytes(10000, std::byte{0}));
  EXPECT_EQ(stats_of(packed).max_length, 264u);
  // 7 + 255 in the length field, from the stream directly: "z" then 264 more.
  const Decoded d = decompress(bytes({0x00, 'z', 0xe0, 0xff, 0x00}), 265);
  EXPECT_EQ(d.error, LzfError::None);
  EXPECT_EQ(d.data, Bytes(265, std::byte{'z'}));
}

TEST(Lzf, FarthestMatches) {
  // Two copies of a random 8 KiB block: the second refers to the first from
  // exactly 8192 bytes back, the farthest the format reaches.
  Bytes data = random_bytes(8192, 3);
  data.insert(data.end(), data.begin(), data.end());
  const StreamStats s = stats_of(expect_round_trip(data));
  EXPECT_EQ(s.max_distance, 8192u);
  EXPECT_LT(compress(data).size(), 8192u + 8192u / 2);
  // One byte farther is out of reach: the copy goes in as literals (but for
  // the odd chance 3-byte match), so nothing is gained.
  Bytes beyond = random_bytes(8193, 4);
  beyond.insert(beyond.end(), beyond.begin(), beyond.begin() + 8193);
  EXPECT_GT(expect_round_trip(beyond).size(), beyond.size());

  // The stream side: 8192 literal bytes, then 4 bytes from 8192 back.
  Bytes stream;
  Bytes expected;
  for (int run = 0; run < 256; ++run) {
    stream.push_back(std::byte{31});
    for (int i = 0; i < 32; ++i) {
      const auto b = static_cast<std::byte>((run * 32 + i) * 37 & 0xff);
      stream.push_back(b);
      expected.push_back(b);
    }
  }
  stream.insert(stream.end(), {std::byte{(2 << 5) | 0x1f}, std::byte{0xff}});
  expected.insert(expected.end(), expected.begin(), expected.begin() + 4);
  const Decoded d = decompress(stream, expected.size());
  EXPECT_EQ(d.error, LzfError::None);
  EXPECT_EQ(d.data, expected);
}

TEST(Lzf, HandBuiltStreams) {
  // Literal "abc", then 6 bytes from 3 back (length field 4, distance field 2).
  const Bytes abc = bytes({0x02, 'a', 'b', 'c', 0x80, 0x02});
  Decoded d = decompress(abc, 100);
  EXPECT_EQ(d.error, LzfError::None);
  EXPECT_EQ(d.data, bytes("abcabcabc"));
  // The exact size is enough, one byte less is not.
  EXPECT_EQ(decompress(abc, 9).data, bytes("abcabcabc"));
  d = decompress(abc, 8);
  EXPECT_EQ(d.size, 0u);
  EXPECT_EQ(d.error, LzfError::OutputTooSmall);
  d = decompress(abc, 3);
  EXPECT_EQ(d.error, LzfError::OutputTooSmall);
  d = decompress(abc, 2);
  EXPECT_EQ(d.error, LzfError::OutputTooSmall);

  // A 32-byte literal run (the longest), then a reference into its middle.
  Bytes stream{std::byte{31}};
  const Bytes letters = bytes("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345");
  stream.insert(stream.end(), letters.begin(), letters.end());
  stream.insert(stream.end(), {std::byte{0x20}, std::byte{9}});  // 3 bytes from 10 back
  d = decompress(stream, 35);
  EXPECT_EQ(d.data, bytes("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345WXY"));
}

TEST(Lzf, CorruptStreams) {
  const Bytes corrupt[] = {
      bytes({0x02, 'a', 'b'}),              // literal run cut short
      bytes({0x1f}),                        // literal control byte alone
      bytes({0x00, 'a', 0x20}),             // reference without its distance byte
      bytes({0x00, 'a', 0xe0}),             // long reference without its length byte
      bytes({0x00, 'a', 0xe0, 0x05}),       // ... and without its distance byte
      bytes({0x20, 0x00}),                  // reference with nothing before it
      bytes({0x00, 'a', 0x20, 0x01}),       // reference 2 back after 1 byte
      bytes({0x00, 'a', 0x3f, 0xff}),       // reference 8192 back after 1 byte
      bytes({0x02, 'a', 'b', 'c', 0x80, 0x02, 0x40, 0x09}),  // 10 back after 9
  };
  for (const Bytes& stream : corrupt) {
    // Corrupt whatever the room, so that growing the buffer never helps.
    for (const std::size_t capacity : {0u, 1u, 2u, 1000u}) {
      const Decoded d = decompress(stream, capacity);
      EXPECT_EQ(d.size, 0u);
      EXPECT_EQ(d.error, LzfError::Corrupt) << "stream of " << stream.size() << " bytes, capacity " << capacity;
    }
  }
  // A null error pointer is allowed.
  const Bytes stream = bytes({0x20, 0x00});
  std::byte out[4];
  EXPECT_EQ(lzf_decompress(stream.data(), stream.size(), out, sizeof out, nullptr), 0u);
}

TEST(Lzf, CompressNeverWritesPastCapacity) {
  const Bytes inputs[] = {bytes("abcabcabcabcabcabcabcabcabc"), Bytes(5000, std::byte{1}),
                          random_bytes(300, 9), bytes("x")};
  for (const Bytes& data : inputs) {
    const std::size_t full = compress(data).size();
    ASSERT_GT(full, 0u);
    for (std::size_t capacity = 0; capacity <= full; ++capacity) {
      Bytes out(capacity);
      const std::size_t n = lzf_compress(data.data(), data.size(), out.data(), capacity);
      EXPECT_EQ(n, capacity == full ? full : 0u) << "capacity " << capacity;
    }
  }
}

TEST(Lzf, FuzzedStreamsNeverOverrun) {
  // Random streams and mutated valid ones, each decoded into a buffer exactly
  // the size of the capacity given. Whatever decodes must decode the same
  // with exactly its own size as capacity.
  std::mt19937 rng(20240601);
  std::vector<Bytes> seeds;
  for (const std::size_t n : {16u, 200u, 1000u}) {
    Bytes text;
    for (std::size_t i = 0; i < n; ++i) text.push_back(static_cast<std::byte>("abcab cabbage "[(i * i) % 14]));
    seeds.push_back(compress(text));
    seeds.push_back(compress(Bytes(n, std::byte{0})));
    seeds.push_back(compress(random_bytes(n, static_cast<std::uint32_t>(n))));
  }
  std::size_t decoded = 0;
  for (int iteration = 0; iteration < 300000; ++iteration) {
    Bytes stream;
    if (iteration % 3 == 0) {
      stream = random_bytes(rng() % 48, static_cast<std::uint32_t>(rng()));
    } else {
      stream = seeds[rng() % seeds.size()];
      for (unsigned edits = 1 + rng() % 4; edits > 0 && !stream.empty(); --edits) {
        const std::size_t at = rng() % stream.size();
        switch (rng() % 4) {
          case 0: stream[at] = static_cast<std::byte>(rng() & 0xff); break;
          case 1: stream[at] ^= static_cast<std::byte>(1u << (rng() % 8)); break;
          case 2: stream.resize(at); break;
          default: stream.insert(stream.begin() + static_cast<std::ptrdiff_t>(at), static_cast<std::byte>(rng() & 0xff));
        }
      }
    }
    const std::size_t capacity = rng() % 1200;
    const Decoded d = decompress(stream, capacity);
    ASSERT_LE(d.size, capacity);
    if (d.size == 0) {
      ASSERT_TRUE(stream.empty() ? d.error == LzfError::None : d.error != LzfError::None);
      continue;
    }
    ASSERT_EQ(d.error, LzfError::None);
    ++decoded;
    const Decoded again = decompress(stream, d.size);
    ASSERT_EQ(again.data, d.data);
    if (d.size > 1) {
      ASSERT_EQ(decompress(stream, d.size - 1).error, LzfError::OutputTooSmall);
    }
  }
  EXPECT_GT(decoded, 1000u);  // the loop reached past the first few bytes
}

TEST(Lzf, FuzzedInputsRoundTrip) {
  // Inputs from a small alphabet have many short, close matches; a random
  // capacity exercises every place the compressor can run out of room.
  std::mt19937 rng(99);
  for (int iteration = 0; iteration < 20000; ++iteration) {
    const unsigned alphabet = 1 + rng() % 8;
    Bytes data(1 + rng() % 600);
    for (auto& b : data) b = static_cast<std::byte>(rng() % alphabet);
    const std::size_t capacity = rng() % (data.size() + 40);
    const Bytes packed = compress(data, capacity);
    if (packed.empty()) {
      ASSERT_LT(capacity, compress(data).size());
      continue;
    }
    const Decoded d = decompress(packed, data.size());
    ASSERT_EQ(d.error, LzfError::None);
    ASSERT_EQ(d.data, data);
  }
}

// The HDF5 filter refuses a chunk that declares more than 88 times its
// compressed size before allocating anything: no LZF stream inflates further
// (a 3-byte back reference yields at most 264 bytes). The densest input
// there is, one repeated byte, must stay within that bound.
TEST(Lzf, NothingInflatesMoreThan88Times) {
  for (const std::size_t n : {std::size_t{1000}, std::size_t{1} << 16, std::size_t{3} << 20}) {
    const Bytes zeros(n, std::byte{0});
    const Bytes packed = compress(zeros);
    ASSERT_FALSE(packed.empty());
    EXPECT_LE(n, packed.size() * 88) << n << " bytes packed into " << packed.size();
    if (n >= std::size_t{1} << 16) EXPECT_GT(n, packed.size() * 80) << "the bound is near what LZF reaches";
    const Decoded back = decompress(packed, n);
    EXPECT_EQ(back.size, n);
  }
}
