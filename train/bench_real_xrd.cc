// `mmtrain bench-real xrd`: measured powder scans against candidate structures through
// simulated patterns (xrd/simulate.h, xrd/match.h). No model is trained: the benchmark
// measures how well the simulation explains real scans and how well pattern similarity
// retrieves a scan's phase among the candidates.
//
// Layout. --train (and --test) is a folder of scans (every file xrd::IsPatternFileName
// accepts: .xy .dat .txt .csv .asc .xrdml) or a single scan file. The candidate structures
// (.cif, .vasp, .poscar, POSCAR*, CONTCAR*) are found, for the train and the test location
// alike, in the scan folder itself, its structures/ and structures/cif/ subfolders, and, when
// those hold none, in ../structures/cif beside the scan folder (the layout of
// ../shared/data/real: xrd/ next to structures/cif/). The union over train and test is the
// candidate set of both. The config's `structures` list replaces this search. A built-in LaB6
// (NIST SRM 660c line-position standard) is a candidate too unless `builtin_lab6: false`.
//
// Ground truth. A scan's expected phases come from its file name: an A-Lab style name
// "<precursors>_<T>C_<t>min" gives its precursors (unreacted precursors; the reaction
// products are not in the name), any other stem that reads as a chemical formula (or whose
// part before the first '_' does: "BiFeO3.xy", "LaB6.dat") gives that formula. Candidates
// with the same composition (amounts normalized to fractions) are the expected ones; a scan
// without any is reported as having no ground truth and is not counted in top-k figures.
//
// Config (optional YAML, --config; keys at the top level, all optional):
//   structures: [DIR|FILE, ...]  candidate structures; relative paths are relative to the
//                                config file's folder. Default: the search above.
//   builtin_lab6: true           add the built-in LaB6 candidate
//   strongest: 10                strongest simulated peaks scored by the peak match
//   strongest_measured: 10       strongest measured peaks for measured_explained_fraction
//   tolerance: 0.1               peak match tolerance, degrees 2-theta
//   max_zero_shift: 1.0          zero shift search range +-, degrees
//   fwhm: 0.1                    simulated peak FWHM, degrees
//   kalpha2_ratio: 0.5           K-alpha2 companions in the profiles compared with Cu and Mo
//                                scans (0 = none; else K-alpha2 peaks count as explained)
//   step: 0.02, background_window: 1.5, broadening_sigma: 0.1, max_shift: 0.5,
//   sqrt_intensity: false        xrd::SimilarityOptions of the retrieval
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/file.h"
#include "common/json_reader.h"
#include "common/status_macros.h"
#include "common/yaml_json.h"
#include "corpus/importers.h"
#include "materials/formula.h"
#include "materials/structure_io.h"
#include "train/bench_real.h"
#include "train/report.h"
#include "xrd/match.h"
#include "xrd/pattern.h"
#include "xrd/peaks.h"
#include "xrd/simulate.h"

namespace matalign::train {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

// LaB6, Pm-3m, a = 4.156826 A (NIST SRM 660c certificate, 22.5 C); B on 6f (x, 1/2, 1/2).
constexpr char kLaB6Cif[] = R"(data_LaB6_SRM660c
_symmetry_space_group_name_H-M 'P m -3 m'
_symmetry_Int_Tables_number 221
_cell_length_a 4.156826
_cell_length_b 4.156826
_cell_length_c 4.156826
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
La1 La 0 0 0
B1 B 0.1996 0.5 0.5
)";
constexpr char kLaB6Id[] = "builtin_LaB6";

// Tube lines: a scan whose wavelength lies within kLineTolerance of a K-alpha1 wavelength
// is taken to come from that tube without monochromator, i.e. to show K-alpha2 too.
struct TubeLines {
  double kalpha1;
  double kalpha2;
};
constexpr TubeLines kTubes[] = {{xrd::kCuKAlpha1, xrd::kCuKAlpha2},
                                {xrd::kMoKAlpha1, xrd::kMoKAlpha2}};
constexpr double kLineTolerance = 5e-4;
// Candidate rankings list at most this many entries per scan in report.md.
constexpr int kMarkdownTop = 3;

// The benchmark's settings (see the file comment for the YAML keys).
struct XrdBenchConfig {
  std::vector<std::string> structures;  // "" entries not allowed; empty = folder search
  bool builtin_lab6 = true;
  xrd::PeakMatchOptions match;
  double fwhm = 0.1;
  double kalpha2_ratio = 0.5;
  xrd::SimilarityOptions similarity;

