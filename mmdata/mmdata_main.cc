// mmdata: readers and corpus tools for MatAlign. Turns flags into options and calls the
// mmdata library; all logic lives there.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "corpus/importers.h"
#include "corpus/manifest.h"
#include "corpus/recipe_stats.h"
#include "corpus/synth.h"
#include "index/record_store.h"
#include "mmdata/image_tool.h"
#include "mmdata/inspect.h"
#include "mmdata/tokenizer_tool.h"
#include "mmdata/xrd_tool.h"

namespace {

using nlohmann::json;

// Exit status: 1 for a problem with the input (bad content, missing or unreadable file),
// 3 for anything else (e.g. an output that cannot be written); 2 is a bad command line.
int Fail(const absl::Status& status) {
  std::fprintf(stderr, "mmdata: error: %s\n", std::string(status.message()).c_str());
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kResourceExhausted:
      return 1;
    default:
      return 3;
  }
}

// File contents (names, comments) may not be UTF-8: replace invalid bytes rather than throw.
std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void PrintXrd(const json& r) {
  std::printf("%s pattern of %s: %zu points, 2-theta %.2f-%.2f deg",
              r["kind"].get<std::string>().c_str(), r["file"].get<std::string>().c_str(),
              r["points"].get<size_t>(), r["two_theta_min"].get<double>(),
              r["two_theta_max"].get<double>());
  if (r["wavelength"].get<double>() > 0) {
    std::printf(", wavelength %.5f A", r["wavelength"].get<double>());
  }
  std::printf("\nstrongest peaks (2-theta deg: relative height):\n");
  for (const json& p : r["peaks"]) {
    std::printf("  %8.3f: %5.1f\n", p["two_theta"].get<double>(),
                p["relative_height"].get<double>());
  }
  for (const json& o : r["outputs"]) std::printf("wrote %s\n", o.get<std::string>().c_str());
}

}  // namespace

