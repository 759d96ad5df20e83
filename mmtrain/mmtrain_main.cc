// mmtrain: trains the MatAlign encoders and writes model bundles.
//
//   mmtrain train --config configs/tiny.yaml --data CORPUS --out MODELS [--world-size 2]
//   mmtrain train ... --resume            # continue MODELS/runs/latest/checkpoint.pt
//   mmtrain check MODELS/1                # load a bundle, verify it, print its summary
//   mmtrain eval --model MODELS/1 --data CORPUS --out REPORT    # report.{json,md} + plots
//   mmtrain ablate --config configs/small.yaml --data CORPUS --out REPORT
//   mmtrain bench-real perov5|sem|xrd --train FILE|DIR [--test FILE|DIR] --out REPORT
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "bundle/bundle.h"
#include "common/openmp_env.h"
#include "distributed/launch.h"
#include "encoders/model_bundle.h"
#include "train/ablate.h"
#include "train/bench_real.h"
#include "train/config.h"
#include "train/evaluate.h"
#include "train/trainer.h"

namespace {

// Exit status: 1 for bad input (config, data, a damaged bundle), 2 for a bad command line,
// 3 for anything else.
int Fail(const absl::Status& status) {
  std::fprintf(stderr, "mmtrain: error: %s\n", std::string(status.message()).c_str());
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kDataLoss:
      return 1;
    default:
      return 3;
  }
}

int RunTrain(const std::string& config_path, matalign::train::TrainerOptions options,
             const std::vector<std::string>& argv) {
  absl::StatusOr<matalign::train::TrainConfig> config =
      matalign::train::LoadTrainConfig(config_path);
  if (!config.ok()) return Fail(config.status());

  // The launching process is rank 0 and starts ranks 1..n-1 as copies of itself.
  std::unique_ptr<matalign::distributed::Launcher> launcher;
  if (options.world_size > 1 && options.rendezvous.empty()) {
    matalign::distributed::LaunchOptions launch;
    launch.world_size = options.world_size;
    launch.child_argv = argv;
    launch.child_argv[0] = "/proc/self/exe";
    absl::StatusOr<std::unique_ptr<matalign::distributed::Launcher>> started =
        matalign::distributed::Launcher::Start(launch);
    if (!started.ok()) return Fail(started.status());
    launcher = std::move(*started);
    options.rendezvous = launcher->rendezvous();
    options.rank = 0;
  }
  absl::StatusOr<matalign::train::TrainResult> result = matalign::train::Train(*config, options);
  if (launcher) {
    absl::Status children = launcher->Wait();
    if (result.ok() && !children.ok()) return Fail(children);
  }
  if (!result.ok()) return Fail(result.status());
  if (!result->bundle_dir.empty()) std::printf("%s\n", result->bundle_dir.c_str());
  return 0;
}

int RunCheck(const std::string& dir) {
  absl::StatusOr<std::shared_ptr<matalign::encoders::LoadedModel>> loaded =
      matalign::encoders::LoadModelBundle(dir);
  if (!loaded.ok()) return Fail(loaded.status());
  const auto& m = (*loaded)->manifest;
  int64_t parameters = 0;
  for (const auto& p : (*loaded)->model->parameters()) parameters += p.numel();
  std::printf("bundle %s: version %s, created %s, %lld parameters, d = %d, vocabulary %d\n",
              dir.c_str(), (*loaded)->version.c_str(), m.value("created", "?").c_str(),
              static_cast<long long>(parameters), (*loaded)->config.embed_dim,
              (*loaded)->tokenizer->vocab_size());
  std::printf("metrics: %s\n", m["metrics"].dump().c_str());
  std::printf("ok: checksums, manifest, config and weight shapes verified\n");
  return 0;
}

// Default training log of a bundle MODELS/<version>: MODELS/runs/latest/metrics.jsonl, if the
// run that wrote it is still there.
std::string DefaultTrainingLog(const std::string& bundle_dir) {
  namespace fs = std::filesystem;
  const fs::path log =
      fs::path(bundle_dir).lexically_normal().parent_path() / "runs" / "latest" / "metrics.jsonl";
  std::error_code ec;
  return fs::exists(log, ec) ? log.string() : "";
}