  absl::Status Validate() const {
    MATALIGN_RETURN_IF_ERROR(match.Validate());
    MATALIGN_RETURN_IF_ERROR(similarity.Validate());
    if (!(fwhm > 0) || fwhm > 5) {
      return absl::InvalidArgumentError(absl::StrCat("fwhm must be in (0, 5], got ", fwhm));
    }
    if (!(kalpha2_ratio >= 0 && kalpha2_ratio <= 1)) {
      return absl::InvalidArgumentError(
          absl::StrCat("kalpha2_ratio must be in [0, 1], got ", kalpha2_ratio));
    }
    for (const std::string& s : structures) {
      if (s.empty()) return absl::InvalidArgumentError("structures: empty path");
    }
    return absl::OkStatus();
  }
};

absl::StatusOr<XrdBenchConfig> LoadXrdConfig(const std::string& path) {
  XrdBenchConfig config;
  if (path.empty()) return config;
  MATALIGN_ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  MATALIGN_ASSIGN_OR_RETURN(const Json json, ParseYamlAsJson(text, path));
  JsonObjectReader r(json, "");
  r.Read("structures", &config.structures);
  r.Read("builtin_lab6", &config.builtin_lab6);
  r.Read("strongest", &config.match.strongest);
  r.Read("strongest_measured", &config.match.strongest_measured);
  r.Read("tolerance", &config.match.tolerance);
  double max_zero_shift = config.match.max_shift;
  r.Read("max_zero_shift", &max_zero_shift);
  config.match.min_shift = -max_zero_shift;
  config.match.max_shift = max_zero_shift;
  r.Read("fwhm", &config.fwhm);
  r.Read("kalpha2_ratio", &config.kalpha2_ratio);
  r.Read("step", &config.similarity.step);
  r.Read("background_window", &config.similarity.background_window);
  r.Read("broadening_sigma", &config.similarity.broadening_sigma);
  r.Read("max_shift", &config.similarity.max_shift);
  r.Read("sqrt_intensity", &config.similarity.sqrt_intensity);
  absl::Status status = r.Finish();
  if (status.ok()) status = config.Validate();
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", status.message()));
  }
  const fs::path base = fs::path(path).parent_path();
  for (std::string& s : config.structures) {
    if (fs::path(s).is_relative()) s = (base / s).lexically_normal().string();
  }
  return config;
}

Json ConfigJson(const XrdBenchConfig& c) {
  return Json{{"structures", c.structures},
              {"builtin_lab6", c.builtin_lab6},
              {"strongest", c.match.strongest},
              {"strongest_measured", c.match.strongest_measured},
              {"tolerance_deg", c.match.tolerance},
              {"max_zero_shift_deg", c.match.max_shift},
              {"simulated_fwhm_deg", c.fwhm},
              {"kalpha2_ratio", c.kalpha2_ratio},
              {"similarity",
               {{"step_deg", c.similarity.step},
                {"background_window_deg", c.similarity.background_window},
                {"broadening_sigma_deg", c.similarity.broadening_sigma},
                {"max_shift_deg", c.similarity.max_shift},
                {"sqrt_intensity", c.similarity.sqrt_intensity}}}};
}

// A figure for report.json: NaN / infinities become null.
Json Figure(double v) { return std::isfinite(v) ? Json(v) : Json(); }

// Amounts scaled to fractions of the total, so that "Fe2O3" equals "Fe4O6".
materials::Composition Normalized(const materials::Composition& c) {
  double total = 0;
  for (const auto& [element, amount] : c) total += amount;
  materials::Composition out;
  if (!(total > 0)) return out;
  for (const auto& [element, amount] : c) out[element] = amount / total;
  return out;
}

bool SameComposition(const materials::Composition& a, const materials::Composition& b) {
  if (a.empty() || a.size() != b.size()) return false;
  for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib) {
    if (ia->first != ib->first || std::fabs(ia->second - ib->second) > 1e-3) return false;
  }
  return true;
}

struct Candidate {
  std::string id;    // unique: the file stem (plus its folder when stems clash), or kLaB6Id
  std::string file;  // path, or "builtin"
  std::string formula;
  materials::Composition composition;  // normalized
  materials::Structure structure;
};

bool IsStructureFileName(const fs::path& p) {
  const std::string ext = LowercaseExtension(p.string());
  const std::string name = p.filename().string();
  return ext == "cif" || ext == "vasp" || ext == "poscar" || absl::StartsWith(name, "POSCAR") ||
         absl::StartsWith(name, "CONTCAR");
}

// Regular files directly in `dir` accepted by `keep`, sorted by name; none if `dir` is not a
// directory.
template <typename Keep>
std::vector<fs::path> FilesIn(const fs::path& dir, Keep keep) {
  std::vector<fs::path> files;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec) && keep(it->path())) files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// The structure files for a scan location (see the file comment).
