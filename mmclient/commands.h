// The commands of `mmclient`, one function each, so that they run (and are tested)
// without CLI11 or a terminal: mmclient_main.cc only turns flags into these structs.
// Every function returns an absl::Status whose exit code ExitCodeFor gives; problems with
// local input (flags, files) are marked AsUsageError, the server's statuses are passed on
// unchanged. Results go to `out`, progress and notes to `err`.
#ifndef MATALIGN_MMCLIENT_COMMANDS_H_
#define MATALIGN_MMCLIENT_COMMANDS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/client.h"
#include "proto/matalign/v1/matalign.pb.h"

namespace matalign::mmclient {

// The global flags, before they become ClientOptions.
struct GlobalFlags {
  // --server; "" = $MATALIGN_SERVER, else "localhost:50051".
  std::string server;
  // --tls-ca, --tls-cert, --tls-key: PEM files.
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  // --token; "" = the token file, else $MATALIGN_TOKEN, else none.
  std::string token;
  // --token-file: a file holding the token (surrounding whitespace ignored).
  std::string token_file;
  // --timeout, seconds. Default: 60.
  double timeout_seconds = 60;
};

// How the environment is read (std::getenv in the program; a map in tests).
using GetEnv = std::function<const char*(const char* name)>;

// Builds the client's options: the flags, with $MATALIGN_SERVER / $MATALIGN_TOKEN as the
// defaults of --server / --token. Usage errors: --token together with --token-file; an
// unreadable or empty token file, or one with more than one line; a timeout that is not
// positive; anything ClientOptions::Validate rejects.
absl::StatusOr<client::ClientOptions> MakeClientOptions(const GlobalFlags& flags,
                                                        const GetEnv& getenv);

// Connects (client::Client::Connect); its errors (options, PEM files) are usage errors.
absl::StatusOr<std::unique_ptr<client::Client>> ConnectClient(const client::ClientOptions& options);

// Parses "structure" | "text" | "image" | "property" (usage error otherwise; `flag` names
// the flag in the message).
absl::StatusOr<v1::Modality> ParseModality(absl::string_view name, absl::string_view flag);

// The filter flags shared by search (comma lists already split by CLI11).
struct FilterFlags {
  std::vector<std::string> exclude_elements;  // --exclude-elements
  std::vector<std::string> require_elements;  // --require-elements
  std::vector<std::string> routes;            // --routes
  std::vector<std::string> classes;           // --classes
};

// mmclient recommend --target FILE [--k N] [--json]
struct RecommendCommand {
  std::string target_file;
  std::optional<uint32_t> k;  // overrides the file's k
  bool json = false;
};
// Builds the request from the target file (client/target.h) and --k (1..1024).
absl::StatusOr<v1::RecommendRequest> BuildRecommendRequest(const RecommendCommand& command);
absl::Status RunRecommend(client::Client& client, const RecommendCommand& command,
                          std::ostream& out);

// mmclient search (exactly one query) [--in M] [--k N] [filters] [--json]
struct SearchCommand {
  std::string structure_file;  // --structure
  std::string text;            // --text
  std::string image_file;      // --image (with image_kind)
  std::string image_kind = "sem";
  std::string target_file;      // --target: its target spec, and its filters and k as defaults
  std::string record_id;        // --record (with query_modality)
  std::string query_modality;   // --query-modality
  std::string target_modality;  // --in; "" = the query's own
  std::optional<uint32_t> k;
  FilterFlags filters;  // each non-empty list replaces the target file's
  bool json = false;
};
// Builds the request, reading the query's file. Usage errors: not exactly one query,
// --query-modality without --record, unreadable files, an invalid target file, a bad
// modality or k.
absl::StatusOr<v1::SearchRequest> BuildSearchRequest(const SearchCommand& command);
absl::Status RunSearch(client::Client& client, const SearchCommand& command, std::ostream& out);

// mmclient embed structure FILE | text TEXT | text --file F | image FILE --kind K
struct EmbedCommand {
  enum class What { kStructure, kText, kImage };
  What what = What::kText;
  std::string file;  // structure / image file, or the text file of `text --file`
  std::string text;  // `text TEXT`
  std::string image_kind = "sem";
  std::string structure_format;  // "" = from the file name / content
  bool json = false;
};
absl::Status RunEmbed(client::Client& client, const EmbedCommand& command, std::ostream& out);

// mmclient predict FILE [--format F] [--json]
absl::Status RunPredict(client::Client& client, const std::string& structure_file,
                        const std::string& format, bool json, std::ostream& out);
// mmclient classify FILE [--kind sem] [--json]
absl::Status RunClassify(client::Client& client, const std::string& image_file,
                         const std::string& kind, bool json, std::ostream& out);
// mmclient get ID [--raw] [--json]
absl::Status RunGet(client::Client& client, const std::string& id, bool raw, bool json,
                    std::ostream& out);
// mmclient delete ID... ("deleted N of M")
absl::Status RunDelete(client::Client& client, const std::vector<std::string>& ids,
                       std::ostream& out);
// mmclient info [--json]
absl::Status RunInfo(client::Client& client, bool json, std::ostream& out);
// mmclient health [--service S]: prints the status; Unavailable unless it is SERVING, so
// that `mmclient health` exits 0 only for a serving server.
absl::Status RunHealth(client::Client& client, const std::string& service, std::ostream& out);
// mmclient reload [--version V] [--wait] [--json]
absl::Status RunReload(client::Client& client, const std::string& version, bool wait, bool json,
                       std::ostream& out);

// mmclient ingest --manifest M [--batch N] [--restart] [--quiet] [--progress-file F]
struct IngestCommand {
  std::string manifest;
  // Where accepted ids are recorded; "" = "<manifest>.ingested".
  std::string progress_file;
  // Records in flight (sent, not yet acknowledged), at most. Default: 64.
  int batch = 64;
  // Ignore (and empty) the progress file: send every record.
  bool restart = false;
  // No progress display (notes, rejections and the summary are still printed).
  bool quiet = false;
  // Whether `err` is a terminal (a redrawn bar) or not (a line per 10 %).
  bool tty = false;
};

// What an ingest run did.
struct IngestSummary {
  int64_t total = 0;    // records in the manifest
  int64_t skipped = 0;  // already in the progress file, not sent
  int64_t sent = 0;
  int64_t accepted = 0;
  int64_t rejected = 0;  // listed on `out` as "rejected <id>: <CODE>: <reason>"
  double seconds = 0;
  std::string progress_file;
};

// Result of RunIngest: the status decides the exit code; with an OK status and
// summary.rejected > 0 the exit code is kExitIngestRejected.
struct IngestOutcome {
  absl::Status status;
  IngestSummary summary;
};

// Reads and checks the manifest (every line, every referenced file: usage errors), skips
// the ids in the progress file (saying "resuming: <n> of <total> already acknowledged;
// --restart to send all" on `err`), streams the rest with client.Ingest, appending each
// accepted id to the progress file, and prints a summary line on `out`.
IngestOutcome RunIngest(client::Client& client, const IngestCommand& command, std::ostream& out,
                        std::ostream& err);

// The exit code of an ingest: ExitCodeFor(status) if it failed, else 7 if some records
// were rejected, else 0.
int IngestExitCode(const IngestOutcome& outcome);

}  // namespace matalign::mmclient

#endif  // MATALIGN_MMCLIENT_COMMANDS_H_
