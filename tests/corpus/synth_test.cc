#include "corpus/synth.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/numbers.h"
#include "common/file.h"
#include "corpus/importers.h"
#include "corpus/manifest.h"
#include "corpus/sem_synth.h"
#include "imaging/image.h"
#include "materials/structure_io.h"
#include "tests/test_util.h"
#include "xrd/pattern.h"
#include "xrd/simulate.h"

namespace matalign::corpus {
namespace {

namespace fs = std::filesystem;
using ::matalign::testing::TempDir;

SynthOptions Small(const std::string& out, int64_t n, int threads) {
  SynthOptions o;
  o.n = n;
  o.seed = 7;
  o.out_dir = out;
  o.threads = threads;
  o.sem_size = 128;
  o.xrd_width = 128;
  o.xrd_height = 64;
  return o;
}

// Every file under `dir`, relative path -> contents.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    files[fs::relative(e.path(), dir).string()] = *ReadFile(e.path().string());
  }
  return files;
}

double Spearman(std::vector<double> x, std::vector<double> y) {
  auto ranks = [](const std::vector<double>& v) {
    std::vector<size_t> idx(v.size());
    for (size_t i = 0; i < v.size(); ++i) idx[i] = i;
    std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
    std::vector<double> r(v.size());
    for (size_t k = 0; k < idx.size(); ++k) r[idx[k]] = static_cast<double>(k);
    return r;
  };
  const std::vector<double> rx = ranks(x), ry = ranks(y);
  const double n = static_cast<double>(x.size());
  double mx = 0, my = 0;
  for (size_t i = 0; i < x.size(); ++i) mx += rx[i] / n, my += ry[i] / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxy += (rx[i] - mx) * (ry[i] - my);
    sxx += (rx[i] - mx) * (rx[i] - mx);
    syy += (ry[i] - my) * (ry[i] - my);
  }
  return sxy / std::sqrt(sxx * syy);
}

TEST(SynthTest, SameSeedGivesByteIdenticalOutputWhateverTheThreadCount) {
  TempDir a, b;
  ASSERT_OK(GenerateCorpus(Small(a.path(), 24, 1)));
  ASSERT_OK(GenerateCorpus(Small(b.path(), 24, 2)));
  const auto sa = Snapshot(a.path()), sb = Snapshot(b.path());
  EXPECT_EQ(sa.size(), 1u + 24u * 3u);  // manifest + structure + SEM + XRD per material
  EXPECT_TRUE(sa == sb);
  TempDir c;
  SynthOptions other = Small(c.path(), 24, 2);
  other.seed = 8;
  ASSERT_OK(GenerateCorpus(other));
  EXPECT_NE(Snapshot(c.path()).at("manifest.jsonl"), sa.at("manifest.jsonl"));
}

TEST(SynthTest, ManifestValidatesAndEveryMaterialIsInOneSplit) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(SynthSummary summary, GenerateCorpus(Small(dir.path(), 40, 2)));
  EXPECT_EQ(summary.records, 40);
  EXPECT_EQ(summary.train + summary.val + summary.test, 40);
  ManifestReadOptions check;
  check.check_files = true;
  ASSERT_OK_AND_ASSIGN(std::vector<Record> records,
                       ReadManifest(dir.Join("manifest.jsonl"), check));
  std::set<std::string> ids;
  std::set<MaterialClass> classes;
  for (const Record& r : records) {
    EXPECT_TRUE(ids.insert(r.id).second) << r.id;
    classes.insert(r.material_class);
    ASSERT_TRUE(r.structure.has_value());
    ASSERT_TRUE(r.synthesis.has_value());
    EXPECT_FALSE(r.synthesis->text.empty());
    EXPECT_EQ(r.images.size(), 2u);
    for (const char* p : {"band_gap_ev", "formation_energy_ev_per_atom", "density_g_cm3",
                          "grain_size_um", "porosity"}) {
      EXPECT_TRUE(r.properties.count(p)) << r.id << " lacks " << p;
    }
    EXPECT_EQ(GradedRelevance(r, r), 2);
    // The structure file reads back and its density is the recorded one for bulk classes.
    ASSERT_OK_AND_ASSIGN(materials::Structure st,
                         materials::ReadStructureFile(dir.Join(r.structure->path)));
    if (r.material_class != MaterialClass::kNano) {
      EXPECT_NEAR(st.Density(), r.properties.at("density_g_cm3"), 1e-3) << r.id;
    }
  }
  EXPECT_EQ(classes.size(), 3u);
  // Splits by material: 80/10/10 over many indices.
  int counts[3] = {0, 0, 0};
  for (int64_t i = 0; i < 20000; ++i) ++counts[static_cast<int>(SplitFor(3, i))];
  EXPECT_NEAR(counts[0] / 20000.0, 0.8, 0.015);
  EXPECT_NEAR(counts[1] / 20000.0, 0.1, 0.01);
  EXPECT_NEAR(counts[2] / 20000.0, 0.1, 0.01);
}

