#include "corpus/synth.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/file.h"
#include "common/real_data.h"
#include "common/status_macros.h"
#include "corpus/grain_growth.h"
#include "corpus/manifest.h"
#include "corpus/properties.h"
#include "corpus/prototypes.h"
#include "corpus/recipe_stats.h"
#include "corpus/rng.h"
#include "corpus/sem_synth.h"
#include "corpus/synthesis_text.h"
#include "imaging/image.h"
#include "materials/element.h"
#include "materials/formula.h"
#include "materials/perov5.h"
#include "materials/structure_io.h"
#include "materials/structure_writer.h"
#include "xrd/pattern.h"
#include "xrd/simulate.h"

namespace matalign::corpus {
namespace {

namespace fs = std::filesystem;

// Purposes of the per-record random streams (see rng.h). Never renumber: that would change
// every corpus generated so far.
enum Purpose : uint64_t {
  kClass = 1,
  kStructure = 2,
  kRoute = 3,
  kRecipe = 4,
  kProperties = 5,
  kSem = 6,
  kXrd = 7,
  kDefect = 8,
  kPerov5 = 9,
  kSplit = 10,
};

constexpr int kMaxAttempts = 20;

struct Context {
  const SynthOptions* options = nullptr;
  RecipeStats stats;
  std::vector<materials::Perov5Row> perov5;  // empty unless perov5_fraction > 0
};

std::string RecordId(int64_t index) { return absl::StrFormat("syn-%07d", index); }

MaterialClass DrawClass(const std::vector<MaterialClass>& classes, Rng& rng) {
  auto weight = [](MaterialClass c) { return c == MaterialClass::kCrystalline ? 0.7 : 0.15; };
  double total = 0;
  for (MaterialClass c : classes) total += weight(c);
  double u = Uniform01(rng) * total;
  for (MaterialClass c : classes) {
    u -= weight(c);
    if (u < 0) return c;
  }
  return classes.back();
}

Defect DrawDefect(Rng& rng) {
  // Half the micrographs are defect-free; the five defect classes share the rest.
  if (Uniform01(rng) < 0.5) return Defect::kNone;
  const std::vector<Defect>& all = AllDefects();
  std::vector<Defect> defects;
  for (Defect d : all) {
    if (d != Defect::kNone) defects.push_back(d);
  }
  return defects[UniformIndex(rng, defects.size())];
}

// The structure of a material of class `c`, its composition and a description label.
struct Material {
  materials::Structure structure;
  std::map<std::string, double> composition;  // per formula unit
  std::string prototype;
  double particle_diameter_nm = 0;  // nano only
  double particle_radius_a = 0;     // nano only
  double bulk_density = 0;          // density of the parent crystal
  double size_mismatch = 0;         // from the crystal sampler
  double strain = 0;
  const materials::Perov5Row* perov5 = nullptr;
  // Nano only: the parent crystal. A nanocrystal diffracts like its bulk crystal with
  // Scherrer-broadened lines; simulating the particle in its vacuum box instead would add
  // the box's spurious reflections (and cost ~20x more).
  std::optional<materials::Structure> parent_crystal;
};

absl::StatusOr<Material> MakeMaterial(const Context& ctx, MaterialClass c, int64_t index) {
  const SynthOptions& o = *ctx.options;
  Rng rng = StreamFor(o.seed, static_cast<uint64_t>(index), kStructure);
  absl::Status last = absl::InternalError("no attempt made");
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    if (c == MaterialClass::kCrystalline && !ctx.perov5.empty()) {
      Rng pick = StreamFor(o.seed, static_cast<uint64_t>(index), kPerov5);
      if (Uniform01(pick) < o.perov5_fraction) {
        const materials::Perov5Row& row = ctx.perov5[UniformIndex(pick, ctx.perov5.size())];
        auto st = materials::ParseStructure(row.cif, row.Source("perov5"));
        if (st.ok()) {
          Material m;
          m.composition = materials::CompositionOf(*st);
          m.bulk_density = st->Density();
          m.structure = std::move(*st);
          m.prototype = "perovskite (perov5)";
          m.perov5 = &row;
          return m;
        }
        last = st.status();
        continue;
      }
    }
    auto crystal = SampleCrystal(rng);
    if (!crystal.ok()) {
      last = crystal.status();
      continue;
    }
    Material m;
    m.composition = crystal->composition;
    m.prototype = crystal->prototype_name;
    m.bulk_density = crystal->structure.Density();
    m.size_mismatch = crystal->size_mismatch;
    m.strain = crystal->strain;
    if (c == MaterialClass::kCrystalline) {
      m.structure = std::move(crystal->structure);
      return m;
    }
    if (c == MaterialClass::kAmorphous) {
      // A glass of the same composition, ~8% less dense than the crystal.
      const int atoms = 40 + static_cast<int>(UniformIndex(rng, 60));
      auto glass = MakeAmorphous(m.composition, atoms, 0.92 * crystal->structure.Density(), rng);
      if (!glass.ok()) {
        last = glass.status();
        continue;
      }
      m.structure = std::move(*glass);
      m.prototype = "amorphous";
      return m;
    }
    const double radius_a = Uniform(rng, 6.0, 11.0);
    auto nano = MakeNanoparticle(crystal->structure, radius_a);
    if (!nano.ok()) {
      last = nano.status();
      continue;
    }
    m.structure = std::move(nano->structure);
    m.parent_crystal = std::move(crystal->structure);
    m.particle_diameter_nm = 0.2 * nano->radius_a;
    m.particle_radius_a = nano->radius_a;
    m.prototype = absl::StrCat(crystal->prototype_name, " nanoparticle");
    return m;
  }
  return absl::InternalError(absl::StrCat("material ", RecordId(index), ": no valid structure in ",
                                          kMaxAttempts, " attempts: ", last.message()));
}

// Simulated pattern with a realistic background and counting noise, rendered as an image.
absl::StatusOr<std::string> XrdImage(const materials::Structure& st, MaterialClass c,
                                     double particle_diameter_nm, const SynthOptions& o, Rng& rng) {
  xrd::SimulationOptions sim;
  sim.step = 0.04;
  sim.fwhm = Uniform(rng, 0.08, 0.2);
  if (c == MaterialClass::kAmorphous) sim.fwhm = Uniform(rng, 5.0, 8.0);  // diffuse halo
  if (c == MaterialClass::kNano) {
    // Scherrer: FWHM(2 theta) = K lambda / (L cos theta), evaluated at 2 theta = 40 deg.
    const double l_a = std::max(particle_diameter_nm, 0.5) * 10.0;
    sim.fwhm =
        std::min(10.0, 0.9 * sim.wavelength / (l_a * std::cos(20.0 * M_PI / 180)) * 180 / M_PI);
  }
  MATALIGN_ASSIGN_OR_RETURN(xrd::XrdPattern pattern, xrd::SimulatePattern(st, sim));
  // Background: a decaying air-scatter term plus a flat term; noise ~ sqrt(counts).
  const double b0 = Uniform(rng, 2, 8), b1 = Uniform(rng, 5, 25), counts = Uniform(rng, 3, 10);
  for (size_t i = 0; i < pattern.two_theta.size(); ++i) {
    const double bg = b0 + b1 * std::exp(-pattern.two_theta[i] / 15.0);
    const double mean = (pattern.intensity[i] + bg) * counts;
    pattern.intensity[i] = std::max(0.0, mean + std::sqrt(mean) * Normal(rng));
  }
  return RenderXrdPng(pattern, o.xrd_width, o.xrd_height);
}

// Builds material `index` and writes its files; returns its manifest record.
absl::StatusOr<Record> MakeRecord(const Context& ctx, int64_t index, int64_t* bytes) {
  const SynthOptions& o = *ctx.options;
  const uint64_t i = static_cast<uint64_t>(index);
  Record r;
  r.id = RecordId(index);
  r.source = "synthetic";
  Rng class_rng = StreamFor(o.seed, i, kClass);
  r.material_class = DrawClass(o.classes, class_rng);
  MATALIGN_ASSIGN_OR_RETURN(Material m, MakeMaterial(ctx, r.material_class, index));
  r.composition = m.composition;
  r.labels["prototype"] = m.prototype;
  if (m.perov5 != nullptr) r.source = absl::StrCat("perov5:", m.perov5->material_id);

  // Structure file.
  MATALIGN_ASSIGN_OR_RETURN(std::string cif, materials::WriteCif(m.structure));
  const std::string structure_rel = absl::StrCat("structures/", r.id, ".cif");
  MATALIGN_RETURN_IF_ERROR(WriteFileAtomic(o.out_dir + "/" + structure_rel, cif));
  *bytes += static_cast<int64_t>(cif.size());
  r.structure = StructureRef{structure_rel, "", "cif"};

  // Recipe: route from class and composition, precursors and conditions from statistics.
  Rng route_rng = StreamFor(o.seed, i, kRoute);
  const std::string route = ChooseRoute(r.material_class, r.composition, route_rng);
  Rng recipe_rng = StreamFor(o.seed, i, kRecipe);
  MATALIGN_ASSIGN_OR_RETURN(SynthesisRecipe recipe,
                            GenerateSynthesis(r.composition, route, ctx.stats, recipe_rng));

  // The recipe's thermal history sets the microstructure.
  Rng prop_rng = StreamFor(o.seed, i, kProperties);
  GrainGrowthParams growth;
  MATALIGN_ASSIGN_OR_RETURN(double grain_um,
                            GrainSizeUm(growth, recipe.temperatures_c, recipe.times_h));
  grain_um *= std::exp(0.15 * Normal(prop_rng));  // sample-to-sample scatter
  if (r.material_class == MaterialClass::kNano) grain_um = m.particle_diameter_nm / 1000.0;
  MATALIGN_ASSIGN_OR_RETURN(double porosity, PorosityAfter(growth, SinteringParams(),
                                                           recipe.temperatures_c, recipe.times_h));
  PropertyInputs inputs;
  inputs.structure = &m.structure;
  inputs.composition = r.composition;
  inputs.material_class = r.material_class;
  inputs.size_mismatch = m.size_mismatch;
  inputs.lattice_strain = m.strain;
  inputs.particle_radius_a = m.particle_radius_a;
  inputs.bulk_density_g_cm3 = m.bulk_density;
  inputs.grain_size_nm = grain_um * 1000.0;
  inputs.porosity = porosity;
  MATALIGN_ASSIGN_OR_RETURN(r.properties, ComputeProperties(inputs, prop_rng));
  r.properties["grain_size_um"] = grain_um;
  r.properties["porosity"] = porosity;
  if (m.perov5 != nullptr) {
    r.properties["band_gap_ev"] = m.perov5->dir_gap;
    r.properties["heat_of_formation_ev_per_cell"] = m.perov5->heat_all;
  }
  r.synthesis = std::move(recipe);

  if (o.sem_images) {
    Rng defect_rng = StreamFor(o.seed, i, kDefect);
    SemParams sem;
    sem.grain_size_um = std::clamp(grain_um, 0.01, 1000.0);  // SEM resolves >= 10 nm
    sem.porosity = porosity;
    sem.defect = DrawDefect(defect_rng);
    sem.width = sem.height = o.sem_size;
    Rng sem_rng = StreamFor(o.seed, i, kSem);
    SemInfo info;
    MATALIGN_ASSIGN_OR_RETURN(imaging::Image image, RenderSem(sem, sem_rng, &info));
    MATALIGN_ASSIGN_OR_RETURN(std::string jpeg, imaging::EncodeJpeg(image, 90));
    const std::string rel = absl::StrCat("images/", r.id, "_sem.jpg");
    MATALIGN_RETURN_IF_ERROR(WriteFileAtomic(o.out_dir + "/" + rel, jpeg));
    *bytes += static_cast<int64_t>(jpeg.size());
    r.images.push_back({rel, "sem"});
    r.labels["defect"] = std::string(DefectName(sem.defect));
    // Instrument metadata, as an SEM writes it next to the image (the bar shows it too).
    r.labels["sem_pixel_size_um"] = absl::StrFormat("%.6g", info.pixel_size_um);
  }
  if (o.xrd_images) {
    Rng xrd_rng = StreamFor(o.seed, i, kXrd);
    const materials::Structure& diffracting = m.parent_crystal ? *m.parent_crystal : m.structure;
    MATALIGN_ASSIGN_OR_RETURN(std::string png, XrdImage(diffracting, r.material_class,
                                                        m.particle_diameter_nm, o, xrd_rng));
    const std::string rel = absl::StrCat("images/", r.id, "_xrd.png");
    MATALIGN_RETURN_IF_ERROR(WriteFileAtomic(o.out_dir + "/" + rel, png));
    *bytes += static_cast<int64_t>(png.size());
    r.images.push_back({rel, "xrd"});
  }
  r.split = (o.holdout_class && *o.holdout_class == r.material_class) ? Split::kTest
                                                                      : SplitFor(o.seed, index);
  return r;
}

std::string DefaultRecipeStatsPath() {
  return std::string(MATALIGN_SOURCE_DIR) + "/data/recipe_stats.json";
}

}  // namespace

