// `mmtrain eval`: a trained bundle against one split of a manifest. Embeds every material of
// the split with every encoder, runs the heads, and computes the figures of eval/metrics.h:
// property regression, defect classification, synthesis recommendation from target
// properties, cross-modal retrieval for every modality pair, embedding quality by material
// class, and the cost of the run. WriteEvalReport turns the result into report.json,
// report.md and plots.
#ifndef MATALIGN_TRAIN_EVALUATE_H_
#define MATALIGN_TRAIN_EVALUATE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace matalign::train {

struct EvalOptions {
  // The split evaluated: "train", "val" or "test". Default: "test".
  std::string split = "test";
  // "auto" (CUDA when available), "cpu" or "cuda". Default: "auto".
  std::string device = "auto";
  // Intra-op threads; 0 = hardware threads. Default: 0.
  int threads = 0;
  // Materials per forward pass. Default: 64.
  int batch_size = 64;
  // k of Recall@k (retrieval and recommendation). Default: {1, 5, 10}.
  std::vector<int> recall_ks = {1, 5, 10};
  // k of nDCG@k for recommendation. Default: 10.
  int ndcg_k = 10;
  // Seed of the image choice for materials with several images. Default: 1.
  uint64_t seed = 1;
  // Print progress to stderr. Default: true.
  bool verbose = true;

  absl::Status Validate() const;
};

// The joint-space point of one evaluated material, for the projection plots.
struct EmbeddedMaterial {
  std::string id;
  std::string material_class;  // "crystalline" | "amorphous" | "nano"
  std::string route;           // synthesis route, "" when unknown
  std::vector<float> joint;    // mean of the material's modality embeddings, L2-normalized
};

struct EvalResult {
  // The figures, as written to report.json. Keys (a section is absent when the split has no
  // data for it; undefined figures are null):
  //   "model":  {"dir", "version"}
  //   "data":   {"manifest", "split", "materials", "with_structure", "with_text",
  //              "with_image", "with_target"}
  //   "regression": {"<property>": {"n", "mae", "rmse", "pearson", "spearman", "unit"}}
  //                 property head on the structure embedding, physical units
  //   "defect": {"n", "classes": [...], "accuracy", "precision_macro", "recall_macro",
  //              "f1_macro", "roc_auc_ovr", "per_class_f1": [...], "confusion": [[...]]}
  //              defect head on every labelled SEM image
  //   "recommendation": {"n", "documents", "recall@1", "recall@5", "recall@10", "ndcg@10"}
  //              property encoder (target properties + composition) against every synthesis
  //              text of the split; relevance corpus::GradedRelevance
  //   "retrieval": {"g2t": {"n", "recall@1", "recall@5", "recall@10"}, "t2g", "g2v", "v2g",
  //              "t2v", "v2t", "p2g", "p2t"}   g structure, t text, v image, p target
  //   "embedding": {"<space>": {"n", "silhouette", "davies_bouldin"}} by material class, for
  //              spaces "structure", "text", "image", "joint"
  //   "cost": {"seconds", "peak_rss_mb", "device", "gpu_peak_mb" (CUDA only)}
  nlohmann::json report;
  std::vector<EmbeddedMaterial> materials;
};

// Evaluates the bundle at `bundle_dir` on `options.split` of the manifest `data` (a file, or a
// directory holding manifest.jsonl), using the bundle's tokenizer and normalization.
// Errors: those of LoadModelBundle and LoadDataset; InvalidArgument for bad options;
// FailedPrecondition when the split has no materials.
absl::StatusOr<EvalResult> Evaluate(const std::string& bundle_dir, const std::string& data,
                                    const EvalOptions& options);

// Writes `out_dir`/report.json, report.md (tables of every section) and the plots
// embedding_by_class.{svg,png} and embedding_by_route.{svg,png} (PCA of the joint space),
// recall_at_k.{svg,png} (retrieval and recommendation bars) and, when `training_log` names a
// metrics.jsonl of the run, loss_curves.{svg,png}. Creates `out_dir`. Errors: Internal on I/O.
absl::Status WriteEvalReport(const EvalResult& result, const std::string& training_log,
                             const std::string& out_dir);

}  // namespace matalign::train

#endif  // MATALIGN_TRAIN_EVALUATE_H_
