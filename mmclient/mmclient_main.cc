// mmclient: the command-line client of mmserver. Turns flags into the command structs of
// mmclient/commands.h and maps the result to an exit code (mmclient/exit_codes.h); all
// logic lives in the matalign_mmclient library.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "client/target.h"
#include "mmclient/commands.h"
#include "mmclient/exit_codes.h"

int main(int argc, char** argv) {
  using namespace matalign::mmclient;
  CLI::App app{"mmclient: the MatAlign client (recommend syntheses, search, embed, ingest)"};
  app.require_subcommand(1);
  app.footer(kExitCodesHelp);
  // Global options may also come after the subcommand: subcommands pass what they do not
  // know up to here (subcommands created below inherit this).
  app.fallthrough();

  GlobalFlags global;
  app.add_option("--server", global.server,
                 "HOST:PORT of mmserver (default: $MATALIGN_SERVER, else localhost:50051)");
  app.add_option("--tls-ca", global.tls_ca, "PEM CA of the server's certificate (enables TLS)");
  app.add_option("--tls-cert", global.tls_cert, "PEM client certificate (mutual TLS)");
  app.add_option("--tls-key", global.tls_key, "PEM client key (mutual TLS)");
  app.add_option("--token", global.token, "Bearer token (default: $MATALIGN_TOKEN)");
  app.add_option("--token-file", global.token_file, "File holding the bearer token");
  app.add_option("--timeout", global.timeout_seconds,
                 "Seconds per call; for ingest, per acknowledgement")
      ->capture_default_str();
  bool json = false;

  // recommend
  RecommendCommand recommend;
  uint32_t recommend_k = 0;
  CLI::App* cmd_recommend =
      app.add_subcommand("recommend", "Recommend syntheses for target properties/composition");
  cmd_recommend->add_option("--target", recommend.target_file, "Target JSON file")->required();
  CLI::Option* recommend_k_opt =
      cmd_recommend->add_option("--k", recommend_k, "Hits (overrides the file's k)")
          ->check(CLI::Range(1u, matalign::client::kMaxK));
  cmd_recommend->add_flag("--json", json, "Print the response as JSON");

  // ingest
  IngestCommand ingest;
  CLI::App* cmd_ingest =
      app.add_subcommand("ingest", "Stream a manifest's records into the server (resumable)");
  cmd_ingest->add_option("--manifest", ingest.manifest, "manifest.jsonl")->required();
  cmd_ingest->add_option("--batch", ingest.batch, "Records in flight")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd_ingest->add_flag("--restart", ingest.restart,
                       "Send every record, ignoring the progress file");
  cmd_ingest->add_flag("--quiet", ingest.quiet, "No progress display");
  cmd_ingest->add_option("--progress-file", ingest.progress_file,
                         "Accepted ids (default: MANIFEST.ingested)");

  // embed structure | text | image
  EmbedCommand embed;
  CLI::App* cmd_embed = app.add_subcommand("embed", "Embed one input and print the vector");
  cmd_embed->require_subcommand(1);
  CLI::App* cmd_embed_structure = cmd_embed->add_subcommand("structure", "A structure file");
  cmd_embed_structure->add_option("file", embed.file, "CIF, POSCAR or XYZ")->required();
  cmd_embed_structure->add_option("--format", embed.structure_format,
                                  "cif | poscar | xyz (default: from the name or content)");
  cmd_embed_structure->add_flag("--json", json, "Print the response (every value) as JSON");
  CLI::App* cmd_embed_text = cmd_embed->add_subcommand("text", "A synthesis text");
  cmd_embed_text->add_option("text", embed.text, "The text");
  cmd_embed_text->add_option("--file", embed.file, "Read the text from a file");
  cmd_embed_text->add_flag("--json", json, "Print the response (every value) as JSON");
  CLI::App* cmd_embed_image = cmd_embed->add_subcommand("image", "An SEM or XRD image");
  cmd_embed_image->add_option("file", embed.file, "PNG, JPEG or TIFF")->required();
  cmd_embed_image->add_option("--kind", embed.image_kind, "sem | xrd")
      ->capture_default_str()
      ->check(CLI::IsMember({"sem", "xrd"}));
  cmd_embed_image->add_flag("--json", json, "Print the response (every value) as JSON");

  // search
  SearchCommand search;
  uint32_t search_k = 0;
  CLI::App* cmd_search = app.add_subcommand("search", "Nearest materials to one query");
  cmd_search->add_option("--structure", search.structure_file, "Query: a structure file");
  cmd_search->add_option("--text", search.text, "Query: a synthesis text");
  cmd_search->add_option("--image", search.image_file, "Query: an image file (with --kind)");
  cmd_search->add_option("--kind", search.image_kind, "Image kind: sem | xrd")
      ->capture_default_str()
      ->check(CLI::IsMember({"sem", "xrd"}));
  cmd_search->add_option("--target", search.target_file, "Query: a target JSON file");
  cmd_search->add_option("--record", search.record_id, "Query: a stored record's vector");
  cmd_search->add_option("--query-modality", search.query_modality,
                         "With --record: structure | text | image | property");
  cmd_search->add_option("--in", search.target_modality,
                         "Vectors searched: structure | text | image | property (default: the "
                         "query's own)");
  CLI::Option* search_k_opt = cmd_search->add_option("--k", search_k, "Hits (default 10)")
                                  ->check(CLI::Range(1u, matalign::client::kMaxK));
  cmd_search->add_option("--exclude-elements", search.filters.exclude_elements, "e.g. Pb,Cd")
      ->delimiter(',');
  cmd_search->add_option("--require-elements", search.filters.require_elements, "e.g. Ti")
      ->delimiter(',');
  cmd_search->add_option("--routes", search.filters.routes, "e.g. sol-gel,hydrothermal")
      ->delimiter(',');
  cmd_search->add_option("--classes", search.filters.classes, "crystalline,amorphous,nano")
      ->delimiter(',');
  cmd_search->add_flag("--json", json, "Print the response as JSON");

  // predict, classify
  std::string file, format, kind = "sem";
  CLI::App* cmd_predict = app.add_subcommand("predict", "Predict properties of a structure");
  cmd_predict->add_option("file", file, "CIF, POSCAR or XYZ")->required();
  cmd_predict->add_option("--format", format, "cif | poscar | xyz");
  cmd_predict->add_flag("--json", json, "Print the response as JSON");
  CLI::App* cmd_classify = app.add_subcommand("classify", "Classify the defects in an image");
  cmd_classify->add_option("file", file, "PNG, JPEG or TIFF")->required();
  cmd_classify->add_option("--kind", kind, "sem | xrd")
      ->capture_default_str()
      ->check(CLI::IsMember({"sem", "xrd"}));
  cmd_classify->add_flag("--json", json, "Print the response as JSON");

  // get, delete
  std::string id;
  bool raw = false;
  CLI::App* cmd_get = app.add_subcommand("get", "Show a stored record");
  cmd_get->add_option("id", id, "Record id")->required();
  cmd_get->add_flag("--raw", raw, "Include the structure text and image bytes");
  cmd_get->add_flag("--json", json, "Print the response as JSON");
  std::vector<std::string> ids;
  CLI::App* cmd_delete = app.add_subcommand("delete", "Delete records (admin token)");
  cmd_delete->add_option("ids", ids, "Record ids")->required();

  // info, health, reload
  CLI::App* cmd_info = app.add_subcommand("info", "The served model and the store's size");
  cmd_info->add_flag("--json", json, "Print the response as JSON");
  std::string service;
  CLI::App* cmd_health = app.add_subcommand(
      "health", "Print the server's health (SERVING, ...); exit 0 only when serving");
  cmd_health->add_option("--service", service, "Service to check (default: the whole server)");
  std::string version;
  bool wait = false;
  CLI::App* cmd_reload =
      app.add_subcommand("reload", "Load a model bundle and re-embed the store (admin token)");
  cmd_reload->add_option("--version", version, "Bundle version (default: the newest)");
  cmd_reload->add_flag("--wait", wait, "Return when the new model serves");
  cmd_reload->add_flag("--json", json, "Print the response as JSON");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;  // --help is a ParseError with status 0
  }

  auto options = MakeClientOptions(global, [](const char* name) { return std::getenv(name); });
  if (!options.ok()) {
    std::cerr << FormatError(options.status(), "") << "\n";
    return ExitCodeFor(options.status());
  }
  auto client = ConnectClient(*options);
  if (!client.ok()) {
    std::cerr << FormatError(client.status(), options->server) << "\n";
    return ExitCodeFor(client.status());
  }
  matalign::client::Client& c = **client;

  absl::Status status;
  if (cmd_ingest->parsed()) {
    ingest.tty = ::isatty(STDERR_FILENO) == 1;
    IngestOutcome outcome = RunIngest(c, ingest, std::cout, std::cerr);
    if (!outcome.status.ok()) std::cerr << FormatError(outcome.status, options->server) << "\n";
    return IngestExitCode(outcome);
  } else if (cmd_recommend->parsed()) {
    recommend.json = json;
    if (recommend_k_opt->count() > 0) recommend.k = recommend_k;
    status = RunRecommend(c, recommend, std::cout);
  } else if (cmd_search->parsed()) {
    search.json = json;
    if (search_k_opt->count() > 0) search.k = search_k;
    status = RunSearch(c, search, std::cout);
  } else if (cmd_embed->parsed()) {
    embed.json = json;
    embed.what = cmd_embed_structure->parsed() ? EmbedCommand::What::kStructure
                 : cmd_embed_image->parsed()   ? EmbedCommand::What::kImage
                                               : EmbedCommand::What::kText;
    status = RunEmbed(c, embed, std::cout);
  } else if (cmd_predict->parsed()) {
    status = RunPredict(c, file, format, json, std::cout);
  } else if (cmd_classify->parsed()) {
    status = RunClassify(c, file, kind, json, std::cout);
  } else if (cmd_get->parsed()) {
    status = RunGet(c, id, raw, json, std::cout);
  } else if (cmd_delete->parsed()) {
    status = RunDelete(c, ids, std::cout);
  } else if (cmd_info->parsed()) {
    status = RunInfo(c, json, std::cout);
  } else if (cmd_health->parsed()) {
    status = RunHealth(c, service, std::cout);
  } else if (cmd_reload->parsed()) {
    status = RunReload(c, version, wait, json, std::cout);
  }
  std::cout.flush();
  if (!status.ok()) std::cerr << FormatError(status, options->server) << "\n";
  return ExitCodeFor(status);
}