absl::Status SynthOptions::Validate() const {
  if (n < 1) return absl::InvalidArgumentError("--n must be >= 1");
  if (out_dir.empty()) return absl::InvalidArgumentError("--out is required");
  if (classes.empty()) return absl::InvalidArgumentError("--classes lists no class");
  if (!(perov5_fraction >= 0 && perov5_fraction <= 1)) {
    return absl::InvalidArgumentError("perov5 fraction must be in [0, 1]");
  }
  if (sem_size < 64 || sem_size > 4096)
    return absl::InvalidArgumentError("sem_size must be in [64, 4096]");
  if (xrd_width < 16 || xrd_height < 16) return absl::InvalidArgumentError("XRD image too small");
  if (threads < 0) return absl::InvalidArgumentError("threads must be >= 0");
  if (holdout_class && std::find(classes.begin(), classes.end(), *holdout_class) == classes.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--holdout-class ", MaterialClassName(*holdout_class), " is not among --classes"));
  }
  return absl::OkStatus();
}

Split SplitFor(uint64_t seed, int64_t index) {
  const double u =
      static_cast<double>(Mix64(seed ^ Mix64(static_cast<uint64_t>(index) ^ Mix64(kSplit))) >> 11) *
      0x1.0p-53;
  return u < 0.8 ? Split::kTrain : (u < 0.9 ? Split::kVal : Split::kTest);
}

