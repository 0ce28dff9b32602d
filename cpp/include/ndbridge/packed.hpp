#pragma once

// The layout of a file written by `ndbridge pack` (and `ndbridge merge`):
// the names of its datasets, members and attributes, for C++ code that reads
// one. The Python package takes the same names from here
// (ndbridge.packed), so writers and readers cannot drift apart.
//
// .h5 output: the datasets below at the root, `skipped/` and `ignored/`
// groups, and the attributes as root attributes.
// .npy output: the images in OUT; OUT with the suffix kMetaSuffix holds the
// other arrays as .npz members, groups flattened with '_' (skipped_paths),
// and the attributes as one JSON member, kProvenance.
// .npz output: one archive holding the images and those members.

namespace ndbridge::packed {

/// The `format` attribute's value: the layout and its version.
inline constexpr const char* kFormat = "ndbridge-pack/1";

// Datasets (.h5) and members (.npz, .meta.npz).
/// (N, H, W, C) decoded images, or (N, ...) arrays packed from .npy files.
inline constexpr const char* kImages = "images";
/// (N,) int64 class index of each sample (packed with labels from folders).
inline constexpr const char* kLabels = "labels";
/// (K,) text: the class folder each label indexes.
inline constexpr const char* kClassNames = "class_names";
/// (N,) text: each sample's source file, relative to the source folder.
inline constexpr const char* kPaths = "paths";
/// Stored encoded: the source files' bytes back to back, (total,) uint8.
inline constexpr const char* kEncoded = "encoded";
/// Stored encoded: (N + 1,) int64, sample i is encoded[offsets[i]:offsets[i + 1]].
inline constexpr const char* kOffsets = "offsets";
/// Stored encoded: (N, 3) int64, each sample's decoded (H, W, C).
inline constexpr const char* kShapes = "shapes";
/// Files that could not be packed and why ((M,) text each).
inline constexpr const char* kSkippedPaths = "skipped/paths";
inline constexpr const char* kSkippedReasons = "skipped/reasons";
/// Files and folders under the source that were not packed, and why.
inline constexpr const char* kIgnoredPaths = "ignored/paths";
inline constexpr const char* kIgnoredReasons = "ignored/reasons";
/// .npy/.npz output: the attributes below as one JSON text member.
inline constexpr const char* kProvenance = "provenance";
/// .npy output: the suffix of the archive beside OUT ("OUT" minus ".npy").
inline constexpr const char* kMetaSuffix = ".meta.npz";

// Attributes.
inline constexpr const char* kAttrFormat = "format";
/// "decoded" or "encoded".
inline constexpr const char* kAttrStore = "store";
/// The number of samples.
inline constexpr const char* kAttrCount = "count";
/// JSON: the options the pack ran with.
inline constexpr const char* kAttrOptions = "options";
/// JSON: what was done to pixels (images turned upright, multi-frame files).
inline constexpr const char* kAttrPixels = "pixels";
/// "utf-8", or "escaped" when some source file name is not UTF-8.
inline constexpr const char* kAttrNames = "names";
inline constexpr const char* kAttrSourceRoot = "source_root";
inline constexpr const char* kAttrVersion = "ndbridge_version";
inline constexpr const char* kAttrCreated = "created";
/// Set by `ndbridge merge` and sharded packs: the number of shard files.
inline constexpr const char* kAttrShards = "shards";

}  // namespace ndbridge::packed