int main(int argc, char** argv) {
  using namespace matalign;
  CLI::App app{"mmdata: MatAlign data tools (structure, text, image and XRD readers)"};
  app.require_subcommand(1);
  bool json_out = false;

  // mmdata inspect
  mmdata::InspectOptions inspect;
  std::string inspect_path, format = "auto", species;
  CLI::App* cmd_inspect = app.add_subcommand(
      "inspect", "Summarize a structure file (CIF, POSCAR/CONTCAR, XYZ, perov5 CSV)");
  cmd_inspect->add_option("file", inspect_path, "Structure file")->required();
  cmd_inspect->add_flag("--json", json_out, "Print one JSON object per structure");
  cmd_inspect->add_option("--format", format, "cif | poscar | xyz | auto")->capture_default_str();
  cmd_inspect->add_option("--block", inspect.read.cif_block, "CIF data block (default: first)");
  cmd_inspect->add_option("--species", species, "POSCAR species for VASP 4 files, e.g. Fe,O");
  cmd_inspect->add_option("--row", inspect.row, "perov5 CSV: 1-based row (default: all)");
  cmd_inspect->add_option("--cutoff", inspect.graph.cutoff, "Neighbour cutoff, Angstrom")
      ->capture_default_str();
  cmd_inspect
      ->add_option("--max-neighbors", inspect.graph.max_neighbors, "Neighbours kept per atom")
      ->capture_default_str();
  cmd_inspect->add_option("--max-atoms", inspect.read.limits.max_atoms, "Atom limit")
      ->capture_default_str();

  // mmdata xrd
  mmdata::XrdToolOptions xrd;
  std::string xrd_path;
  CLI::App* cmd_xrd = app.add_subcommand(
      "xrd", "Simulate a powder XRD pattern from a structure, or read a measured scan");
  cmd_xrd->add_option("file", xrd_path, "Structure (CIF/POSCAR/XYZ) or scan (.xy/.dat/.xrdml)")
      ->required();
  cmd_xrd->add_option("--out", xrd.out_xy, "Write the pattern as two-column .xy");
  cmd_xrd->add_option("--png", xrd.out_png, "Write the pattern rendered as an image (PNG)");
  cmd_xrd->add_option("--peaks", xrd.num_peaks, "Strongest peaks to list")->capture_default_str();
  cmd_xrd->add_option("--wavelength", xrd.simulation.wavelength, "Angstrom (Cu K-alpha1)")
      ->capture_default_str();
  cmd_xrd->add_option("--two-theta-min", xrd.simulation.two_theta_min, "Degrees")
      ->capture_default_str();
  cmd_xrd->add_option("--two-theta-max", xrd.simulation.two_theta_max, "Degrees")
      ->capture_default_str();
  cmd_xrd->add_option("--step", xrd.simulation.step, "Degrees")->capture_default_str();
  cmd_xrd->add_option("--fwhm", xrd.simulation.fwhm, "Peak FWHM, degrees")->capture_default_str();
  cmd_xrd->add_flag("--json", json_out, "Print the summary as JSON");

  // mmdata tokenizer train | encode
  CLI::App* cmd_tok = app.add_subcommand("tokenizer", "SentencePiece BPE tokenizer");
  cmd_tok->require_subcommand(1);
  std::vector<std::string> corpus;
  std::string tok_out, tok_model, tok_text;
  size_t tok_limit = 0;
  text::TokenizerTrainOptions train;
  train.hard_vocab_limit = false;  // a small corpus gets the largest vocabulary it supports
  train.num_threads = static_cast<int>(std::thread::hardware_concurrency());
  text::EncodeOptions encode;
  CLI::App* cmd_train = cmd_tok->add_subcommand("train", "Train a BPE model on a corpus");
  cmd_train
      ->add_option("--corpus", corpus,
                   "Paragraph folder, recipe .jsonl/.json[.xz], or .txt (one text per line)")
      ->required();
  cmd_train->add_option("--vocab", train.vocab_size, "Vocabulary size")->capture_default_str();
  cmd_train->add_option("--out", tok_out, "Output prefix (writes PREFIX.model, PREFIX.vocab)")
      ->required();
  cmd_train->add_option("--limit", tok_limit, "At most this many texts per corpus (0 = all)")
      ->capture_default_str();
  cmd_train->add_option("--threads", train.num_threads, "Trainer threads")->capture_default_str();
  cmd_train->add_flag("--json", json_out, "Print the summary as JSON");
  CLI::App* cmd_encode = cmd_tok->add_subcommand("encode", "Encode a text with a model");
  cmd_encode->add_option("--model", tok_model, "PREFIX.model")->required();
  cmd_encode->add_option("text", tok_text, "Text to encode")->required();
  cmd_encode->add_option("--max-length", encode.max_length, "Tokens, [CLS] included")
      ->capture_default_str();
  cmd_encode->add_flag("--json", json_out, "Print ids and pieces as JSON");

  // mmdata image
  imaging::PreprocessOptions image;
  std::string image_path, image_out;
  bool no_crop = false;
  CLI::App* cmd_image = app.add_subcommand(
      "image", "Decode an image, detect the SEM data bar, and write the model input");
  cmd_image->add_option("file", image_path, "PNG / JPEG / TIFF (8 or 16 bit)")->required();
  cmd_image->add_option("--out", image_out, "Write the preprocessed image (PNG)");
  cmd_image->add_option("--size", image.size, "Output side, pixels")->capture_default_str();
  cmd_image->add_flag("--no-crop-bar", no_crop, "Keep the data bar");
  cmd_image->add_flag("--json", json_out, "Print the summary as JSON");

  // mmdata synth
  corpus::SynthOptions synth;
  std::string synth_images = "sem,xrd", synth_classes = "crystalline,amorphous,nano", synth_holdout;
  bool quiet = false;
  CLI::App* cmd_synth = app.add_subcommand(
      "synth", "Generate the synthetic tri-modal corpus (structures, recipes, SEM, XRD)");
  cmd_synth->add_option("--n", synth.n, "Number of materials")->capture_default_str();
  cmd_synth->add_option("--seed", synth.seed, "Seed (same seed and n: identical output)")
      ->capture_default_str();
  cmd_synth->add_option("--out", synth.out_dir, "Output directory")->required();
  cmd_synth->add_option("--images", synth_images, "Image kinds: sem,xrd | sem | xrd | none")
      ->capture_default_str();
  cmd_synth->add_option("--classes", synth_classes, "Material classes to generate")
      ->capture_default_str();
  cmd_synth->add_option("--holdout-class", synth_holdout, "Put this whole class in test");
  cmd_synth
      ->add_option("--perov5-fraction", synth.perov5_fraction,
                   "Fraction of crystalline materials taken from real perov5 (needs the "
                   "real data)")
      ->capture_default_str();
  cmd_synth->add_option("--recipe-stats", synth.recipe_stats_path,
                        "Recipe statistics JSON (default: data/recipe_stats.json)");
  cmd_synth->add_option("--sem-size", synth.sem_size, "SEM image side, pixels")
      ->capture_default_str();
  cmd_synth->add_option("--threads", synth.threads, "Worker threads (0 = all cores)")
      ->capture_default_str();
  cmd_synth->add_flag("--quiet", quiet, "No progress line");

  // mmdata import
  CLI::App* cmd_import = app.add_subcommand("import", "Import real data into a manifest");
  std::string import_kind, import_out;
  std::vector<std::string> import_inputs;
  corpus::ImportOptions import;
  cmd_import->add_option("kind", import_kind, "perov5 | recipes | paragraphs | sem | xrd")
      ->required()
      ->check(CLI::IsMember({"perov5", "recipes", "paragraphs", "sem", "xrd"}));
  cmd_import->add_option("inputs", import_inputs, "Input file(s) or folder")->required();
  cmd_import->add_option("--out", import_out, "Output directory (manifest.jsonl)")->required();
  cmd_import->add_option("--limit", import.limit, "At most this many records per file (0 = all)")
      ->capture_default_str();

  // mmdata manifest
  CLI::App* cmd_manifest = app.add_subcommand(
      "manifest", "Validate a manifest (every line; bad ones listed with line numbers)");
  std::string manifest_path;
  bool check_files = false;
  cmd_manifest->add_option("file", manifest_path, "manifest.jsonl")->required();
  cmd_manifest->add_flag("--check-files", check_files,
                         "Also check that every referenced file exists");

  // mmdata recipe-stats
  CLI::App* cmd_stats = app.add_subcommand(
      "recipe-stats", "Derive route/precursor statistics from the real text-mined recipes");
  std::string stats_solid, stats_solgel, stats_out;
  cmd_stats->add_option("--solid-state", stats_solid, "solid_state_recipes.jsonl[.xz]")->required();
  cmd_stats->add_option("--sol-gel", stats_solgel, "sol_gel_recipes.json[.xz]")->required();
  cmd_stats->add_option("--out", stats_out, "Output JSON")->required();

  // mmdata store check
  CLI::App* cmd_store = app.add_subcommand("store", "Record store tools");
  cmd_store->require_subcommand(1);
  CLI::App* cmd_store_check = cmd_store->add_subcommand(
      "check",
      "Verify a record store read-only: every record decodes, every raw input and vector it "
      "lists is present, every vector has its model's dimension, nothing is orphaned");
  std::string store_dir;
  int store_max_problems = 20;
  cmd_store_check
      ->add_option("dir", store_dir, "Store directory (or a collection directory holding store/)")
      ->required();
  cmd_store_check->add_option("--max-problems", store_max_problems, "Problems to list")
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help is a ParseError with status 0
  }

  if (cmd_synth->parsed()) {
    synth.sem_images = synth_images.find("sem") != std::string::npos;
    synth.xrd_images = synth_images.find("xrd") != std::string::npos;
    synth.classes.clear();
    for (absl::string_view name : absl::StrSplit(synth_classes, ',', absl::SkipEmpty())) {
      auto c = corpus::ParseMaterialClass(name);
      if (!c.ok()) return Fail(c.status());
      synth.classes.push_back(*c);
    }
    if (!synth_holdout.empty()) {
      auto c = corpus::ParseMaterialClass(synth_holdout);
      if (!c.ok()) return Fail(c.status());
      synth.holdout_class = *c;
    }
    const auto start = std::chrono::steady_clock::now();
    auto last = start;
    if (!quiet) {
      synth.progress = [&](int64_t done, int64_t total) {
        const auto now = std::chrono::steady_clock::now();
        if (done != total && now - last < std::chrono::milliseconds(500)) return;
        last = now;
        const double secs = std::chrono::duration<double>(now - start).count();
        const double rate = done / std::max(secs, 1e-9);
        std::fprintf(stderr, "\rsynth: %lld/%lld materials  %.1f/s  ETA %.0f s   ",
                     static_cast<long long>(done), static_cast<long long>(total), rate,
                     (total - done) / std::max(rate, 1e-9));
        if (done == total) std::fprintf(stderr, "\n");
      };
    }
    auto r = corpus::GenerateCorpus(synth);
    if (!r.ok()) return Fail(r.status());
    std::printf(
        "wrote %lld materials (train %lld, val %lld, test %lld) to %s in %.1f s: "
        "%.1f materials/s, %.1f MB (%.2f MB per 1000)\n",
        static_cast<long long>(r->records), static_cast<long long>(r->train),
        static_cast<long long>(r->val), static_cast<long long>(r->test), r->manifest.c_str(),
        r->seconds, r->records / std::max(r->seconds, 1e-9), r->bytes / 1e6,
        r->bytes / 1e6 / r->records * 1000);
  } else if (cmd_import->parsed()) {
    auto r = corpus::Import(import_kind, import_inputs, import_out, import);
    if (!r.ok()) return Fail(r.status());
    std::printf("imported %zu records into %s (%zu skipped)\n", r->records,
                r->manifest_path.c_str(), r->skipped);
    for (const std::string& why : r->skipped_reasons) std::printf("  skipped: %s\n", why.c_str());
  } else if (cmd_manifest->parsed()) {
    corpus::ManifestReadOptions read;
    read.check_files = check_files;
    auto records = corpus::ReadManifest(manifest_path, read);
    if (!records.ok()) return Fail(records.status());
    std::printf("%s: %zu valid records\n", manifest_path.c_str(), records->size());
    for (const auto& [k, v] : corpus::CountManifest(*records)) {
      std::printf("  %-20s %lld\n", k.c_str(), static_cast<long long>(v));
    }
  } else if (cmd_store_check->parsed()) {
    std::string dir = store_dir;
    if (std::filesystem::is_directory(dir + "/store")) dir += "/store";
    index::RecordStoreOptions o;
    o.read_only = true;
    o.create_if_missing = false;
    auto store = index::RecordStore::Open(dir, o);
    if (!store.ok()) return Fail(store.status());
    auto report = (*store)->Check(store_max_problems);
    if (!report.ok()) return Fail(report.status());
    std::printf(
        "%s: %lld records, %lld raw inputs, %lld vectors; last sequence %llu; model "
        "version '%s'\n",
        dir.c_str(), static_cast<long long>(report->records),
        static_cast<long long>(report->raw_entries), static_cast<long long>(report->vectors),
        static_cast<unsigned long long>((*store)->last_sequence()),
        (*store)->model_version().c_str());
    for (const auto& [version, dims] : (*store)->VectorVersions()) {
      std::printf("  model %s:", version.c_str());
      for (const auto& [m, dim] : dims) {
        std::printf(" %s d=%d", std::string(index::ModalityName(m)).c_str(), dim);
      }
      std::printf("\n");
    }
    if (report->num_problems > 0) {
      for (const auto& p : report->problems) std::printf("problem: %s\n", p.c_str());
      std::fprintf(stderr, "mmdata: error: %lld problem(s) in %s\n",
                   static_cast<long long>(report->num_problems), dir.c_str());
      return 1;
    }
    std::printf("ok\n");
  } else if (cmd_stats->parsed()) {
    auto stats = corpus::DeriveRecipeStats(stats_solid, stats_solgel);
    if (!stats.ok()) return Fail(stats.status());
    corpus::AddAssumedRoutes(*stats);
    if (absl::Status s = corpus::WriteRecipeStats(*stats, stats_out); !s.ok()) return Fail(s);
    std::printf("wrote %s\n", stats_out.c_str());
  } else if (cmd_inspect->parsed()) {
    auto fmt = materials::ParseFormatName(format);
    if (!fmt.ok()) return Fail(fmt.status());
    inspect.read.format = *fmt;
    if (!species.empty()) inspect.read.poscar_species = absl::StrSplit(species, ',');
    auto summaries = mmdata::InspectFile(inspect_path, inspect);
    if (!summaries.ok()) return Fail(summaries.status());
    for (const json& s : *summaries) {
      if (json_out) {
        std::cout << Dump(s) << "\n";
      } else {
        std::cout << mmdata::FormatInspection(s) << (summaries->size() > 1 ? "\n" : "");
      }
    }
  } else if (cmd_xrd->parsed()) {
    auto r = mmdata::RunXrd(xrd_path, xrd);
    if (!r.ok()) return Fail(r.status());
    if (json_out) {
      std::cout << Dump(*r) << "\n";
    } else {
      PrintXrd(*r);
    }
  } else if (cmd_train->parsed()) {
    std::fprintf(stderr, "reading %zu corpus path(s) and training (vocab %d)...\n", corpus.size(),
                 train.vocab_size);
    auto r = mmdata::TrainTokenizerFromCorpus(corpus, tok_limit, tok_out, train);
    if (!r.ok()) return Fail(r.status());
    if (json_out) {
      std::cout << Dump(*r) << "\n";
    } else {
      std::printf("trained on %zu texts (%zu bytes) in %.2f s: vocabulary %d, wrote %s\n",
                  (*r)["texts"].get<size_t>(), (*r)["corpus_bytes"].get<size_t>(),
                  (*r)["seconds"].get<double>(), (*r)["vocab_size"].get<int>(),
                  (*r)["model"].get<std::string>().c_str());
    }
  } else if (cmd_encode->parsed()) {
    auto r = mmdata::EncodeWithModel(tok_model, tok_text, encode);
    if (!r.ok()) return Fail(r.status());
    if (json_out) {
      std::cout << Dump(*r) << "\n";
    } else {
      std::printf("%d tokens%s: %s\n", (*r)["num_tokens"].get<int>(),
                  (*r)["truncated"].get<bool>() ? " (truncated)" : "",
                  absl::StrJoin((*r)["pieces"].get<std::vector<std::string>>(), " ").c_str());
      std::printf("ids: %s\n", absl::StrJoin((*r)["ids"].get<std::vector<int>>(), " ").c_str());
    }
  } else if (cmd_image->parsed()) {
    image.crop_data_bar = !no_crop;
    auto r = mmdata::PrepareImage(image_path, image, image_out);
    if (!r.ok()) return Fail(r.status());
    if (json_out) {
      std::cout << Dump(*r) << "\n";
    } else {
      const json& bar = (*r)["data_bar"];
      std::printf("%s: %dx%d, %d-bit, %d channel(s)\n", image_path.c_str(),
                  (*r)["width"].get<int>(), (*r)["height"].get<int>(), (*r)["bit_depth"].get<int>(),
                  (*r)["channels"].get<int>());
      if (bar["found"].get<bool>()) {
        std::printf("data bar: rows %d-%d (%d rows)%s\n", bar["top_row"].get<int>(),
                    bar["bottom_row"].get<int>(),
                    bar["bottom_row"].get<int>() - bar["top_row"].get<int>() + 1,
                    image.crop_data_bar ? ", cropped" : ", kept");
      } else {
        std::printf("data bar: none found\n");
      }
      std::printf("model input: 1x%dx%d, normalized (x - %.2f) / %.2f\n", image.size, image.size,
                  image.mean, image.stddev);
      if (!image_out.empty()) std::printf("wrote %s\n", image_out.c_str());
    }
  }
  return 0;
}