std::vector<fs::path> StructureFilesFor(const std::string& location) {
  std::error_code ec;
  const fs::path dir =
      fs::is_directory(location, ec) ? fs::path(location) : fs::path(location).parent_path();
  std::vector<fs::path> files;
  for (const fs::path& d : {dir, dir / "structures", dir / "structures" / "cif"}) {
    for (fs::path& f : FilesIn(d, IsStructureFileName)) files.push_back(std::move(f));
  }
  if (files.empty()) {
    fs::path normal = fs::absolute(dir, ec).lexically_normal();
    if (normal.filename().empty()) normal = normal.parent_path();  // "xrd/" -> "xrd"
    files = FilesIn(normal.parent_path() / "structures" / "cif", IsStructureFileName);
  }
  return files;
}

std::vector<fs::path> ExpandStructurePaths(const std::vector<std::string>& paths) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const std::string& p : paths) {
    if (fs::is_directory(p, ec)) {
      for (fs::path& f : FilesIn(p, IsStructureFileName)) files.push_back(std::move(f));
    } else {
      files.emplace_back(p);  // a missing file is reported by the reader
    }
  }
  return files;
}

Candidate MakeCandidate(materials::Structure structure, std::string id, std::string file) {
  Candidate c;
  c.id = std::move(id);
  c.file = std::move(file);
  const materials::Composition composition = materials::CompositionOf(structure);
  c.formula = materials::FormatComposition(composition);
  c.composition = Normalized(composition);
  c.structure = std::move(structure);
  return c;
}

// Reads the candidates; unreadable files go to `skipped` with the reader's message.
std::vector<Candidate> LoadCandidates(const std::vector<fs::path>& files, bool builtin_lab6,
                                      Json* skipped) {
  std::vector<Candidate> candidates;
  std::set<std::string> seen_files, ids;
  std::error_code ec;
  for (const fs::path& f : files) {
    fs::path canonical = fs::weakly_canonical(f, ec);
    if (ec) canonical = f;
    if (!seen_files.insert(canonical.string()).second) continue;
    absl::StatusOr<materials::Structure> s = materials::ReadStructureFile(f.string());
    if (!s.ok()) {
      skipped->push_back({{"file", f.string()}, {"reason", std::string(s.status().message())}});
      continue;
    }
    std::string id = f.stem().string();
    if (ids.count(id)) id = absl::StrCat(f.parent_path().filename().string(), "/", id);
    for (int k = 2; ids.count(id); ++k) id = absl::StrCat(f.stem().string(), "#", k);
    ids.insert(id);
    candidates.push_back(MakeCandidate(*std::move(s), id, f.string()));
  }
  if (builtin_lab6) {
    absl::StatusOr<materials::Structure> s = materials::ParseStructure(kLaB6Cif, "LaB6.cif");
    if (s.ok()) {
      candidates.push_back(MakeCandidate(*std::move(s), kLaB6Id, "builtin"));
    } else {
      skipped->push_back({{"file", "builtin LaB6"}, {"reason", std::string(s.status().message())}});
    }
  }
  return candidates;
}

// The scan files of a location: the file itself, or the pattern files directly in the folder.
absl::StatusOr<std::vector<fs::path>> ScanFiles(const std::string& location) {
  std::error_code ec;
  if (!fs::exists(location, ec)) {
    return absl::NotFoundError(absl::StrCat(location, ": no such file or directory"));
  }
  if (!fs::is_directory(location, ec)) return std::vector<fs::path>{fs::path(location)};
  return FilesIn(location, [](const fs::path& p) { return xrd::IsPatternFileName(p.string()); });
}

// The phases a scan is expected to contain, from its file name (see the file comment).
struct Expectation {
  std::vector<std::string> formulas;
  std::string from;  // how they were derived; "" if not
};

Expectation ExpectedPhases(const std::string& stem) {
  Expectation e;
  if (std::optional<corpus::SynthesisRecipe> syn = corpus::ParseALabScanName(stem)) {
    e.formulas = syn->precursors;
    e.from = "A-Lab name: precursors (the products are not in the name)";
    return e;
  }
  for (const std::string& s : {stem, stem.substr(0, stem.find('_'))}) {
    if (!s.empty() && materials::ParseFormula(s).ok()) {
      e.formulas = {s};
      e.from = "formula in the file name";
      return e;
    }
  }
  return e;
}

