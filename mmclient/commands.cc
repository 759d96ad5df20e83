#include "mmclient/commands.h"

#include <filesystem>
#include <unordered_set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "client/records.h"
#include "client/target.h"
#include "common/file.h"
#include "common/status_macros.h"
#include "corpus/manifest.h"
#include "mmclient/exit_codes.h"
#include "mmclient/format.h"
#include "mmclient/progress.h"

namespace matalign::mmclient {

namespace {

// MATALIGN_ASSIGN_OR_RETURN for local inputs: a failure becomes a usage error.
template <typename T>
absl::StatusOr<T> Local(absl::StatusOr<T> value) {
  if (!value.ok()) return AsUsageError(value.status());
  return value;
}

absl::Status CheckK(uint32_t k) {
  if (k < 1 || k > client::kMaxK) {
    return AsUsageError(absl::InvalidArgumentError(
        absl::StrCat("--k: must be in 1..", client::kMaxK, ", got ", k)));
  }
  return absl::OkStatus();
}

void ReplaceIfGiven(const std::vector<std::string>& flag,
                    google::protobuf::RepeatedPtrField<std::string>* field) {
  if (flag.empty()) return;
  field->Clear();
  for (const std::string& value : flag) {
    if (!value.empty()) field->Add(std::string(value));
  }
}

}  // namespace

absl::StatusOr<client::ClientOptions> MakeClientOptions(const GlobalFlags& flags,
                                                        const GetEnv& getenv) {
  client::ClientOptions options;
  if (!flags.server.empty()) {
    options.server = flags.server;
  } else if (const char* env = getenv("MATALIGN_SERVER"); env != nullptr && *env != '\0') {
    options.server = env;
  }
  options.tls_ca_file = flags.tls_ca;
  options.tls_cert_file = flags.tls_cert;
  options.tls_key_file = flags.tls_key;
  if (!flags.token.empty() && !flags.token_file.empty()) {
    return AsUsageError(absl::InvalidArgumentError("give --token or --token-file, not both"));
  }
  if (!flags.token.empty()) {
    options.token = flags.token;
  } else if (!flags.token_file.empty()) {
    absl::StatusOr<std::string> text = ReadFile(flags.token_file, 64 << 10);
    if (!text.ok()) {
      return AsUsageError(absl::Status(text.status().code(),
                                       absl::StrCat("--token-file: ", text.status().message())));
    }
    const absl::string_view token = absl::StripAsciiWhitespace(*text);
    if (token.empty() || token.find('\n') != absl::string_view::npos) {
      return AsUsageError(absl::InvalidArgumentError(
          absl::StrCat("--token-file: ", flags.token_file, ": expected one token on one line")));
    }
    options.token = std::string(token);
  } else if (const char* env = getenv("MATALIGN_TOKEN"); env != nullptr) {
    options.token = std::string(absl::StripAsciiWhitespace(env));
  }
  if (!(flags.timeout_seconds > 0) || flags.timeout_seconds > 1e7) {
    return AsUsageError(absl::InvalidArgumentError(
        absl::StrCat("--timeout: must be positive seconds, got ", flags.timeout_seconds)));
  }
  options.timeout = absl::Seconds(flags.timeout_seconds);
  if (absl::Status s = options.Validate(); !s.ok()) return AsUsageError(s);
  return options;
}

absl::StatusOr<std::unique_ptr<client::Client>> ConnectClient(
    const client::ClientOptions& options) {
  return Local(client::Client::Connect(options));
}

absl::StatusOr<v1::Modality> ParseModality(absl::string_view name, absl::string_view flag) {
  if (name == "structure") return v1::MODALITY_STRUCTURE;
  if (name == "text") return v1::MODALITY_TEXT;
  if (name == "image") return v1::MODALITY_IMAGE;
  if (name == "property") return v1::MODALITY_PROPERTY;
  return AsUsageError(absl::InvalidArgumentError(absl::StrCat(
      flag, ": unknown modality '", name, "' (expected structure, text, image or property)")));
}

// --- recommend ---------------------------------------------------------------------------

absl::StatusOr<v1::RecommendRequest> BuildRecommendRequest(const RecommendCommand& command) {
  MATALIGN_ASSIGN_OR_RETURN(v1::RecommendRequest request,
                            Local(client::ReadTargetFile(command.target_file)));
  if (command.k.has_value()) {
    MATALIGN_RETURN_IF_ERROR(CheckK(*command.k));
    request.set_k(*command.k);
  }
  return request;
}

absl::Status RunRecommend(client::Client& client, const RecommendCommand& command,
                          std::ostream& out) {
  MATALIGN_ASSIGN_OR_RETURN(v1::RecommendRequest request, BuildRecommendRequest(command));
  MATALIGN_ASSIGN_OR_RETURN(v1::RecommendResponse response, client.Recommend(request));
  if (command.json) {
    out << ToJson(response);
  } else {
    out << "model " << response.model_version() << ", " << response.hits_size() << " hit(s)\n"
        << FormatHitsTable(response.hits());
  }
  return absl::OkStatus();
}

// --- search ------------------------------------------------------------------------------

absl::StatusOr<v1::SearchRequest> BuildSearchRequest(const SearchCommand& command) {
  const int queries = !command.structure_file.empty() + !command.text.empty() +
                      !command.image_file.empty() + !command.target_file.empty() +
                      !command.record_id.empty();
  if (queries != 1) {
    return AsUsageError(absl::InvalidArgumentError(absl::StrCat(
        "search needs exactly one query of --structure, --text, --image, --target, --record; "
        "got ",
        queries)));
  }
  if (!command.query_modality.empty() && command.record_id.empty()) {
    return AsUsageError(absl::InvalidArgumentError("--query-modality needs --record"));
  }
  v1::SearchRequest request;
  if (!command.structure_file.empty()) {
    MATALIGN_ASSIGN_OR_RETURN(*request.mutable_structure(),
                              Local(client::ReadStructureInput(command.structure_file)));
  } else if (!command.text.empty()) {
    request.set_text(command.text);
  } else if (!command.image_file.empty()) {
    MATALIGN_ASSIGN_OR_RETURN(
        *request.mutable_image(),
        Local(client::ReadImageInput(command.image_file, command.image_kind)));
  } else if (!command.target_file.empty()) {
    MATALIGN_ASSIGN_OR_RETURN(v1::RecommendRequest target,
                              Local(client::ReadTargetFile(command.target_file)));
    *request.mutable_target() = target.target();
    *request.mutable_filter() = target.filter();
    request.set_k(target.k());
  } else {
    request.set_record_id(command.record_id);
    if (!command.query_modality.empty()) {
      MATALIGN_ASSIGN_OR_RETURN(v1::Modality m,
                                ParseModality(command.query_modality, "--query-modality"));
      request.set_query_modality(m);
    }
  }
  if (!command.target_modality.empty()) {
    MATALIGN_ASSIGN_OR_RETURN(v1::Modality m, ParseModality(command.target_modality, "--in"));
    request.set_target_modality(m);
  }
  if (command.k.has_value()) {
    MATALIGN_RETURN_IF_ERROR(CheckK(*command.k));
    request.set_k(*command.k);
  }
  v1::Filter* filter = request.mutable_filter();
  ReplaceIfGiven(command.filters.exclude_elements, filter->mutable_excluded_elements());
  ReplaceIfGiven(command.filters.require_elements, filter->mutable_required_elements());
  ReplaceIfGiven(command.filters.routes, filter->mutable_routes());
  ReplaceIfGiven(command.filters.classes, filter->mutable_material_classes());
  return request;
}

absl::Status RunSearch(client::Client& client, const SearchCommand& command, std::ostream& out) {
  MATALIGN_ASSIGN_OR_RETURN(v1::SearchRequest request, BuildSearchRequest(command));
  MATALIGN_ASSIGN_OR_RETURN(v1::SearchResponse response, client.Search(request));
  if (command.json) {
    out << ToJson(response);
  } else {
    out << "model " << response.model_version() << ", " << response.hits_size() << " hit(s)\n"
        << FormatHitsTable(response.hits());
  }
  return absl::OkStatus();
}

// --- embed, predict, classify ------------------------------------------------------------

absl::Status RunEmbed(client::Client& client, const EmbedCommand& command, std::ostream& out) {
  absl::StatusOr<v1::EmbedResponse> response;
  switch (command.what) {
    case EmbedCommand::What::kStructure: {
      v1::EmbedStructureRequest request;
      MATALIGN_ASSIGN_OR_RETURN(
          *request.mutable_structure(),
          Local(client::ReadStructureInput(command.file, command.structure_format)));
      response = client.EmbedStructure(request);
      break;
    }
    case EmbedCommand::What::kText: {
      v1::EmbedTextRequest request;
      if (!command.file.empty() && !command.text.empty()) {
        return AsUsageError(
            absl::InvalidArgumentError("embed text: give TEXT or --file, not both"));
      }
      if (!command.file.empty()) {
        MATALIGN_ASSIGN_OR_RETURN(*request.mutable_text(), Local(ReadFile(command.file)));
      } else {
        request.set_text(command.text);
      }
      if (request.text().empty()) {
        return AsUsageError(absl::InvalidArgumentError("embed text: the text is empty"));
      }
      response = client.EmbedText(request);
      break;
    }
    case EmbedCommand::What::kImage: {
      v1::EmbedImageRequest request;
      MATALIGN_ASSIGN_OR_RETURN(*request.mutable_image(),
                                Local(client::ReadImageInput(command.file, command.image_kind)));
      response = client.EmbedImage(request);
      break;
    }
  }
  if (!response.ok()) return response.status();
  out << (command.json ? ToJson(*response) : FormatEmbedding(*response));
  return absl::OkStatus();
}

absl::Status RunPredict(client::Client& client, const std::string& structure_file,
                        const std::string& format, bool json, std::ostream& out) {
  v1::PredictPropertiesRequest request;
  MATALIGN_ASSIGN_OR_RETURN(*request.mutable_structure(),
                            Local(client::ReadStructureInput(structure_file, format)));
  MATALIGN_ASSIGN_OR_RETURN(v1::PredictPropertiesResponse response,
                            client.PredictProperties(request));
  out << (json ? ToJson(response) : FormatPrediction(response));
  return absl::OkStatus();
}

absl::Status RunClassify(client::Client& client, const std::string& image_file,
                         const std::string& kind, bool json, std::ostream& out) {
  v1::ClassifyDefectRequest request;
  MATALIGN_ASSIGN_OR_RETURN(*request.mutable_image(),
                            Local(client::ReadImageInput(image_file, kind)));
  MATALIGN_ASSIGN_OR_RETURN(v1::ClassifyDefectResponse response, client.ClassifyDefect(request));
  out << (json ? ToJson(response) : FormatClassification(response));
  return absl::OkStatus();
}

// --- records and model -------------------------------------------------------------------

absl::Status RunGet(client::Client& client, const std::string& id, bool raw, bool json,
                    std::ostream& out) {
  v1::GetRequest request;
  request.set_id(id);
  request.set_include_raw(raw);
  MATALIGN_ASSIGN_OR_RETURN(v1::GetResponse response, client.Get(request));
  out << (json ? ToJson(response) : FormatRecord(response));
  return absl::OkStatus();
}

absl::Status RunDelete(client::Client& client, const std::vector<std::string>& ids,
                       std::ostream& out) {
  if (ids.empty()) return AsUsageError(absl::InvalidArgumentError("delete: give at least one id"));
  v1::DeleteRequest request;
  for (const std::string& id : ids) request.add_ids(id);
  MATALIGN_ASSIGN_OR_RETURN(v1::DeleteResponse response, client.Delete(request));
  out << "deleted " << response.deleted() << " of " << ids.size() << " id(s)";
  if (response.deleted() < ids.size()) {
    out << " (" << ids.size() - response.deleted() << " did not exist)";
  }
  out << "\n";
  return absl::OkStatus();
}

absl::Status RunInfo(client::Client& client, bool json, std::ostream& out) {
  MATALIGN_ASSIGN_OR_RETURN(v1::ModelInfoResponse response, client.ModelInfo());
  out << (json ? ToJson(response) : FormatModelInfo(response));
  return absl::OkStatus();
}

absl::Status RunHealth(client::Client& client, const std::string& service, std::ostream& out) {
  MATALIGN_ASSIGN_OR_RETURN(std::string status, client.Health(service));
  out << status << "\n";
  if (status != "SERVING") {
    return absl::UnavailableError(absl::StrCat(
        service.empty() ? std::string("the server") : absl::StrCat("service ", service), " is ",
        status));
  }
  return absl::OkStatus();
}

absl::Status RunReload(client::Client& client, const std::string& version, bool wait, bool json,
                       std::ostream& out) {
  v1::ReloadModelRequest request;
  request.set_version(version);
  request.set_wait(wait);
  MATALIGN_ASSIGN_OR_RETURN(v1::ReloadModelResponse response, client.ReloadModel(request));
  if (json) {
    out << ToJson(response);
  } else {
    out << "model " << (response.previous_version().empty() ? "-" : response.previous_version())
        << " -> " << response.version() << ": " << response.state() << "\n";
  }
  return absl::OkStatus();
}

// --- ingest ------------------------------------------------------------------------------

IngestOutcome RunIngest(client::Client& client, const IngestCommand& command, std::ostream& out,
                        std::ostream& err) {
  IngestOutcome outcome;
  IngestSummary& summary = outcome.summary;
  auto fail = [&](absl::Status status) {
    outcome.status = std::move(status);
    return outcome;
  };
  if (command.batch < 1) {
    return fail(AsUsageError(
        absl::InvalidArgumentError(absl::StrCat("--batch: must be >= 1, got ", command.batch))));
  }
  corpus::ManifestReadOptions read;
  read.check_files = true;
  absl::StatusOr<std::vector<corpus::Record>> records =
      corpus::ReadManifest(command.manifest, read);
  if (!records.ok()) return fail(AsUsageError(records.status()));
  summary.total = static_cast<int64_t>(records->size());
  summary.progress_file =
      command.progress_file.empty() ? command.manifest + ".ingested" : command.progress_file;

  std::vector<const corpus::Record*> to_send;
  {
    std::unordered_set<std::string> done;
    if (!command.restart) {
      absl::StatusOr<std::unordered_set<std::string>> ids =
          ProgressFile::ReadIds(summary.progress_file);
      if (!ids.ok()) return fail(AsUsageError(ids.status()));
      done = *std::move(ids);
    }
    for (const corpus::Record& r : *records) {
      if (done.count(r.id)) {
        ++summary.skipped;
      } else {
        to_send.push_back(&r);
      }
    }
  }
  if (summary.skipped > 0) {
    err << "resuming: " << summary.skipped << " of " << summary.total
        << " already acknowledged; --restart to send all\n";
  }
  absl::StatusOr<std::unique_ptr<ProgressFile>> progress =
      ProgressFile::Open(summary.progress_file, command.restart);
  if (!progress.ok()) return fail(AsUsageError(progress.status()));

  const std::string manifest_dir = std::filesystem::path(command.manifest).parent_path().string();
  const size_t max_bytes = static_cast<size_t>(client.options().max_message_bytes);
  ProgressDisplay display(err, static_cast<int64_t>(to_send.size()), command.tty, command.quiet);
  const absl::Time start = absl::Now();

  size_t next = 0;
  auto source = [&](v1::Record* record) -> absl::StatusOr<bool> {
    if (next == to_send.size()) return false;
    absl::StatusOr<v1::Record> converted = client::ToProtoRecord(*to_send[next++], manifest_dir);
    if (!converted.ok()) return AsUsageError(converted.status());
    *record = *std::move(converted);
    // The request adds a few bytes of framing to the record.
    if (record->ByteSizeLong() + 16 > max_bytes) {
      return AsUsageError(absl::InvalidArgumentError(
          absl::StrCat("record '", record->id(), "' is ", record->ByteSizeLong(),
                       " bytes, more than the message limit of ", max_bytes,
                       " bytes (raise the server's max_message_bytes)")));
    }
    return true;
  };
  int64_t acknowledged = 0;
  auto on_response = [&](const v1::IngestResponse& response) -> absl::Status {
    ++acknowledged;
    if (response.accepted()) {
      MATALIGN_RETURN_IF_ERROR((*progress)->Append(response.id()));
    } else {
      const auto code = static_cast<absl::StatusCode>(response.error_code());
      display.Note(out, absl::StrCat("rejected ", response.id(), ": ",
                                     absl::StatusCodeToString(code), ": ", response.error()));
    }
    display.Update(acknowledged);
    return absl::OkStatus();
  };
  client::IngestOptions ingest;
  ingest.max_in_flight = command.batch;
  const client::IngestResult result =
      to_send.empty() ? client::IngestResult{} : client.Ingest(source, on_response, ingest);
  display.Finish();

  summary.sent = result.sent;
  summary.accepted = result.accepted;
  summary.rejected = result.rejected;
  summary.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  out << absl::StrFormat(
      "%s: %lld accepted, %lld rejected, %lld skipped (already acknowledged) of %lld; %lld "
      "sent in %.1f s (%.1f records/s)\n",
      command.manifest, static_cast<long long>(summary.accepted),
      static_cast<long long>(summary.rejected), static_cast<long long>(summary.skipped),
      static_cast<long long>(summary.total), static_cast<long long>(summary.sent), summary.seconds,
      summary.seconds > 0 ? result.acknowledged / summary.seconds : 0.0);
  if (!result.status.ok() && summary.skipped + summary.accepted > 0) {
    err << "progress kept in " << summary.progress_file << ": run the same command to resume\n";
  }
  outcome.status = result.status;
  return outcome;
}

int IngestExitCode(const IngestOutcome& outcome) {
  if (!outcome.status.ok()) return ExitCodeFor(outcome.status);
  return outcome.summary.rejected > 0 ? kExitIngestRejected : kExitOk;
}

}  // namespace matalign::mmclient
