// mmtrain: trains the MatAlign encoders and writes model bundles.
//
//   mmtrain train --config configs/tiny.yaml --data CORPUS --out MODELS [--world-size 2]
//   mmtrain train ... --resume            # continue MODELS/runs/latest/checkpoint.pt
//   mmtrain check MODELS/1                # load a bundle, verify it, print its summary
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "bundle/bundle.h"
#include "common/openmp_env.h"
#include "distributed/launch.h"
#include "encoders/model_bundle.h"
#include "train/config.h"
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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (*train) return RunTrain(config_path, options, args);
  if (*check) return RunCheck(bundle_dir);
  return 2;
}