// The outcome for one scan and one candidate.
struct PairResult {
  std::string error;  // simulation failed; the other fields are unset
  double similarity = 0;
  double shift = 0;
  std::optional<xrd::PeakMatchResult> match;  // absent if either side has no peaks
  double PeakF1() const {
    if (!match) return 0;
    const double a = match->weighted_fraction, b = match->measured_explained_fraction;
    return a + b > 0 ? 2 * a * b / (a + b) : 0;
  }
};

struct ScanResult {
  std::string name;
  std::string error;  // unreadable: the other fields are unset
  xrd::XrdPattern pattern;
  bool wavelength_from_file = false;
  int measured_peaks = 0;
  Expectation expected;
  std::vector<int> expected_candidates;  // indices into the candidate list
  std::vector<PairResult> pairs;         // one per candidate
};

void EvaluateScan(const fs::path& file, const std::vector<Candidate>& candidates,
                  const XrdBenchConfig& config, ScanResult* out) {
  out->name = file.filename().string();
  absl::StatusOr<xrd::XrdPattern> pattern = xrd::ReadPatternFile(file.string());
  if (!pattern.ok()) {
    out->error = std::string(pattern.status().message());
    return;
  }
  out->pattern = *std::move(pattern);
  out->wavelength_from_file = out->pattern.wavelength > 0;
  const double wavelength = out->wavelength_from_file ? out->pattern.wavelength : xrd::kCuKAlpha1;
  absl::StatusOr<std::vector<xrd::Peak>> measured = xrd::FindPeaks(out->pattern);
  if (!measured.ok()) {
    out->error = std::string(measured.status().message());
    return;
  }
  out->measured_peaks = static_cast<int>(measured->size());
  out->expected = ExpectedPhases(file.stem().string());
  for (const std::string& formula : out->expected.formulas) {
    absl::StatusOr<materials::Composition> c = materials::ParseFormula(formula);
    if (!c.ok()) continue;
    const materials::Composition want = Normalized(*c);
    for (size_t i = 0; i < candidates.size(); ++i) {
      if (SameComposition(want, candidates[i].composition) &&
          std::find(out->expected_candidates.begin(), out->expected_candidates.end(), i) ==
              out->expected_candidates.end()) {
        out->expected_candidates.push_back(static_cast<int>(i));
      }
    }
  }

  xrd::SimulationOptions sim;
  sim.wavelength = wavelength;
  sim.two_theta_min = std::max(0.0, out->pattern.two_theta.front());
  sim.two_theta_max = std::min(179.0, out->pattern.two_theta.back());
  sim.step = 0.01;
  sim.fwhm = config.fwhm;
  xrd::SimulationOptions sim_doublet = sim;
  xrd::PeakMatchOptions match_options = config.match;
  for (const TubeLines& tube : kTubes) {
    if (std::fabs(wavelength - tube.kalpha1) < kLineTolerance && config.kalpha2_ratio > 0) {
      sim_doublet.kalpha2_ratio = config.kalpha2_ratio;
      sim_doublet.kalpha2_wavelength = tube.kalpha2 * wavelength / tube.kalpha1;
      match_options.companion_wavelength_ratio = tube.kalpha2 / tube.kalpha1;
    }
  }
  for (const Candidate& c : candidates) {
    PairResult pair;
    absl::StatusOr<std::vector<xrd::Reflection>> reflections =
        sim.two_theta_min < sim.two_theta_max
            ? xrd::ComputeReflections(c.structure, sim)
            : absl::InvalidArgumentError("scan range outside [0, 179] degrees");
    absl::StatusOr<xrd::XrdPattern> line_profile, compared;
    if (reflections.ok()) line_profile = xrd::ProfileFromReflections(*reflections, sim);
    if (reflections.ok()) compared = xrd::ProfileFromReflections(*reflections, sim_doublet);
    if (!reflections.ok() || !line_profile.ok() || !compared.ok()) {
      pair.error = std::string((!reflections.ok()    ? reflections.status()
                                : !line_profile.ok() ? line_profile.status()
                                                     : compared.status())
                                   .message());
      out->pairs.push_back(std::move(pair));
      continue;
    }
    // A candidate without lines in the scan's range stays at similarity 0 and no match.
    absl::StatusOr<xrd::SimilarityResult> similarity =
        xrd::PatternSimilarity(out->pattern, *compared, config.similarity);
    if (similarity.ok()) {
      pair.similarity = similarity->cosine;
      pair.shift = similarity->shift;
    }
    absl::StatusOr<std::vector<xrd::Peak>> simulated =
        xrd::FindPeaks(*line_profile, xrd::SimulatedPeakOptions());
    if (simulated.ok() && !simulated->empty() && !measured->empty()) {
      absl::StatusOr<xrd::PeakMatchResult> match =
          xrd::MatchPeakLists(*simulated, *measured, match_options);
      if (match.ok()) pair.match = *std::move(match);
    }
    out->pairs.push_back(std::move(pair));
  }
}