int RunEval(const std::string& bundle_dir, const std::string& data, const std::string& out,
            std::string training_log, const matalign::train::EvalOptions& options) {
  absl::StatusOr<matalign::train::EvalResult> result =
      matalign::train::Evaluate(bundle_dir, data, options);
  if (!result.ok()) return Fail(result.status());
  if (training_log.empty()) training_log = DefaultTrainingLog(bundle_dir);
  absl::Status written = matalign::train::WriteEvalReport(*result, training_log, out);
  if (!written.ok()) return Fail(written);
  std::printf("%s\n", (std::filesystem::path(out) / "report.md").c_str());
  return 0;
}

int RunAblate(const matalign::train::AblateOptions& options) {
  absl::StatusOr<nlohmann::json> report = matalign::train::Ablate(options);
  if (!report.ok()) return Fail(report.status());
  std::printf("%s\n", (std::filesystem::path(options.out) / "report.md").c_str());
  return 0;
}

int RunBenchReal(const std::string& which, const matalign::train::BenchRealOptions& options) {
  absl::StatusOr<nlohmann::json> report = which == "perov5"
                                              ? matalign::train::BenchRealPerov5(options)
                                          : which == "sem" ? matalign::train::BenchRealSem(options)
                                                           : matalign::train::BenchRealXrd(options);
  if (!report.ok()) return Fail(report.status());
  std::printf("%s\n", (std::filesystem::path(options.out) / "report.md").c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  matalign::ReexecWithPassiveOpenMpWait(argv);
  CLI::App app{"mmtrain: trains MatAlign's tri-modal encoders and writes model bundles"};
  app.require_subcommand(1);
  std::vector<std::string> args(argv, argv + argc);

  matalign::train::TrainerOptions options;
  std::string config_path;
  CLI::App* train = app.add_subcommand("train", "train a model and write a bundle to --out");
  train->add_option("--config", config_path, "training config (configs/tiny.yaml, small, base)")
      ->required();
  train->add_option("--data", options.data, "corpus directory (manifest.jsonl) or manifest file")
      ->required();
  train->add_option("--out", options.out, "models directory; the bundle goes to OUT/<version>/")
      ->required();
  train->add_option("--run-dir", options.run_dir,
                    "checkpoint, tokenizer and metrics.jsonl (default OUT/runs/latest)");
  train->add_flag("--resume", options.resume, "continue from RUN_DIR/checkpoint.pt");
  train->add_option("--tokenizer", options.tokenizer,
                    "use this SentencePiece model instead of training one");
  train->add_option("--init-from", options.init_from,
                    "bundle whose weights (matching names and shapes) and tokenizer start the "
                    "model: fine-tuning after pre-training");
  train->add_option("--device", options.device, "auto, cpu or cuda")->default_val("auto");
  train->add_option("--threads", options.threads, "threads per rank (0 = cores / world size)")
      ->default_val(0);
  train
      ->add_option("--world-size", options.world_size,
                   "data-parallel ranks; this process starts the others")
      ->default_val(1);
  train->add_option("--rank", options.rank, "(set by the launcher)")->group("");
  train->add_option("--rendezvous", options.rendezvous, "(set by the launcher)")->group("");
  train->add_option("--stop-after-epochs", options.stop_after_epochs,
                    "stop after N epochs of this invocation (continue with --resume)");
  train->add_option("--log-every", options.log_every, "progress line every N steps (0 = none)")
      ->default_val(1);

  std::string bundle_dir;
  CLI::App* check = app.add_subcommand("check", "load and verify a model bundle");
  check->add_option("bundle", bundle_dir, "bundle directory, e.g. models/1")->required();

  std::string eval_model, eval_data, eval_out, eval_log;
  matalign::train::EvalOptions eval_options;
  CLI::App* eval = app.add_subcommand(
      "eval", "evaluate a bundle on a split: report.json, report.md and plots in --out");
  eval->add_option("--model", eval_model, "bundle directory, e.g. models/1")->required();
  eval->add_option("--data", eval_data, "corpus directory (manifest.jsonl) or manifest file")
      ->required();
  eval->add_option("--out", eval_out, "report directory")->required();
  eval->add_option("--split", eval_options.split, "train, val or test")->capture_default_str();
  eval->add_option("--training-log", eval_log,
                   "metrics.jsonl of the run, for loss curves (default: "
                   "MODEL/../runs/latest/metrics.jsonl when present)");
  eval->add_option("--device", eval_options.device, "auto, cpu or cuda")->capture_default_str();
  eval->add_option("--threads", eval_options.threads, "intra-op threads (0 = all cores)")
      ->capture_default_str();
  eval->add_option("--batch-size", eval_options.batch_size, "materials per forward pass")
      ->capture_default_str();

  matalign::train::AblateOptions ablate_options;
  CLI::App* ablate = app.add_subcommand(
      "ablate", "train and evaluate single-, dual- and tri-modal variants; one table in --out");
  ablate->add_option("--config", ablate_options.config, "training config for every variant")
      ->required();
  ablate->add_option("--data", ablate_options.data, "corpus with train, val and test splits")
      ->required();
  ablate->add_option("--out", ablate_options.out, "report directory")->required();
  ablate->add_option("--epochs", ablate_options.epochs, "override train.epochs (0 = config's)")
      ->capture_default_str();
  ablate
      ->add_option("--variants", ablate_options.variants,
                   "subset of: structure text image structure+text structure+image "
                   "text+image tri-modal generalization (default all)")
      ->delimiter(',');
  ablate
      ->add_option("--train-class", ablate_options.train_class,
                   "generalization run: train on this class, test on the others")
      ->capture_default_str();
  ablate->add_flag("--reuse", ablate_options.reuse,
                   "keep variants already evaluated in --out (continue an interrupted run)");
  ablate->add_option("--device", ablate_options.device, "auto, cpu or cuda")->capture_default_str();
  ablate->add_option("--threads", ablate_options.threads, "intra-op threads (0 = all cores)")
      ->capture_default_str();

  std::string bench_which;
  matalign::train::BenchRealOptions bench_options;
  CLI::App* bench = app.add_subcommand(
      "bench-real", "real-data benchmarks: perov5 (heat_all), sem (NCM micrographs), xrd");
  bench->add_option("benchmark", bench_which, "perov5, sem or xrd")
      ->required()
      ->check(CLI::IsMember({"perov5", "sem", "xrd"}));
  bench
      ->add_option("--train", bench_options.train,
                   "training data: perov5 CSV, SEM folder with labels.csv, XRD scan folder")
      ->required();
  bench->add_option("--test", bench_options.test,
                    "test data of the same format (default: split --train)");
  bench->add_option("--out", bench_options.out, "report directory")->required();
  bench->add_option("--config", bench_options.config,
                    "training config (default: configs/bench-<benchmark>.yaml)");
  bench->add_option("--epochs", bench_options.epochs, "override train.epochs (0 = config's)")
      ->capture_default_str();
  bench->add_option("--max-items", bench_options.max_items, "use at most this many items (0 = all)")
      ->capture_default_str();
  bench->add_option("--folds", bench_options.folds, "cross-validation folds (sem)")
      ->capture_default_str();
  bench->add_option("--seed", bench_options.seed, "seed of splits, folds and training")
      ->capture_default_str();
  bench->add_option("--device", bench_options.device, "auto, cpu or cuda")->capture_default_str();
  bench->add_option("--threads", bench_options.threads, "intra-op threads (0 = all cores)")
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (*train) return RunTrain(config_path, options, args);
  if (*check) return RunCheck(bundle_dir);
  if (*eval) return RunEval(eval_model, eval_data, eval_out, eval_log, eval_options);
  if (*ablate) return RunAblate(ablate_options);
  if (*bench) return RunBenchReal(bench_which, bench_options);
  return 2;
}