TEST(SynthTest, HoldoutClassGoesEntirelyToTest) {
  TempDir dir;
  SynthOptions o = Small(dir.path(), 40, 2);
  o.sem_images = o.xrd_images = false;
  o.holdout_class = MaterialClass::kAmorphous;
  ASSERT_OK(GenerateCorpus(o));
  ASSERT_OK_AND_ASSIGN(std::vector<Record> records, ReadManifest(dir.Join("manifest.jsonl")));
  int amorphous = 0;
  for (const Record& r : records) {
    EXPECT_TRUE(r.images.empty());
    if (r.material_class == MaterialClass::kAmorphous) {
      ++amorphous;
      EXPECT_EQ(r.split, Split::kTest) << r.id;
    }
  }
  EXPECT_GT(amorphous, 0);
}

TEST(SynthTest, RealPerov5StructuresCarryTheirDftLabels) {
  MATALIGN_REAL_DATA_OR_SKIP(csv, "perov5/perov5_train.csv");
  TempDir dir;
  SynthOptions o = Small(dir.path(), 6, 2);
  o.classes = {MaterialClass::kCrystalline};
  o.perov5_fraction = 1.0;
  o.sem_images = o.xrd_images = false;
  ASSERT_OK(GenerateCorpus(o));
  ASSERT_OK_AND_ASSIGN(std::vector<Record> records, ReadManifest(dir.Join("manifest.jsonl")));
  for (const Record& r : records) {
    EXPECT_EQ(r.source.rfind("perov5:", 0), 0u) << r.source;
    EXPECT_TRUE(r.properties.count("heat_of_formation_ev_per_cell")) << r.id;
    EXPECT_EQ(r.labels.at("prototype"), "perovskite (perov5)");
  }
}

TEST(RecordTest, GradedRelevanceFollowsRouteAndPrecursors) {
  Record a, b, c;
  a.id = "a";
  b.id = "b";
  c.id = "c";
  a.synthesis = SynthesisRecipe{"x", "solid-state", {"BaCO3", "TiO2"}, {1100}, {6}, "", ""};
  b.synthesis = SynthesisRecipe{"y", "solid-state", {"TiO2", "BaCO3"}, {900}, {2}, "", ""};
  c.synthesis = SynthesisRecipe{"z", "sol-gel", {"BaCO3", "TiO2"}, {700}, {2}, "", ""};
  EXPECT_EQ(GradedRelevance(a, a), 2);
  EXPECT_EQ(GradedRelevance(a, b), 1);
  EXPECT_EQ(GradedRelevance(a, c), 0);
  Record none;
  none.id = "n";
  EXPECT_EQ(GradedRelevance(a, none), 0);
}

TEST(SynthTest, BadOptionsAreRefused) {
  SynthOptions o;
  EXPECT_EQ(GenerateCorpus(o).status().code(), absl::StatusCode::kInvalidArgument);  // no out
  o.out_dir = "/tmp/x";
  o.classes = {MaterialClass::kCrystalline};
  o.holdout_class = MaterialClass::kNano;
  EXPECT_EQ(GenerateCorpus(o).status().code(), absl::StatusCode::kInvalidArgument);
}