// Candidate indices ordered by `score` (highest first; ties by id), failed pairs last.
template <typename Score>
std::vector<int> Rank(const ScanResult& scan, const std::vector<Candidate>& candidates,
                      Score score) {
  std::vector<int> order(candidates.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    const bool fa = !scan.pairs[a].error.empty(), fb = !scan.pairs[b].error.empty();
    if (fa != fb) return fb;
    const double sa = score(scan.pairs[a]), sb = score(scan.pairs[b]);
    if (sa != sb) return sa > sb;
    return candidates[a].id < candidates[b].id;
  });
  return order;
}

// 1-based best rank of an expected candidate in `order`, 0 if there is none.
int RankOfExpected(const std::vector<int>& order, const std::vector<int>& expected) {
  for (size_t r = 0; r < order.size(); ++r) {
    if (std::find(expected.begin(), expected.end(), order[r]) != expected.end()) {
      return static_cast<int>(r) + 1;
    }
  }
  return 0;
}

Json MatchJson(const xrd::PeakMatchResult& m, bool with_peaks) {
  Json j{{"scored", m.peaks.size()},
         {"num_matched", m.num_matched},
         {"matched_fraction", m.matched_fraction},
         {"mean_abs_offset_deg", m.num_matched > 0 ? Json(m.mean_abs_offset) : Json()},
         {"zero_shift_deg", m.zero_shift},
         {"weighted_fraction", m.weighted_fraction},
         {"measured_scored", m.num_measured_scored},
         {"measured_explained_fraction", m.measured_explained_fraction},
         {"unexplained_measured_two_theta", m.unexplained_measured}};
  if (with_peaks) {
    Json peaks = Json::array();
    for (const xrd::MatchedPeak& p : m.peaks) {
      peaks.push_back({{"simulated_two_theta", p.simulated_two_theta},
                       {"simulated_height", p.simulated_height},
                       {"measured_two_theta", p.measured_two_theta},
                       {"offset_deg", p.offset},
                       {"matched", p.matched}});
    }
    j["peaks"] = std::move(peaks);
  }
  return j;
}

