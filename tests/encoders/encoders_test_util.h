// Helpers shared by the encoders tests: tiny model configs, hand-built structures, graphs
// and status matchers.
#ifndef MATALIGN_TESTS_ENCODERS_ENCODERS_TEST_UTIL_H_
#define MATALIGN_TESTS_ENCODERS_ENCODERS_TEST_UTIL_H_

#include <torch/torch.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "encoders/config.h"
#include "encoders/featurize.h"
#include "gtest/gtest.h"
#include "materials/graph.h"
#include "materials/structure.h"

namespace matalign::encoders::testing {

// A model small enough that every test builds it in milliseconds. Valid (Validate() OK).
inline ModelConfig TinyConfig() {
  ModelConfig c;
  c.embed_dim = 8;
  c.graph.layers = 2;
  c.graph.hidden = 8;
  c.graph.num_rbf = 8;
  c.text.layers = 1;
  c.text.heads = 2;
  c.text.hidden = 8;
  c.text.ffn = 16;
  c.text.max_length = 32;
  c.text.vocab_size = 50;
  c.image.depth = 18;
  c.image.base_width = 8;
  c.image.input_size = 32;
  c.image.norm = "group";
  c.property.properties = {"band_gap", "density"};
  c.property.hidden = 8;
  c.heads.properties = {"band_gap"};
  c.heads.defect_classes = {"none", "crack"};
  c.heads.hidden = 8;
  return c;
}

// Passes if `status` has `code` and its message contains every one of `parts`.
inline ::testing::AssertionResult Fails(const absl::Status& status, absl::StatusCode code,
                                        const std::vector<std::string>& parts = {}) {
  if (status.code() != code) {
    return ::testing::AssertionFailure()
           << "expected code " << absl::StatusCodeToString(code) << ", got " << status;
  }
  for (const std::string& part : parts) {
    if (status.message().find(part) == absl::string_view::npos) {
      return ::testing::AssertionFailure() << "message lacks \"" << part << "\": " << status;
    }
  }
  return ::testing::AssertionSuccess();
}

// Rock-salt NaCl, conventional cubic cell (8 sites), a = 5.64 A.
inline materials::Structure RockSaltNaCl() {
  materials::Structure s;
  s.name = "NaCl";
  s.source = "test:NaCl";
  s.lattice = materials::Lattice::FromParameters(5.64, 5.64, 5.64, 90, 90, 90);
  for (const materials::Vec3& f :
       {materials::Vec3{0, 0, 0}, {0.5, 0.5, 0}, {0.5, 0, 0.5}, {0, 0.5, 0.5}}) {
    s.AddFractional(11, f);
  }
  for (const materials::Vec3& f :
       {materials::Vec3{0.5, 0, 0}, {0, 0.5, 0}, {0, 0, 0.5}, {0.5, 0.5, 0.5}}) {
    s.AddFractional(17, f);
  }
  return s;
}

// CsCl (B2), simple cubic cell with 2 sites, a = 4.12 A.
inline materials::Structure CesiumChloride() {
  materials::Structure s;
  s.name = "CsCl";
  s.source = "test:CsCl";
  s.lattice = materials::Lattice::FromParameters(4.12, 4.12, 4.12, 90, 90, 90);
  s.AddFractional(55, {0, 0, 0});
  s.AddFractional(17, {0.5, 0.5, 0.5});
  return s;
}

// A triclinic cell with 6 sites of 4 species at generic positions: no two neighbour
// distances of different site pairs coincide, so the max_neighbors cap does not depend on
// tie-breaking by site index (which would make the graph depend on the site order).
inline materials::Structure LowSymmetryOxide() {
  materials::Structure s;
  s.name = "low-symmetry";
  s.source = "test:low-symmetry";
  s.lattice = materials::Lattice::FromParameters(5.13, 5.71, 6.27, 84.3, 97.1, 101.9);
  s.AddFractional(38, {0.03, 0.07, 0.02});  // Sr
  s.AddFractional(22, {0.52, 0.47, 0.55});  // Ti
  s.AddFractional(8, {0.51, 0.04, 0.49});   // O
  s.AddFractional(8, {0.06, 0.53, 0.46});   // O
  s.AddFractional(8, {0.47, 0.55, 0.04});   // O
  s.AddFractional(26, {0.27, 0.78, 0.81});  // Fe
  return s;
}

// The graph of `structure` with the options `config` prescribes. Fails the test (and
// returns an empty graph) if the structure is invalid or the graph cannot be built.
inline materials::StructureGraph GraphOf(const materials::Structure& structure,
                                         const ModelConfig& config) {
  absl::Status valid = materials::ValidateStructure(structure, materials::StructureLimits{});
  EXPECT_TRUE(valid.ok()) << valid;
  absl::StatusOr<materials::StructureGraph> graph =
      materials::BuildGraph(structure, GraphOptionsFor(config));
  EXPECT_TRUE(graph.ok()) << graph.status();
  return graph.ok() ? *std::move(graph) : materials::StructureGraph{};
}

// Largest absolute elementwise difference of two tensors of the same shape.
inline double MaxAbsDiff(const torch::Tensor& a, const torch::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  if (a.sizes() != b.sizes()) return 1e30;
  if (a.numel() == 0) return 0;
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

// Expects `embeddings` to be [rows, dim] with every row of unit L2 norm.
inline void ExpectUnitRows(const torch::Tensor& embeddings, int64_t rows, int64_t dim) {
  ASSERT_EQ(embeddings.dim(), 2);
  EXPECT_EQ(embeddings.size(0), rows);
  EXPECT_EQ(embeddings.size(1), dim);
  EXPECT_EQ(embeddings.scalar_type(), torch::kFloat);
  torch::Tensor norms = embeddings.norm(2, 1);
  for (int64_t i = 0; i < norms.size(0); ++i) {
    EXPECT_NEAR(norms[i].item<double>(), 1.0, 1e-5) << "row " << i;
  }
  EXPECT_TRUE(torch::isfinite(embeddings).all().item<bool>());
}

}  // namespace matalign::encoders::testing

#endif  // MATALIGN_TESTS_ENCODERS_ENCODERS_TEST_UTIL_H_
