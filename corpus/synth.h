// `mmdata synth`: the synthetic tri-modal corpus. Each material gets a structure (crystal
// prototype, amorphous box or nanoparticle), a synthesis recipe whose route and precursors
// follow its class and composition (statistics from real recipes), properties computed from
// structure and recipe, a simulated XRD pattern image and a synthetic SEM micrograph whose
// grain size follows the recipe's thermal history. See docs/data-format.md.
#ifndef MATALIGN_CORPUS_SYNTH_H_
#define MATALIGN_CORPUS_SYNTH_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "corpus/record.h"
#include "xrd/pattern.h"

namespace matalign::corpus {

struct SynthOptions {
  // Number of materials. Default: 1000.
  int64_t n = 1000;
  // Corpus seed: the same seed and n give byte-identical output. Default: 1.
  uint64_t seed = 1;
  // Output directory: manifest.jsonl, structures/, images/. Required.
  std::string out_dir;
  // Which images to render. Default: both.
  bool sem_images = true;
  bool xrd_images = true;
  // Material classes to generate, drawn with weights 0.7 / 0.15 / 0.15 renormalized over
  // those listed. Default: all three.
  std::vector<MaterialClass> classes = {MaterialClass::kCrystalline, MaterialClass::kAmorphous,
                                        MaterialClass::kNano};
  // If set, every material of this class goes to the test split (generalization runs).
  std::optional<MaterialClass> holdout_class;
  // Recipe statistics (data/recipe_stats.json). Default: "" = the copy in the source tree.
  std::string recipe_stats_path;
  // Fraction of crystalline materials taken from the real perov5 set (with their DFT labels
  // band_gap_ev = dir_gap and heat_all), when the real data is present. Default: 0.
  double perov5_fraction = 0;
  // Side of the SEM micrograph in pixels (the data bar included). Default: 256.
  int sem_size = 256;
  // XRD image: the pattern resampled on 5-90 deg and rendered at this size. Default: 256 x 128.
  int xrd_width = 256;
  int xrd_height = 128;
  // Worker threads. Default: 0 = all cores.
  int threads = 0;
  // Called from the writing thread after every record (done, total); may print progress.
  std::function<void(int64_t, int64_t)> progress;

  absl::Status Validate() const;
};

struct SynthSummary {
  int64_t records = 0;
  int64_t train = 0, val = 0, test = 0;
  int64_t bytes = 0;  // total size of everything written
  double seconds = 0;
  std::string manifest;
};

// Generates the corpus into options.out_dir (created; an existing manifest.jsonl there is
// replaced atomically). Deterministic: records are generated from per-record random streams
// and written in id order, whatever the thread count.
absl::StatusOr<SynthSummary> GenerateCorpus(const SynthOptions& options);

// The split of material `index` under `seed` when no holdout applies: 80/10/10 by a hash of
// (seed, index), so a material is in exactly one split.
Split SplitFor(uint64_t seed, int64_t index);

// Renders `pattern` the way the corpus renders its XRD images: resampled onto the default
// xrd::GridOptions grid, drawn as a width x height area plot (xrd::RenderPatternImage) and
// encoded as PNG. The server renders numeric patterns with it so that they look like the
// training data. InvalidArgument for an invalid pattern or size.
absl::StatusOr<std::string> RenderXrdPng(const xrd::XrdPattern& pattern, int width, int height);

}  // namespace matalign::corpus

#endif  // MATALIGN_CORPUS_SYNTH_H_