// Evaluates every scan of `location` (at most max_items when > 0) against the candidates, on
// `threads` threads; the result does not depend on the thread count.
absl::StatusOr<Json> EvaluateSet(const std::string& location,
                                 const std::vector<Candidate>& candidates,
                                 const XrdBenchConfig& config, int max_items, int threads) {
  MATALIGN_ASSIGN_OR_RETURN(std::vector<fs::path> files, ScanFiles(location));
  if (max_items > 0 && files.size() > static_cast<size_t>(max_items)) files.resize(max_items);
  if (files.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(location,
                                                   ": no scan files (.xy .dat .txt "
                                                   ".csv .asc .xrdml)"));
  }
  std::vector<ScanResult> results(files.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < files.size(); i = next++) {
      EvaluateScan(files[i], candidates, config, &results[i]);
    }
  };
  const int n_threads = std::max(1, std::min<int>(threads, static_cast<int>(files.size())));
  std::vector<std::thread> pool;
  for (int t = 1; t < n_threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();

  Json scans = Json::array(), skipped = Json::array(), peak_match = Json::array();
  Json without_truth = Json::array();
  int evaluated = 0, with_truth = 0, top1 = 0, top3 = 0, pm_top1 = 0, pm_top3 = 0;
  double reciprocal_rank_sum = 0, matched_fraction_sum = 0;
  int matched_pairs = 0;
  double lowest_true = NAN, highest_false_top1 = NAN;
  for (const ScanResult& scan : results) {
    if (!scan.error.empty()) {
      skipped.push_back({{"file", scan.name}, {"reason", scan.error}});
      continue;
    }
    ++evaluated;
    const std::vector<int> order =
        Rank(scan, candidates, [](const PairResult& p) { return p.similarity; });
    const std::vector<int> pm_order =
        Rank(scan, candidates, [](const PairResult& p) { return p.PeakF1(); });
    Json ranking = Json::array();
    for (size_t r = 0; r < order.size(); ++r) {
      const Candidate& c = candidates[order[r]];
      const PairResult& p = scan.pairs[order[r]];
      Json entry{{"rank", r + 1}, {"candidate", c.id}, {"formula", c.formula}};
      if (!p.error.empty()) {
        entry["error"] = p.error;
      } else {
        entry["similarity"] = p.similarity;
        entry["similarity_shift_deg"] = p.shift;
        entry["peak_f1"] = p.PeakF1();
        if (p.match) entry["matched_fraction"] = p.match->matched_fraction;
      }
      ranking.push_back(std::move(entry));
    }
    Json expected_ids = Json::array();
    for (int i : scan.expected_candidates) expected_ids.push_back(candidates[i].id);
    Json s{{"file", scan.name},
           {"points", scan.pattern.two_theta.size()},
           {"two_theta_range", {scan.pattern.two_theta.front(), scan.pattern.two_theta.back()}},
           {"wavelength", scan.wavelength_from_file ? scan.pattern.wavelength : xrd::kCuKAlpha1},
           {"wavelength_source", scan.wavelength_from_file ? "file" : "assumed Cu K-alpha1"},
           {"measured_peaks", scan.measured_peaks},
           {"expected_phases", scan.expected.formulas},
           {"expected_from", scan.expected.from.empty() ? Json() : Json(scan.expected.from)},
           {"expected_candidates", expected_ids},
           {"ground_truth", !scan.expected_candidates.empty()},
           {"top_candidate", candidates[order[0]].id},
           {"top_similarity", scan.pairs[order[0]].similarity}};
    if (scan.expected_candidates.empty()) {
      without_truth.push_back(scan.name);
      s["note"] = scan.expected.formulas.empty()
                      ? "no ground truth: the file name names no phase"
                      : absl::StrCat("no ground truth: no candidate has the composition of ",
                                     absl::StrJoin(scan.expected.formulas, ", "));
      highest_false_top1 = std::isnan(highest_false_top1)
                               ? scan.pairs[order[0]].similarity
                               : std::max(highest_false_top1, scan.pairs[order[0]].similarity);
      s["rank_of_expected"] = nullptr;
    } else {
      ++with_truth;
      const int rank = RankOfExpected(order, scan.expected_candidates);
      const int pm_rank = RankOfExpected(pm_order, scan.expected_candidates);
      s["rank_of_expected"] = rank;
      s["top1"] = rank == 1;
      s["top3"] = rank >= 1 && rank <= 3;
      s["peak_f1_rank_of_expected"] = pm_rank;
      top1 += rank == 1;
      top3 += rank >= 1 && rank <= 3;
      pm_top1 += pm_rank == 1;
      pm_top3 += pm_rank >= 1 && pm_rank <= 3;
      reciprocal_rank_sum += rank > 0 ? 1.0 / rank : 0;
      Json matches = Json::array();
      for (int i : scan.expected_candidates) {
        const PairResult& p = scan.pairs[i];
        if (p.error.empty()) {
          lowest_true =
              std::isnan(lowest_true) ? p.similarity : std::min(lowest_true, p.similarity);
        }
        if (!p.match) continue;
        Json m = MatchJson(*p.match, /*with_peaks=*/true);
        m["scan"] = scan.name;
        m["structure"] = candidates[i].id;
        m["similarity"] = p.similarity;
        matches.push_back(m);
        m.erase("peaks");
        peak_match.push_back(std::move(m));
        matched_fraction_sum += p.match->matched_fraction;
        ++matched_pairs;
      }
      s["peak_match"] = std::move(matches);
    }
    s["ranking"] = std::move(ranking);
    scans.push_back(std::move(s));
  }
  auto share = [&](int hits) { return with_truth > 0 ? Json(double(hits) / with_truth) : Json(); };
  Json retrieval{
      {"ranked_by", "similarity"},
      {"candidates", candidates.size()},
      {"scans", evaluated},
      {"with_ground_truth", with_truth},
      {"top1_hits", top1},
      {"top3_hits", top3},
      {"top1_accuracy", share(top1)},
      {"top3_accuracy", share(top3)},
      {"mean_reciprocal_rank", with_truth > 0 ? Json(reciprocal_rank_sum / with_truth) : Json()},
      {"peak_f1_ranking", {{"top1_accuracy", share(pm_top1)}, {"top3_accuracy", share(pm_top3)}}},
      {"scans_without_ground_truth", without_truth},
      {"lowest_expected_similarity", Figure(lowest_true)},
      {"highest_top1_similarity_without_ground_truth", Figure(highest_false_top1)}};
  return Json{{"location", location},
              {"scans", std::move(scans)},
              {"skipped", std::move(skipped)},
              {"peak_match", std::move(peak_match)},
              {"peak_match_mean_matched_fraction",
               matched_pairs > 0 ? Json(matched_fraction_sum / matched_pairs) : Json()},
              {"retrieval", std::move(retrieval)}};
}