absl::StatusOr<std::string> RenderXrdPng(const xrd::XrdPattern& pattern, int width, int height) {
  MATALIGN_RETURN_IF_ERROR(xrd::ValidatePattern(pattern));
  MATALIGN_ASSIGN_OR_RETURN(std::vector<float> values,
                            xrd::ResampleToGrid(pattern, xrd::GridOptions{}));
  imaging::Image image;
  image.width = width;
  image.height = height;
  MATALIGN_ASSIGN_OR_RETURN(image.pixels, xrd::RenderPatternImage(values, width, height));
  return imaging::EncodePng(image);
}

absl::StatusOr<SynthSummary> GenerateCorpus(const SynthOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  const auto start = std::chrono::steady_clock::now();
  Context ctx;
  ctx.options = &options;
  MATALIGN_ASSIGN_OR_RETURN(
      ctx.stats, LoadRecipeStats(options.recipe_stats_path.empty() ? DefaultRecipeStatsPath()
                                                                   : options.recipe_stats_path));
  if (options.perov5_fraction > 0) {
    auto dir = RealDataDir();
    if (!dir) {
      return absl::FailedPreconditionError(
          "perov5 mixing needs the real data (../shared/data/real or MATALIGN_REAL_DATA)");
    }
    MATALIGN_ASSIGN_OR_RETURN(ctx.perov5,
                              materials::ReadPerov5Csv(*dir + "/perov5/perov5_train.csv"));
  }
  std::error_code ec;
  for (const char* sub : {"structures", "images"}) {
    fs::create_directories(fs::path(options.out_dir) / sub, ec);
    if (ec) {
      return absl::PermissionDeniedError(
          absl::StrCat(options.out_dir, ": cannot create ", sub, ": ", ec.message()));
    }
  }
  MATALIGN_ASSIGN_OR_RETURN(auto writer,
                            ManifestWriter::Create(options.out_dir + "/manifest.jsonl"));

  // Workers take indices in order and park finished records; this thread writes them in
  // index order. The window bounds how far workers may run ahead (memory).
  const int threads = options.threads > 0
                          ? options.threads
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  const int64_t window = 8 * threads + 16;
  std::mutex mu;
  std::condition_variable cv;
  std::map<int64_t, absl::StatusOr<Record>> done;
  int64_t next_to_write = 0;
  std::atomic<int64_t> next_index{0};
  std::atomic<int64_t> bytes{0};
  std::atomic<bool> stop{false};
  auto work = [&] {
    while (!stop.load()) {
      const int64_t index = next_index.fetch_add(1);
      if (index >= options.n) return;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return stop.load() || index < next_to_write + window; });
      }
      if (stop.load()) return;
      int64_t written = 0;
      absl::StatusOr<Record> record = MakeRecord(ctx, index, &written);
      bytes += written;
      {
        std::lock_guard<std::mutex> lock(mu);
        done.emplace(index, std::move(record));
      }
      cv.notify_all();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(work);
  SynthSummary summary;
  absl::Status failure;
  for (int64_t index = 0; index < options.n; ++index) {
    absl::StatusOr<Record> record = absl::InternalError("unset");
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return done.count(index) > 0; });
      record = std::move(done.at(index));
      done.erase(index);
      next_to_write = index + 1;
    }
    cv.notify_all();
    if (!record.ok()) {
      failure = record.status();
      break;
    }
    failure = writer->Append(*record);
    if (!failure.ok()) break;
    ++summary.records;
    switch (record->split) {
      case Split::kTrain:
        ++summary.train;
        break;
      case Split::kVal:
        ++summary.val;
        break;
      case Split::kTest:
        ++summary.test;
        break;
    }
    if (options.progress) options.progress(index + 1, options.n);
  }
  stop = true;
  cv.notify_all();
  for (std::thread& t : pool) t.join();
  MATALIGN_RETURN_IF_ERROR(failure);
  MATALIGN_RETURN_IF_ERROR(writer->Close());
  summary.manifest = writer->path();
  summary.bytes = bytes.load() + static_cast<int64_t>(fs::file_size(summary.manifest, ec));
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace matalign::corpus
