// mmserver end to end: a real mmserver process on a loopback port picked at run time, a
// real RocksDB and FAISS, tiny trained bundles (tests/integration/prepare.sh), records
// ingested with mmclient or over a gRPC stream, and checks of every API, the error codes,
// auth, TLS, hot reload under load and crash recovery.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/records.h"
#include "corpus/manifest.h"
#include "tests/integration/server_process.h"
#include "tests/test_util.h"

namespace matalign {
namespace {

using ::matalign::testing::CommandResult;
using ::matalign::testing::Context;
using ::matalign::testing::RunCommand;
using ::matalign::testing::ServerProcess;
using ::matalign::testing::SharedData;
using ::matalign::testing::TempDir;

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string error;
    data_ = new SharedData(testing::PrepareSharedData(&error));
    ASSERT_FALSE(data_->dir.empty()) << "prepare.sh failed:\n" << error;
    auto records = corpus::ReadManifest(data_->manifest());
    ASSERT_TRUE(records.ok()) << records.status();
    records_ = new std::vector<corpus::Record>(*std::move(records));
  }
  static void TearDownTestSuite() {
    delete data_;
    delete records_;
  }

  // Starts mmserver on a fresh store with models/1 only (unless `models` is given).
  void StartServer(std::vector<std::string> extra = {}, std::string models = "") {
    if (models.empty()) {
      models = dir_.Join("models");
      std::filesystem::create_directories(models);
      std::filesystem::copy(data_->models() + "/1", models + "/1",
                            std::filesystem::copy_options::recursive);
    }
    models_ = models;
    std::vector<std::string> args = {"--data-dir",
                                     dir_.Join("var"),
                                     "--models-dir",
                                     models,
                                     "--reload-poll-seconds",
                                     "0",
                                     "--threads",
                                     "2"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::string error;
    ASSERT_TRUE(server_.Start(args, dir_.path(), &error)) << error;
    stub_ = server_.Stub();
  }

  v1::Record ProtoRecord(size_t i) const {
    auto r = client::ToProtoRecord((*records_)[i], data_->corpus());
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : v1::Record();
  }

  // Streams records [begin, end) and returns the ids acknowledged as accepted.
  std::vector<std::string> IngestRange(size_t begin, size_t end, grpc::Status* status = nullptr) {
    auto ctx = Context(300);
    auto stream = stub_->Ingest(ctx.get());
    std::vector<std::string> acked;
    std::thread reader([&] {
      v1::IngestResponse response;
      while (stream->Read(&response)) {
        EXPECT_TRUE(response.accepted()) << response.id() << ": " << response.error();
        if (response.accepted()) acked.push_back(response.id());
      }
    });
    for (size_t i = begin; i < end; ++i) {
      v1::IngestRequest request;
      *request.mutable_record() = ProtoRecord(i);
      if (!stream->Write(request)) break;
    }
    stream->WritesDone();
    reader.join();
    grpc::Status s = stream->Finish();
    if (status != nullptr) *status = s;
    EXPECT_TRUE(s.ok()) << s.error_message();
    return acked;
  }

  CommandResult Mmclient(const std::string& args) const {
    return RunCommand(testing::BinaryPath("mmclient") + " --server " + server_.address() + " " +
                      args);
  }

  v1::ModelInfoResponse Info() {
    v1::ModelInfoResponse info;
    auto ctx = Context();
    grpc::Status s = stub_->ModelInfo(ctx.get(), v1::ModelInfoRequest(), &info);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return info;
  }

  static SharedData* data_;
  static std::vector<corpus::Record>* records_;
  TempDir dir_;
  std::string models_;
  ServerProcess server_;
  std::unique_ptr<v1::MatAlign::Stub> stub_;
};

SharedData* ServerTest::data_ = nullptr;
std::vector<corpus::Record>* ServerTest::records_ = nullptr;

TEST_F(ServerTest, MmclientIngestsTheCorpusAndRecommendFindsRecipes) {
  StartServer();
  CommandResult ingest = Mmclient("ingest --manifest " + data_->manifest() + " --progress-file " +
                                  dir_.Join("progress") + " --quiet");
  ASSERT_EQ(ingest.exit_code, 0) << ingest.out;
  const v1::ModelInfoResponse info = Info();
  EXPECT_EQ(info.num_records(), records_->size());
  EXPECT_EQ(info.index_sizes().at("text"), records_->size());
  EXPECT_EQ(info.index_sizes().at("structure"), records_->size());
  EXPECT_EQ(info.model_version(), "1");

  // A second run resumes: nothing is sent again.
  CommandResult again = Mmclient("ingest --manifest " + data_->manifest() + " --progress-file " +
                                 dir_.Join("progress") + " --quiet");
  ASSERT_EQ(again.exit_code, 0) << again.out;

  // Recommend for the properties of a stored material, excluding an element: ranked hits with
  // provenance and properties, none containing the excluded element.
  const corpus::Record& r = (*records_)[3];
  std::string excluded = "O";
  nlohmann::json target = {
      {"properties", r.properties}, {"filters", {{"exclude_elements", {excluded}}}}, {"k", 7}};
  std::ofstream(dir_.Join("target.json")) << target.dump();
  CommandResult rec = Mmclient("recommend --target " + dir_.Join("target.json") + " --json");
  ASSERT_EQ(rec.exit_code, 0) << rec.out;
  auto j = nlohmann::json::parse(rec.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << rec.out;
  ASSERT_EQ(j["hits"].size(), 7u) << rec.out;
  double previous = 2.0;
  for (const auto& hit : j["hits"]) {
    EXPECT_FALSE(hit["synthesis_text"].get<std::string>().empty());
    EXPECT_FALSE(hit["route"].get<std::string>().empty());
    EXPECT_FALSE(hit["source"].get<std::string>().empty());
    EXPECT_FALSE(hit["properties"].empty());
    EXPECT_FALSE(hit["composition"].contains(excluded)) << hit.dump();
    const double score = hit["score"].get<double>();
    EXPECT_LE(score, previous + 1e-6);
    previous = score;
  }
  // The table form names the same best hit.
  CommandResult table = Mmclient("recommend --target " + dir_.Join("target.json"));
  ASSERT_EQ(table.exit_code, 0) << table.out;
  EXPECT_NE(table.out.find(j["hits"][0]["id"].get<std::string>()), std::string::npos) << table.out;
}

TEST_F(ServerTest, RecommendRanksRecipesOfMaterialsWithTheTargetPropertiesFirst) {
  StartServer();
  ASSERT_EQ(IngestRange(0, records_->size()).size(), records_->size());
  // Targets taken from stored materials (their properties and composition): the material's
  // own recipe is among the top 10 of 200 far more often than chance (0.05), and the
  // recommended recipes come from materials with a band gap closer to the target than
  // random recipes'.
  constexpr int kTop = 10;
  double top_error = 0, random_error = 0;
  int n = 0, found = 0;
  for (size_t i = 0; i < records_->size(); i += 5) {
    const corpus::Record& r = (*records_)[i];
    if (r.properties.count("band_gap_ev") == 0) continue;
    const double gap = r.properties.at("band_gap_ev");
    v1::RecommendRequest request;
    for (const auto& [k, v] : r.properties)
      (*request.mutable_target()->mutable_properties())[k] = v;
    for (const auto& [k, v] : r.composition) {
      (*request.mutable_target()->mutable_composition())[k] = v;
    }
    request.set_k(kTop);
    v1::RecommendResponse response;
    auto ctx = Context();
    ASSERT_TRUE(stub_->Recommend(ctx.get(), request, &response).ok());
    ASSERT_EQ(response.hits_size(), kTop);
    for (const v1::Hit& h : response.hits()) {
      top_error += std::abs(h.properties().at("band_gap_ev") - gap) / kTop;
      found += h.id() == r.id;
    }
    for (size_t k = 0; k < kTop; ++k) {
      const corpus::Record& other = (*records_)[(i * 7 + k * 31 + 3) % records_->size()];
      random_error += std::abs(other.properties.at("band_gap_ev") - gap) / kTop;
    }
    ++n;
  }
  ASSERT_GE(n, 30);
  const double recall = static_cast<double>(found) / n;
  const double chance = static_cast<double>(kTop) / records_->size();
  std::printf(
      "own recipe in the top %d: %.3f (chance %.3f); band gap error of the recommended "
      "materials %.3f eV, of random ones %.3f eV (%d targets)\n",
      kTop, recall, chance, top_error / n, random_error / n, n);
  EXPECT_GE(recall, 2 * chance);
  EXPECT_LT(top_error, random_error);
}

TEST_F(ServerTest, SearchPredictClassifyAndGet) {
  StartServer();
  ASSERT_EQ(IngestRange(0, 60).size(), 60u);
  const v1::Record r = ProtoRecord(5);

  // A stored structure finds itself (same input, same vector: score 1).
  v1::SearchRequest search;
  *search.mutable_structure() = r.structure();
  search.set_k(3);
  v1::SearchResponse found;
  auto ctx = Context();
  ASSERT_TRUE(stub_->Search(ctx.get(), search, &found).ok());
  ASSERT_EQ(found.hits_size(), 3);
  EXPECT_EQ(found.hits(0).id(), r.id());
  EXPECT_NEAR(found.hits(0).score(), 1.0, 1e-4);

  // Cross-modal: the record's own text vector against the structure index.
  v1::SearchRequest by_id;
  by_id.set_record_id(r.id());
  by_id.set_query_modality(v1::MODALITY_TEXT);
  by_id.set_target_modality(v1::MODALITY_STRUCTURE);
  by_id.set_k(60);
  v1::SearchResponse cross;
  ctx = Context();
  ASSERT_TRUE(stub_->Search(ctx.get(), by_id, &cross).ok());
  EXPECT_EQ(cross.hits_size(), 60);

  // Properties predicted from the structure, named as ModelInfo says.
  const v1::ModelInfoResponse info = Info();
  v1::PredictPropertiesRequest predict;
  *predict.mutable_structure() = r.structure();
  v1::PredictPropertiesResponse props;
  ctx = Context();
  ASSERT_TRUE(stub_->PredictProperties(ctx.get(), predict, &props).ok());
  ASSERT_EQ(props.properties_size(), info.predicted_properties_size());
  for (const auto& name : info.predicted_properties()) {
    ASSERT_TRUE(props.properties().count(name)) << name;
    EXPECT_TRUE(std::isfinite(props.properties().at(name)));
  }

  // Defect probabilities over every class, summing to 1.
  v1::ClassifyDefectRequest classify;
  for (const auto& image : r.images()) {
    if (image.kind() == "sem") *classify.mutable_image() = image;
  }
  ASSERT_FALSE(classify.image().data().empty());
  v1::ClassifyDefectResponse defect;
  ctx = Context();
  ASSERT_TRUE(stub_->ClassifyDefect(ctx.get(), classify, &defect).ok());
  double sum = 0;
  for (const auto& [name, p] : defect.probabilities()) sum += p;
  EXPECT_NEAR(sum, 1.0, 1e-5);
  EXPECT_EQ(defect.probabilities_size(), info.defect_classes_size());
  EXPECT_TRUE(defect.probabilities().count(defect.label()));

  // Get returns what was ingested.
  v1::GetRequest get;
  get.set_id(r.id());
  get.set_include_raw(true);
  v1::GetResponse got;
  ctx = Context();
  ASSERT_TRUE(stub_->Get(ctx.get(), get, &got).ok());
  EXPECT_EQ(got.record().synthesis().text(), r.synthesis().text());
  EXPECT_EQ(got.record().structure().content(), r.structure().content());
  EXPECT_EQ(got.embedded_size(), 4);

  // mmclient predict and embed agree with the API.
  std::ofstream(dir_.Join("s.cif")) << r.structure().content();
  CommandResult p = Mmclient("predict " + dir_.Join("s.cif"));
  EXPECT_EQ(p.exit_code, 0) << p.out;
  EXPECT_NE(p.out.find(info.predicted_properties(0)), std::string::npos) << p.out;
  CommandResult h = Mmclient("health");
  EXPECT_EQ(h.exit_code, 0) << h.out;
  EXPECT_NE(h.out.find("SERVING"), std::string::npos) << h.out;

  // Delete removes it from searches.
  v1::DeleteRequest del;
  del.add_ids(r.id());
  del.add_ids("no-such-id");
  v1::DeleteResponse deleted;
  ctx = Context();
  ASSERT_TRUE(stub_->Delete(ctx.get(), del, &deleted).ok());
  EXPECT_EQ(deleted.deleted(), 1u);
  ctx = Context();
  ASSERT_TRUE(stub_->Search(ctx.get(), search, &found).ok());
  EXPECT_NE(found.hits(0).id(), r.id());
}

TEST_F(ServerTest, BadInputGetsTheRightCodeAndAMessageAPersonCanActOn) {
  StartServer();
  ASSERT_EQ(IngestRange(0, 20).size(), 20u);

  v1::RecommendRequest unknown;
  (*unknown.mutable_target()->mutable_properties())["colour"] = 1.0;
  v1::RecommendResponse rec;
  auto ctx = Context();
  grpc::Status s = stub_->Recommend(ctx.get(), unknown, &rec);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("colour"), std::string::npos) << s.error_message();
  EXPECT_NE(s.error_message().find("band_gap_ev"), std::string::npos) << s.error_message();

  v1::RecommendRequest empty;
  ctx = Context();
  s = stub_->Recommend(ctx.get(), empty, &rec);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  v1::RecommendRequest big_k;
  big_k.mutable_target()->set_formula("BaTiO3");
  big_k.set_k(5000);
  ctx = Context();
  EXPECT_EQ(stub_->Recommend(ctx.get(), big_k, &rec).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  v1::RecommendRequest bad_formula;
  bad_formula.mutable_target()->set_formula("XxO2");
  ctx = Context();
  s = stub_->Recommend(ctx.get(), bad_formula, &rec);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("Xx"), std::string::npos) << s.error_message();

  v1::EmbedStructureRequest bad_cif;
  bad_cif.mutable_structure()->set_content("data_x\n_cell_length_a 4\n");
  bad_cif.mutable_structure()->set_format("cif");
  v1::EmbedResponse e;
  ctx = Context();
  EXPECT_EQ(stub_->EmbedStructure(ctx.get(), bad_cif, &e).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  v1::EmbedImageRequest bad_image;
  bad_image.mutable_image()->set_data("not an image");
  bad_image.mutable_image()->set_kind("sem");
  ctx = Context();
  EXPECT_EQ(stub_->EmbedImage(ctx.get(), bad_image, &e).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  v1::GetRequest missing;
  missing.set_id("nope");
  v1::GetResponse got;
  ctx = Context();
  EXPECT_EQ(stub_->Get(ctx.get(), missing, &got).error_code(), grpc::StatusCode::NOT_FOUND);

  // A bad record in a stream is rejected with its reason; the others are stored.
  auto sctx = Context();
  auto stream = stub_->Ingest(sctx.get());
  v1::IngestRequest good, bad;
  *good.mutable_record() = ProtoRecord(30);
  *bad.mutable_record() = ProtoRecord(31);
  bad.mutable_record()->mutable_structure()->set_content("garbage");
  bad.mutable_record()->mutable_structure()->set_format("poscar");
  ASSERT_TRUE(stream->Write(bad));
  ASSERT_TRUE(stream->Write(good));
  stream->WritesDone();
  v1::IngestResponse r1, r2;
  ASSERT_TRUE(stream->Read(&r1));
  ASSERT_TRUE(stream->Read(&r2));
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_FALSE(r1.accepted());
  EXPECT_EQ(r1.error_code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_NE(r1.error().find("structure"), std::string::npos) << r1.error();
  EXPECT_TRUE(r2.accepted()) << r2.error();
  EXPECT_EQ(Info().num_records(), 21u);

  // mmclient exit codes scripts rely on.
  std::ofstream(dir_.Join("bad.json")) << R"({"properties": {"colour": 1}})";
  CommandResult c = Mmclient("recommend --target " + dir_.Join("bad.json"));
  EXPECT_EQ(c.exit_code, 3) << c.out;
  EXPECT_NE(c.out.find("band_gap_ev"), std::string::npos) << c.out;
  EXPECT_EQ(Mmclient("get nope").exit_code, 4);
  EXPECT_EQ(RunCommand(testing::BinaryPath("mmclient") + " --server 127.0.0.1:1 --timeout 2 health")
                .exit_code,
            6);
}

TEST_F(ServerTest, FullQueueAnswersResourceExhausted) {
  // One worker and a queue of one: concurrent calls beyond that are refused, never queued
  // without bound; the calls that were taken succeed.
  std::ofstream(dir_.Join("small.yaml"))
      << "rpc_workers: 1\nbatching: {max_queue: 1, max_batch_size: 1}\n";
  StartServer({"--config", dir_.Join("small.yaml")});
  std::atomic<int> ok{0}, exhausted{0}, other{0};
  std::mutex mu;
  std::string first_other;
  std::vector<std::thread> threads;
  const v1::Record r = ProtoRecord(0);
  for (int t = 0; t < 24; ++t) {
    threads.emplace_back([&] {
      auto stub = server_.Stub();
      v1::EmbedStructureRequest req;
      *req.mutable_structure() = r.structure();
      v1::EmbedResponse e;
      auto ctx = Context();
      grpc::Status s = stub->EmbedStructure(ctx.get(), req, &e);
      if (s.ok()) {
        ++ok;
      } else if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
        ++exhausted;
      } else {
        ++other;
        std::lock_guard<std::mutex> lock(mu);
        if (first_other.empty())
          first_other = absl::StrCat(s.error_code(), ": ", s.error_message());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_GT(ok.load(), 0);
  EXPECT_GT(exhausted.load(), 0);
  EXPECT_EQ(other.load(), 0) << first_other;
}

TEST_F(ServerTest, ReloadDuringRequestsFailsNothingAndSwapsEverything) {
  StartServer();
  ASSERT_EQ(IngestRange(0, 100).size(), 100u);
  std::filesystem::copy(data_->models() + "/2", models_ + "/2",
                        std::filesystem::copy_options::recursive);
  std::atomic<bool> stop{false};
  std::atomic<int> calls{0}, failures{0};
  std::mutex mu;
  std::set<std::string> versions;
  std::string first_failure;
  std::vector<std::thread> load;
  const v1::Record r = ProtoRecord(7);
  for (int t = 0; t < 4; ++t) {
    load.emplace_back([&, t] {
      auto stub = server_.Stub();
      int i = 0;
      while (!stop) {
        grpc::Status s;
        std::string version;
        auto ctx = Context();
        if ((t + i) % 3 == 0) {
          v1::RecommendRequest req;
          (*req.mutable_target()->mutable_properties())["band_gap_ev"] = 1.0 + (i % 5);
          v1::RecommendResponse resp;
          s = stub->Recommend(ctx.get(), req, &resp);
          version = resp.model_version();
        } else if ((t + i) % 3 == 1) {
          v1::SearchRequest req;
          req.set_text(r.synthesis().text());
          req.set_target_modality(v1::MODALITY_STRUCTURE);
          v1::SearchResponse resp;
          s = stub->Search(ctx.get(), req, &resp);
          version = resp.model_version();
        } else {
          v1::IngestRequest req;
          *req.mutable_record() = ProtoRecord(100 + (t * 1000 + i) % 100);
          auto stream = stub->Ingest(ctx.get());
          stream->Write(req);
          stream->WritesDone();
          v1::IngestResponse resp;
          if (stream->Read(&resp) && !resp.accepted()) {
            s = grpc::Status(grpc::StatusCode::INTERNAL, resp.error());
          }
          grpc::Status f = stream->Finish();
          if (s.ok()) s = f;
        }
        ++calls;
        ++i;
        std::lock_guard<std::mutex> lock(mu);
        if (!version.empty()) versions.insert(version);
        if (!s.ok()) {
          ++failures;
          if (first_failure.empty()) first_failure = s.error_message();
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  v1::ReloadModelRequest reload;
  reload.set_version("2");
  reload.set_wait(true);
  v1::ReloadModelResponse reloaded;
  auto ctx = Context(300);
  grpc::Status s = stub_->ReloadModel(ctx.get(), reload, &reloaded);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  stop = true;
  for (auto& t : load) t.join();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(reloaded.state(), "swapped");
  EXPECT_EQ(reloaded.previous_version(), "1");
  EXPECT_EQ(failures.load(), 0) << first_failure;
  EXPECT_GT(calls.load(), 10);
  EXPECT_EQ(versions, (std::set<std::string>{"1", "2"}));
  const v1::ModelInfoResponse info = Info();
  EXPECT_EQ(info.model_version(), "2");
  // Every record (the 100 before and those ingested during the reload) is searchable with
  // the new model.
  EXPECT_EQ(info.index_sizes().at("text"), info.num_records());
  std::printf("%d calls during the reload, 0 failed\n", calls.load());
  // The metrics name the new model as served, and only it (gauges refresh
  // every second).
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CommandResult m =
      RunCommand(absl::StrCat("curl -sf http://127.0.0.1:", server_.metrics_port(), "/metrics"));
  EXPECT_NE(m.out.find("matalign_model_info{version=\"2\",device=\"cpu\"} 1"), std::string::npos)
      << m.out;
  EXPECT_EQ(m.out.find("matalign_model_info{version=\"1\""), std::string::npos) << m.out;

  // Broken bundles are refused and the served one keeps serving: one whose manifest names
  // another version, one whose weights do not match their checksums.
  std::filesystem::copy(data_->models() + "/2", models_ + "/3",
                        std::filesystem::copy_options::recursive);
  reload.set_version("3");
  ctx = Context(300);
  s = stub_->ReloadModel(ctx.get(), reload, &reloaded);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_NE(s.error_message().find("version"), std::string::npos) << s.error_message();
  std::filesystem::copy(data_->models() + "/2", models_ + "/4",
                        std::filesystem::copy_options::recursive);
  {
    std::ifstream in(models_ + "/4/manifest.json");
    std::stringstream ss;
    ss << in.rdbuf();
    auto manifest = nlohmann::json::parse(ss.str());
    manifest["version"] = "4";
    std::ofstream(models_ + "/4/manifest.json", std::ios::trunc) << manifest.dump(2);
    std::ofstream(models_ + "/4/text_encoder.pt", std::ios::trunc) << "broken";
  }
  reload.set_version("4");
  ctx = Context(300);
  s = stub_->ReloadModel(ctx.get(), reload, &reloaded);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.error_message().find("text_encoder.pt"), std::string::npos) << s.error_message();
  EXPECT_EQ(Info().model_version(), "2");
}

TEST_F(ServerTest, RestartAfterACrashKeepsEveryAcknowledgedRecord) {
  StartServer();
  // Acknowledged records, then a SIGKILL while more are streaming.
  std::vector<std::string> acked = IngestRange(0, 50);
  ASSERT_EQ(acked.size(), 50u);
  {
    auto ctx = Context(300);
    auto stream = stub_->Ingest(ctx.get());
    for (size_t i = 50; i < 150; ++i) {
      v1::IngestRequest req;
      *req.mutable_record() = ProtoRecord(i);
      stream->Write(req);
    }
    v1::IngestResponse response;
    for (int n = 0; n < 20 && stream->Read(&response); ++n) {
      if (response.accepted()) acked.push_back(response.id());
    }
    server_.Kill();
    ctx->TryCancel();
  }
  ASSERT_GE(acked.size(), 70u);
  std::string error;
  ASSERT_TRUE(server_.Start(
      {"--data-dir", dir_.Join("var"), "--models-dir", models_, "--reload-poll-seconds", "0"},
      dir_.path(), &error))
      << error;
  stub_ = server_.Stub();
  for (const std::string& id : acked) {
    v1::GetRequest get;
    get.set_id(id);
    v1::GetResponse got;
    auto ctx = Context();
    EXPECT_TRUE(stub_->Get(ctx.get(), get, &got).ok()) << id;
  }
  EXPECT_GE(Info().index_sizes().at("text"), acked.size());
  // Graceful stop exits 0.
  EXPECT_EQ(server_.Stop(), 0) << server_.Log();
}

TEST_F(ServerTest, TokensGuardDataAndAdminCallsButNotHealth) {
  std::ofstream(dir_.Join("tokens")) << "# users\nuser-token-1\n";
  std::ofstream(dir_.Join("admin")) << "admin-token-1\n";
  StartServer({"--tokens-file", dir_.Join("tokens"), "--admin-tokens-file", dir_.Join("admin")});
  v1::ModelInfoResponse info;
  auto ctx = Context();
  EXPECT_EQ(stub_->ModelInfo(ctx.get(), {}, &info).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  ctx = Context(60, "wrong");
  EXPECT_EQ(stub_->ModelInfo(ctx.get(), {}, &info).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  ctx = Context(60, "user-token-1");
  EXPECT_TRUE(stub_->ModelInfo(ctx.get(), {}, &info).ok());
  v1::ReloadModelResponse reloaded;
  ctx = Context(60, "user-token-1");
  EXPECT_EQ(stub_->ReloadModel(ctx.get(), {}, &reloaded).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ctx = Context(60, "admin-token-1");
  grpc::Status s = stub_->ReloadModel(ctx.get(), {}, &reloaded);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(reloaded.state(), "unchanged");
  // Streams are checked too.
  ctx = Context();
  auto stream = stub_->Ingest(ctx.get());
  stream->WritesDone();
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);

  EXPECT_EQ(Mmclient("info").exit_code, 5);
  EXPECT_EQ(Mmclient("--token user-token-1 info").exit_code, 0);
  CommandResult h = Mmclient("health");
  EXPECT_EQ(h.exit_code, 0) << h.out;
}

TEST_F(ServerTest, TlsAndMutualTls) {
  // A CA, a server certificate for 127.0.0.1 and a client certificate, made now.
  const std::string d = dir_.path();
  const std::string script = absl::StrCat(
      "cd ", d, " && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca ",
      "-keyout ca.key -out ca.pem && ",
      "openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr",
      " && printf 'subjectAltName=IP:127.0.0.1' > san.ext && ",
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 ",
      "-extfile san.ext -out server.pem && ",
      "openssl req -newkey rsa:2048 -nodes -subj /CN=client -keyout client.key -out client.csr",
      " && openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 ",
      "-out client.pem");
  CommandResult certs = RunCommand(script);
  ASSERT_EQ(certs.exit_code, 0) << certs.out;
  StartServer({"--tls-cert", d + "/server.pem", "--tls-key", d + "/server.key", "--tls-client-ca",
               d + "/ca.pem"});
  const std::string tls = " --tls-ca " + d + "/ca.pem";
  const std::string mtls = tls + " --tls-cert " + d + "/client.pem --tls-key " + d + "/client.key";
  CommandResult ok = Mmclient(mtls + " info");
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  // Without a client certificate, or without TLS, the server cannot be reached.
  EXPECT_EQ(Mmclient(tls + " --timeout 5 info").exit_code, 6);
  EXPECT_EQ(Mmclient("--timeout 5 info").exit_code, 6);
}

TEST_F(ServerTest, MetricsCountRequestsAndHealthzAnswers) {
  StartServer();
  ASSERT_EQ(IngestRange(0, 10).size(), 10u);
  v1::RecommendRequest req;
  req.mutable_target()->set_formula("BaTiO3");
  v1::RecommendResponse resp;
  auto ctx = Context();
  ASSERT_TRUE(stub_->Recommend(ctx.get(), req, &resp).ok());
  // The maintenance loop refreshes gauges each second.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const std::string base = absl::StrCat("curl -sf http://127.0.0.1:", server_.metrics_port());
  CommandResult m = RunCommand(base + "/metrics");
  ASSERT_EQ(m.exit_code, 0) << m.out;
  EXPECT_NE(m.out.find("matalign_requests_total{rpc=\"Recommend\",code=\"OK\"} 1"),
            std::string::npos)
      << m.out;
  EXPECT_NE(m.out.find("matalign_request_duration_seconds_bucket{rpc=\"Recommend\""),
            std::string::npos);
  EXPECT_NE(m.out.find("matalign_index_vectors{modality=\"text\"} 10"), std::string::npos) << m.out;
  EXPECT_NE(m.out.find("matalign_model_info{version=\"1\""), std::string::npos);
  EXPECT_NE(m.out.find("matalign_encoder_batches{encoder=\"text\"}"), std::string::npos);
  CommandResult h = RunCommand(base + "/healthz");
  EXPECT_EQ(h.exit_code, 0) << h.out;
  EXPECT_NE(h.out.find("SERVING"), std::string::npos);
}

TEST_F(ServerTest, StartsWithoutAModelAndPicksUpTheFirstBundle) {
  const std::string models = dir_.Join("empty-models");
  std::filesystem::create_directories(models);
  std::string error;
  ASSERT_TRUE(server_.Start(
      {"--data-dir", dir_.Join("var"), "--models-dir", models, "--reload-poll-seconds", "1"},
      dir_.path(), &error))
      << error;
  stub_ = server_.Stub();
  v1::ModelInfoResponse info;
  auto ctx = Context();
  EXPECT_EQ(stub_->ModelInfo(ctx.get(), {}, &info).error_code(), grpc::StatusCode::UNAVAILABLE);
  // Bundles appear atomically (as mmtrain writes them): copied aside, then renamed.
  std::filesystem::copy(data_->models() + "/1", models + "/.incoming",
                        std::filesystem::copy_options::recursive);
  std::filesystem::rename(models + "/.incoming", models + "/1");
  grpc::Status s;
  for (int i = 0; i < 600; ++i) {
    ctx = Context();
    s = stub_->ModelInfo(ctx.get(), {}, &info);
    if (s.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(s.ok()) << s.error_message() << server_.Log();
  EXPECT_EQ(info.model_version(), "1");
}

}  // namespace
}  // namespace matalign