std::string SetMarkdown(const std::string& title, const Json& set, const XrdBenchConfig& config) {
  std::string md = absl::StrCat("## ", title, " (`", set["location"].get<std::string>(), "`)\n\n");
  const Json& r = set["retrieval"];
  absl::StrAppend(
      &md, "### Peak match of the expected structure\n\n", "Strongest ", config.match.strongest,
      " simulated peaks, tolerance ", FormatFigure(config.match.tolerance),
      " deg after one fitted zero shift; weighted = share of their simulated height "
      "matched; explained = share of the ",
      config.match.strongest_measured, " strongest measured peaks near a simulated one.\n\n");
  std::vector<std::vector<std::string>> rows;
  for (const Json& m : set["peak_match"]) {
    rows.push_back({m["scan"].get<std::string>(), m["structure"].get<std::string>(),
                    absl::StrCat(m["num_matched"].get<int>(), "/", m["scored"].get<int>()),
                    FormatFigure(m["matched_fraction"]), FormatFigure(m["mean_abs_offset_deg"]),
                    FormatFigure(m["zero_shift_deg"]), FormatFigure(m["weighted_fraction"]),
                    FormatFigure(m["measured_explained_fraction"]), FormatFigure(m["similarity"])});
  }
  if (rows.empty()) {
    md += "No scan has an expected structure among the candidates.\n\n";
  } else {
    md += MarkdownTable({"scan", "structure", "matched", "fraction", "mean abs offset (deg)",
                         "zero shift (deg)", "weighted", "explained", "similarity"},
                        rows);
    md += "\n";
  }
  absl::StrAppend(&md, "### Retrieval among ", r["candidates"].get<int>(),
                  " candidates (ranked by profile similarity)\n\n");
  absl::StrAppend(
      &md,
      MarkdownTable({"scans", "with ground truth", "top-1", "top-3", "MRR",
                     "top-1 (peak F1 ranking)", "top-3 (peak F1 ranking)"},
                    {{FormatFigure(r["scans"]), FormatFigure(r["with_ground_truth"]),
                      FormatFigure(r["top1_accuracy"]), FormatFigure(r["top3_accuracy"]),
                      FormatFigure(r["mean_reciprocal_rank"]),
                      FormatFigure(r["peak_f1_ranking"]["top1_accuracy"]),
                      FormatFigure(r["peak_f1_ranking"]["top3_accuracy"])}}),
      "\n");
  rows.clear();
  for (const Json& s : set["scans"]) {
    std::vector<std::string> top;
    const Json& ranking = s["ranking"];
    for (size_t i = 0; i < ranking.size() && i < static_cast<size_t>(kMarkdownTop); ++i) {
      top.push_back(absl::StrCat(ranking[i]["candidate"].get<std::string>(), " (",
                                 FormatFigure(ranking[i].value("similarity", Json())), ")"));
    }
    std::string truth = "none";
    if (s["ground_truth"].get<bool>()) {
      truth = absl::StrCat(
          absl::StrJoin(s["expected_candidates"].get<std::vector<std::string>>(), ", "), " (rank ",
          FormatFigure(s["rank_of_expected"]), ")");
    } else if (!s["expected_phases"].empty()) {
      truth = absl::StrCat(
          "none among candidates (",
          absl::StrJoin(s["expected_phases"].get<std::vector<std::string>>(), ", "), ")");
    }
    rows.push_back({s["file"].get<std::string>(), s["wavelength_source"].get<std::string>(), truth,
                    absl::StrJoin(top, "; ")});
  }
  md += MarkdownTable({"scan", "wavelength", "expected (rank)", "top 3 (similarity)"}, rows);
  absl::StrAppend(&md, "\nHighest top-1 similarity of a scan without ground truth: ",
                  FormatFigure(r["highest_top1_similarity_without_ground_truth"]),
                  "; lowest similarity of an expected structure: ",
                  FormatFigure(r["lowest_expected_similarity"]), ".\n\n");
  if (!set["skipped"].empty()) {
    md += "Skipped scans:\n\n";
    for (const Json& s : set["skipped"]) {
      absl::StrAppend(&md, "- ", s["file"].get<std::string>(), ": ", s["reason"].get<std::string>(),
                      "\n");
    }
    md += "\n";
  }
  return md;
}

}  // namespace