// The physical links between modalities hold statistically: the SEM grain size (measured
// from the image with its pixel size) follows the recipe's heating temperature, and the XRD
// image is the structure's own diffraction pattern.
TEST(SynthTest, CrossModalLinksHold) {
  TempDir dir;
  SynthOptions o = Small(dir.path(), 80, 2);
  o.classes = {MaterialClass::kCrystalline};
  o.sem_size = 256;
  ASSERT_OK(GenerateCorpus(o));
  ASSERT_OK_AND_ASSIGN(std::vector<Record> records, ReadManifest(dir.Join("manifest.jsonl")));
  std::vector<double> temperature, grain;
  std::vector<std::vector<float>> xrd_images, xrd_own;
  for (const Record& r : records) {
    const double t_max =
        *std::max_element(r.synthesis->temperatures_c.begin(), r.synthesis->temperatures_c.end());
    for (const ImageRef& img : r.images) {
      ASSERT_OK_AND_ASSIGN(imaging::Image image, imaging::ReadImageFile(dir.Join(img.path)));
      if (img.kind == "sem") {
        if (r.labels.at("defect") == "agglomeration") continue;
        double pixel_um = 0;
        ASSERT_TRUE(absl::SimpleAtod(r.labels.at("sem_pixel_size_um"), &pixel_um));
        auto measured = MeasureGrainSizeUm(image, pixel_um);
        if (!measured.ok()) continue;
        temperature.push_back(t_max);
        grain.push_back(*measured);
      } else {
        // Column profile of the stored image vs the clean simulation of the structure file.
        ASSERT_OK_AND_ASSIGN(materials::Structure st,
                             materials::ReadStructureFile(dir.Join(r.structure->path)));
        ASSERT_OK_AND_ASSIGN(xrd::XrdPattern clean, xrd::SimulatePattern(st, {}));
        ASSERT_OK_AND_ASSIGN(std::vector<float> grid, xrd::ResampleToGrid(clean, {}));
        ASSERT_OK_AND_ASSIGN(std::vector<float> own,
                             xrd::RenderPatternImage(grid, image.width, image.height));
        auto columns = [&](const std::vector<float>& px) {
          std::vector<float> c(image.width, 0);
          for (int y = 0; y < image.height; ++y) {
            for (int x = 0; x < image.width; ++x) c[x] += px[y * image.width + x];
          }
          return c;
        };
        xrd_images.push_back(columns(image.pixels));
        xrd_own.push_back(columns(own));
      }
    }
  }
  ASSERT_GT(temperature.size(), 30u);
  const double rho = Spearman(temperature, grain);
  std::printf("SEM grain size vs recipe max temperature: Spearman %.3f over %zu materials\n", rho,
              temperature.size());
  EXPECT_GT(rho, 0.5);
  // Each XRD image matches its own structure's pattern better than the other materials'.
  auto corr = [](const std::vector<float>& a, const std::vector<float>& b) {
    double ma = 0, mb = 0;
    for (size_t i = 0; i < a.size(); ++i) ma += a[i] / a.size(), mb += b[i] / b.size();
    double sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      sab += (a[i] - ma) * (b[i] - mb);
      saa += (a[i] - ma) * (a[i] - ma);
      sbb += (b[i] - mb) * (b[i] - mb);
    }
    return sab / std::sqrt(saa * sbb + 1e-30);
  };
  int best_is_own = 0;
  double own_sum = 0;
  for (size_t i = 0; i < xrd_images.size(); ++i) {
    size_t best = 0;
    double best_c = -2;
    for (size_t j = 0; j < xrd_own.size(); ++j) {
      const double c = corr(xrd_images[i], xrd_own[j]);
      if (c > best_c) best_c = c, best = j;
    }
    own_sum += corr(xrd_images[i], xrd_own[i]);
    best_is_own += best == i;
  }
  std::printf("XRD image matches its own structure best in %d of %zu; mean correlation %.3f\n",
              best_is_own, xrd_images.size(), own_sum / xrd_images.size());
  EXPECT_GT(best_is_own, static_cast<int>(0.9 * xrd_images.size()));
}

}  // namespace
}  // namespace matalign::corpus

namespace matalign::corpus {
namespace {

TEST(ManifestSummaryTest, CountsClassesSplitsAndModalities) {
  Record a, b;
  a.id = "a";
  a.material_class = MaterialClass::kNano;
  a.images = {{"x.jpg", "sem"}, {"y.png", "xrd"}};
  a.structure = StructureRef{"s.cif", "", "cif"};
  b.id = "b";
  b.split = Split::kTest;
  const auto counts = CountManifest({a, b});
  EXPECT_EQ(counts.at("class nano"), 1);
  EXPECT_EQ(counts.at("class crystalline"), 1);
  EXPECT_EQ(counts.at("split train"), 1);
  EXPECT_EQ(counts.at("split test"), 1);
  EXPECT_EQ(counts.at("image sem"), 1);
  EXPECT_EQ(counts.at("with structure"), 1);
  EXPECT_EQ(counts.count("with synthesis"), 0u);
}

TEST(ImportDispatchTest, UnknownKindAndMissingInputAreInvalid) {
  EXPECT_EQ(Import("cif", {"x"}, "/tmp/out").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Import("perov5", {}, "/tmp/out").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace matalign::corpus