absl::StatusOr<nlohmann::json> BenchRealXrd(const BenchRealOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  const auto start = Clock::now();
  MATALIGN_ASSIGN_OR_RETURN(const XrdBenchConfig config, LoadXrdConfig(options.config));
  std::error_code ec;
  if (!fs::exists(options.train, ec)) {
    return absl::NotFoundError(absl::StrCat("--train ", options.train, ": no such file or folder"));
  }
  if (!options.test.empty() && !fs::exists(options.test, ec)) {
    return absl::NotFoundError(absl::StrCat("--test ", options.test, ": no such file or folder"));
  }

  std::vector<fs::path> structure_files;
  if (!config.structures.empty()) {
    structure_files = ExpandStructurePaths(config.structures);
  } else {
    structure_files = StructureFilesFor(options.train);
    if (!options.test.empty()) {
      for (fs::path& f : StructureFilesFor(options.test)) structure_files.push_back(std::move(f));
    }
  }
  Json skipped_structures = Json::array();
  const std::vector<Candidate> candidates =
      LoadCandidates(structure_files, config.builtin_lab6, &skipped_structures);
  if (candidates.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no candidate structures: none readable in ", options.train,
        " (itself, structures/, structures/cif/) or ../structures/cif beside it, and the "
        "built-in LaB6 is off"));
  }
  const int threads = options.threads > 0
                          ? options.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  Json sets;
  MATALIGN_ASSIGN_OR_RETURN(
      sets["train"], EvaluateSet(options.train, candidates, config, options.max_items, threads));
  if (!options.test.empty()) {
    MATALIGN_ASSIGN_OR_RETURN(
        sets["test"], EvaluateSet(options.test, candidates, config, options.max_items, threads));
  }
  const std::string evaluated = options.test.empty() ? "train" : "test";
  const Json& e = sets[evaluated];

  Json candidate_list = Json::array();
  for (const Candidate& c : candidates) {
    candidate_list.push_back({{"id", c.id}, {"file", c.file}, {"formula", c.formula}});
  }
  Json report{
      {"benchmark", "xrd"},
      {"train", options.train},
      {"test", options.test.empty() ? Json() : Json(options.test)},
      {"split", options.test.empty()
                    ? "No split: nothing is fitted to the data, so every --train scan is evaluated"
                    : "The --test scans are evaluated (the --train scans are reported too)"},
      {"evaluated", evaluated},
      {"method",
       "each candidate is simulated at the scan's wavelength (Cu K-alpha1 when the file "
       "states none) over the scan's range; peak match: FindPeaks on both, one zero shift, "
       "nearest-peak pairing; retrieval: cosine of SNIP-background-subtracted, Gaussian-"
       "broadened profiles on a common grid, maximized over a relative shift "
       "(K-alpha2 added to the simulation for Cu and Mo scans)"},
      {"config", options.config.empty() ? Json() : Json(options.config)},
      {"settings", ConfigJson(config)},
      {"candidates", std::move(candidate_list)},
      {"skipped_structures", std::move(skipped_structures)},
      {"metrics",
       {{"scans", e["retrieval"]["scans"]},
        {"with_ground_truth", e["retrieval"]["with_ground_truth"]},
        {"retrieval_top1", e["retrieval"]["top1_accuracy"]},
        {"retrieval_top3", e["retrieval"]["top3_accuracy"]},
        {"retrieval_mrr", e["retrieval"]["mean_reciprocal_rank"]},
        {"peak_match_mean_matched_fraction", e["peak_match_mean_matched_fraction"]},
        {"peak_match", e["peak_match"]}}},
      {"sets", sets},
  };
  report["seconds"] = std::chrono::duration<double>(Clock::now() - start).count();

  std::string md = "# bench-real xrd\n\n";
  absl::StrAppend(
      &md, "Measured scans against ", candidates.size(),
      " candidate structures through simulated patterns. ", report["split"].get<std::string>(),
      ". Expected phases come from the file names (a formula, or A-Lab precursors); scans "
      "whose expected phases have no candidate have no ground truth and are left out of the "
      "top-k figures.\n\n",
      "Candidates: ",
      absl::StrJoin(report["candidates"], ", ",
                    [](std::string* out, const Json& c) {
                      absl::StrAppend(out, c["id"].get<std::string>(), " (",
                                      c["formula"].get<std::string>(), ")");
                    }),
      ".\n\n");
  md += SetMarkdown("Train", sets["train"], config);
  if (!options.test.empty()) md += SetMarkdown("Test", sets["test"], config);
  if (!report["skipped_structures"].empty()) {
    md += "Skipped structures:\n\n";
    for (const Json& s : report["skipped_structures"]) {
      absl::StrAppend(&md, "- ", s["file"].get<std::string>(), ": ", s["reason"].get<std::string>(),
                      "\n");
    }
  }
  MATALIGN_RETURN_IF_ERROR(WriteReportFiles(report, md, options.out));
  return report;
}

}  // namespace matalign::train
