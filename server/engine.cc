#include "server/engine.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <set>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/status_macros.h"
#include "corpus/manifest.h"
#include "corpus/synth.h"
#include "materials/formula.h"
#include "materials/structure_io.h"
#include "xrd/pattern.h"

namespace matalign::server {
namespace {

namespace fs = std::filesystem;
using index::Modality;
using index::StoredRecord;
using index::StoredVector;

constexpr int kMaxK = 1024;
constexpr int kDefaultK = 10;
constexpr size_t kMaxIdBytes = 512;

v1::Modality ToProto(Modality m) { return static_cast<v1::Modality>(static_cast<int>(m)); }

absl::StatusOr<Modality> FromProto(v1::Modality m, absl::string_view field) {
  switch (m) {
    case v1::MODALITY_STRUCTURE:
      return Modality::kStructure;
    case v1::MODALITY_TEXT:
      return Modality::kText;
    case v1::MODALITY_IMAGE:
      return Modality::kImage;
    case v1::MODALITY_PROPERTY:
      return Modality::kProperty;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": give a modality (STRUCTURE, TEXT, IMAGE or PROPERTY)"));
  }
}

absl::Status Prefixed(absl::string_view prefix, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat(prefix, ": ", s.message()));
}

StructureText ToStructureText(const v1::StructureInput& in) {
  return StructureText{in.content(), in.format(), in.name().empty() ? "structure" : in.name()};
}

ImageBytes ToImageBytes(const v1::ImageInput& in) {
  return ImageBytes{in.data(), in.kind(), in.name().empty() ? "image" : in.name()};
}

absl::Status CheckImageKind(const std::string& kind, absl::string_view field) {
  if (kind == "sem" || kind == "xrd") return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, ".kind is \"", kind, "\": give \"sem\" or \"xrd\""));
}

absl::StatusOr<int> CheckK(uint32_t k) {
  if (k == 0) return kDefaultK;
  if (k > kMaxK) {
    return absl::InvalidArgumentError(absl::StrCat("k is ", k, ": at most ", kMaxK));
  }
  return static_cast<int>(k);
}

index::RecordFilter ToFilter(const v1::Filter& f) {
  index::RecordFilter out;
  out.required_elements.assign(f.required_elements().begin(), f.required_elements().end());
  out.excluded_elements.assign(f.excluded_elements().begin(), f.excluded_elements().end());
  out.routes.assign(f.routes().begin(), f.routes().end());
  out.material_classes.assign(f.material_classes().begin(), f.material_classes().end());
  return out;
}

absl::StatusOr<TargetSpec> ToTarget(const v1::TargetSpec& t) {
  TargetSpec out;
  // Names, values and element symbols are checked by the property encoder's featurization.
  for (const auto& [name, value] : t.properties()) out.properties[name] = value;
  for (const auto& [element, amount] : t.composition()) out.composition[element] = amount;
  if (out.composition.empty() && !t.formula().empty()) {
    auto parsed = materials::ParseFormula(t.formula());
    if (!parsed.ok()) return Prefixed("target.formula", parsed.status());
    out.composition = *std::move(parsed);
  }
  if (out.properties.empty() && out.composition.empty()) {
    return absl::InvalidArgumentError(
        "target: give at least one property (target.properties) or a composition "
        "(target.composition or target.formula)");
  }
  return out;
}

// The record as the store keeps it; InvalidArgument naming the field for bad input.
absl::StatusOr<StoredRecord> ToStored(const v1::Record& in) {
  StoredRecord out;
  corpus::Record& r = out.record;
  if (in.id().empty()) return absl::InvalidArgumentError("record.id is empty");
  if (in.id().size() > kMaxIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("record.id has ", in.id().size(), " bytes: at most ", kMaxIdBytes));
  }
  r.id = in.id();
  if (!in.material_class().empty()) {
    auto c = corpus::ParseMaterialClass(in.material_class());
    if (!c.ok()) return Prefixed("record.material_class", c.status());
    r.material_class = *c;
  }
  for (const auto& [element, amount] : in.composition()) r.composition[element] = amount;
  if (!in.structure().content().empty()) {
    const v1::StructureInput& s = in.structure();
    materials::StructureReadOptions options;
    if (!s.format().empty()) {
      auto format = materials::ParseFormatName(s.format());
      if (!format.ok()) return Prefixed("record.structure.format", format.status());
      options.format = *format;
    } else {
      options.format = materials::DetectFormat(s.name(), s.content());
    }
    auto structure =
        materials::ParseStructure(s.content(), s.name().empty() ? "structure" : s.name(), options);
    if (!structure.ok()) return Prefixed("record.structure", structure.status());
    if (r.composition.empty()) r.composition = materials::CompositionOf(*structure);
    r.structure =
        corpus::StructureRef{"", s.content(), std::string(materials::FormatName(options.format))};
  }
  const v1::Synthesis& syn = in.synthesis();
  if (in.has_synthesis() && (!syn.text().empty() || !syn.route().empty() ||
                             syn.precursors_size() > 0 || !syn.doi().empty())) {
    corpus::SynthesisRecipe recipe;
    recipe.text = syn.text();
    recipe.route = syn.route();
    recipe.precursors.assign(syn.precursors().begin(), syn.precursors().end());
    recipe.temperatures_c.assign(syn.temperatures_c().begin(), syn.temperatures_c().end());
    recipe.times_h.assign(syn.times_h().begin(), syn.times_h().end());
    recipe.atmosphere = syn.atmosphere();
    recipe.doi = syn.doi();
    r.synthesis = std::move(recipe);
  }
  for (int i = 0; i < in.images_size(); ++i) {
    const v1::ImageInput& image = in.images(i);
    const std::string field = absl::StrCat("record.images[", i, "]");
    MATALIGN_RETURN_IF_ERROR(CheckImageKind(image.kind(), field));
    if (image.data().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(field, ".data is empty"));
    }
    std::string name = image.name();
    if (name.empty() || name[0] == '/' || absl::StrContains(name, "..")) {
      name = absl::StrCat("image-", i, ".", image.kind());
    }
    r.images.push_back(corpus::ImageRef{name, image.kind()});
    out.image_bytes.push_back(image.data());
  }
  for (const auto& [name, value] : in.properties()) r.properties[name] = value;
  for (const auto& [name, value] : in.labels()) r.labels[name] = value;
  r.source = in.source();
  absl::Status valid = corpus::ValidateRecord(r);
  if (!valid.ok()) return Prefixed("record", valid);
  return out;
}

// The image a record's image vector embeds: its first SEM micrograph, else its first image.
int ChosenImage(const corpus::Record& r) {
  for (size_t i = 0; i < r.images.size(); ++i) {
    if (r.images[i].kind == "sem") return static_cast<int>(i);
  }
  return r.images.empty() ? -1 : 0;
}

v1::Hit ToHit(const StoredRecord& s, float score) {
  const corpus::Record& r = s.record;
  v1::Hit hit;
  hit.set_id(r.id);
  hit.set_score(score);
  if (r.synthesis) {
    hit.set_route(r.synthesis->route);
    for (const auto& p : r.synthesis->precursors) hit.add_precursors(p);
    hit.set_synthesis_text(r.synthesis->text);
    hit.set_doi(r.synthesis->doi);
  }
  for (const auto& [k, v] : r.properties) (*hit.mutable_properties())[k] = v;
  for (const auto& [k, v] : r.composition) (*hit.mutable_composition())[k] = v;
  hit.set_source(r.source);
  hit.set_material_class(std::string(corpus::MaterialClassName(r.material_class)));
  return hit;
}

// Numeric names first in numeric order, then the rest lexicographically.
bool VersionLess(const std::string& a, const std::string& b) {
  auto numeric = [](const std::string& s) {
    return !s.empty() && s.size() < 19 &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  const bool na = numeric(a), nb = numeric(b);
  if (na && nb) return std::stoll(a) < std::stoll(b);
  if (na != nb) return na;
  return a < b;
}

}  // namespace

absl::Status EngineOptions::Validate() const {
  if (data_dir.empty()) return absl::InvalidArgumentError("data_dir is empty");
  if (models_dir.empty()) return absl::InvalidArgumentError("models_dir is empty");
  if (reembed_chunk < 1) return absl::InvalidArgumentError("reembed_chunk must be >= 1");
  MATALIGN_RETURN_IF_ERROR(runner.Validate());
  return collection.Validate();
}

absl::Status CallContext::Check() const {
  if (cancelled && cancelled()) return absl::CancelledError("the call was cancelled");
  if (absl::Now() >= deadline) return absl::DeadlineExceededError("the call's deadline passed");
  return absl::OkStatus();
}

std::vector<std::string> ListModelVersions(const std::string& models_dir) {
  std::vector<std::string> versions;
  std::error_code ec;
  for (fs::directory_iterator it(models_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;  // hidden: a bundle being copied in
    if (it->is_directory(ec) && fs::exists(it->path() / "manifest.json", ec)) {
      versions.push_back(name);
    }
  }
  std::sort(versions.begin(), versions.end(), VersionLess);
  return versions;
}

struct Engine::Impl {
  EngineOptions options;
  std::unique_ptr<index::Collection> collection;

  mutable absl::Mutex mu;
  std::shared_ptr<ModelRunner> current ABSL_GUARDED_BY(mu);
  // The model being re-embedded into (null unless a reload runs).
  std::shared_ptr<ModelRunner> pending ABSL_GUARDED_BY(mu);
  absl::Time loaded_at ABSL_GUARDED_BY(mu) = absl::InfinitePast();
  std::string reload_state ABSL_GUARDED_BY(mu) = "idle";
  bool reloading ABSL_GUARDED_BY(mu) = false;
  int64_t reloads ABSL_GUARDED_BY(mu) = 0;
  int64_t reload_failures ABSL_GUARDED_BY(mu) = 0;
  std::set<std::string> failed_versions ABSL_GUARDED_BY(mu);
  std::thread reload_thread ABSL_GUARDED_BY(mu);

  // Writers of records (Ingest, Delete) hold it shared for their whole embed-and-write; the
  // re-embedding worker holds it exclusively while it writes a chunk and while it deletes
  // the previous version, so neither overwrites the other's newer vectors.
  absl::Mutex write_mu;
  std::atomic<bool> stopping{false};

  std::shared_ptr<ModelRunner> Current() const {
    absl::ReaderMutexLock lock(&mu);
    return current;
  }

  // The models new records must be embedded by: the served one, and during a reload the
  // incoming one too.
  std::vector<std::shared_ptr<ModelRunner>> WriteModels() const {
    absl::ReaderMutexLock lock(&mu);
    std::vector<std::shared_ptr<ModelRunner>> out;
    if (current) out.push_back(current);
    if (pending) out.push_back(pending);
    return out;
  }

  // The model whose vectors the collection's index holds now (the served model, or for the
  // instant between the index switch and the model switch, the incoming one).
  std::shared_ptr<ModelRunner> ModelForIndex(const std::string& index_version) const {
    absl::ReaderMutexLock lock(&mu);
    if (pending && pending->version() == index_version) return pending;
    return current;
  }

  // Runs `fn(model)` (embed + search) with the model matching the collection's index, and
  // again if the index switched to another model meanwhile.
  template <typename R, typename Fn>
  absl::StatusOr<R> Consistent(Fn fn) const {
    for (int attempt = 0;; ++attempt) {
      const std::string before = collection->model_version();
      std::shared_ptr<ModelRunner> model = ModelForIndex(before);
      if (model == nullptr) {
        return absl::UnavailableError(absl::StrCat(
            "no model loaded: put a bundle (mmtrain train --out) in ", options.models_dir));
      }
      absl::StatusOr<R> result = fn(*model);
      if (!result.ok()) return result;
      const std::string after = collection->model_version();
      if ((before.empty() || before == model->version()) && after == before) return result;
      if (attempt >= 3) {
        return absl::UnavailableError("the model changed during the call; retry");
      }
    }
  }

  // Embeds every modality of `records` with `model` concurrently (so the encoders batch
  // them); errors[i] is the first failure of record i.
  void EmbedRecords(const ModelRunner& model, std::vector<StoredRecord*>& records,
                    const CallContext& call, std::vector<absl::Status>* errors) const;

  absl::StatusOr<v1::ReloadModelResponse> StartReload(const std::string& version, bool wait);
  absl::Status Reembed(const std::shared_ptr<ModelRunner>& model);
  void FinishReload(std::shared_ptr<ModelRunner> model);
};

void Engine::Impl::EmbedRecords(const ModelRunner& model, std::vector<StoredRecord*>& records,
                                const CallContext& call, std::vector<absl::Status>* errors) const {
  struct Job {
    size_t record = 0;
    Modality modality = Modality::kStructure;
    absl::StatusOr<std::vector<float>> result = absl::UnknownError("not run");
  };
  std::vector<Job> jobs;
  std::vector<TargetSpec> targets(records.size());
  const auto& known = model.target_properties();
  for (size_t i = 0; i < records.size(); ++i) {
    const corpus::Record& r = records[i]->record;
    if (r.structure) jobs.push_back({i, Modality::kStructure});
    if (r.synthesis && !r.synthesis->text.empty()) jobs.push_back({i, Modality::kText});
    if (ChosenImage(r) >= 0) jobs.push_back({i, Modality::kImage});
    for (const auto& [name, value] : r.properties) {
      if (std::find(known.begin(), known.end(), name) != known.end()) {
        targets[i].properties[name] = value;
      }
    }
    targets[i].composition = r.composition;
    if (!targets[i].properties.empty() || !targets[i].composition.empty()) {
      jobs.push_back({i, Modality::kProperty});
    }
  }
  absl::BlockingCounter pending(static_cast<int>(jobs.size()));
  for (Job& job : jobs) {
    const StoredRecord& s = *records[job.record];
    auto done = [&job, &pending](absl::StatusOr<std::vector<float>> v) {
      job.result = std::move(v);
      pending.DecrementCount();
    };
    switch (job.modality) {
      case Modality::kStructure:
        model.EmbedStructure(
            StructureText{s.record.structure->text, s.record.structure->format, s.record.id},
            call.deadline, call.cancelled, done);
        break;
      case Modality::kText:
        model.EmbedText(s.record.synthesis->text, call.deadline, call.cancelled, done);
        break;
      case Modality::kImage: {
        const int i = ChosenImage(s.record);
        model.EmbedImage(
            ImageBytes{s.image_bytes[i], s.record.images[i].kind, s.record.images[i].path},
            call.deadline, call.cancelled, done);
        break;
      }
      case Modality::kProperty:
        model.EmbedTarget(targets[job.record], call.deadline, call.cancelled, done);
        break;
    }
  }
  pending.Wait();
  for (Job& job : jobs) {
    absl::Status& error = (*errors)[job.record];
    if (!job.result.ok()) {
      if (error.ok()) {
        error = Prefixed(absl::StrCat(index::ModalityName(job.modality)), job.result.status());
      }
      continue;
    }
    records[job.record]->vectors.push_back(
        StoredVector{job.modality, model.version(), *std::move(job.result)});
  }
}

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Engine::~Engine() {
  impl_->stopping = true;
  std::thread t;
  {
    absl::MutexLock lock(&impl_->mu);
    t = std::move(impl_->reload_thread);
  }
  if (t.joinable()) t.join();
}

absl::StatusOr<std::unique_ptr<Engine>> Engine::Open(const EngineOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  MATALIGN_ASSIGN_OR_RETURN(impl->collection,
                            index::Collection::Open(options.data_dir, options.collection));
  std::unique_ptr<Engine> engine(new Engine(std::move(impl)));
  Impl& d = *engine->impl_;

  const std::vector<std::string> versions = ListModelVersions(options.models_dir);
  const std::string stored = d.collection->model_version();
  std::string version = options.model_version;
  if (version.empty() && !stored.empty() &&
      std::find(versions.begin(), versions.end(), stored) != versions.end()) {
    version = stored;
  }
  if (version.empty() && !versions.empty()) version = versions.back();
  if (version.empty()) {
    std::fprintf(stderr, "mmserver: no model bundle in %s yet; waiting for one\n",
                 options.models_dir.c_str());
    return engine;
  }
  MATALIGN_ASSIGN_OR_RETURN(
      std::shared_ptr<ModelRunner> model,
      ModelRunner::Load((fs::path(options.models_dir) / version).string(), options.runner));
  if (!stored.empty() && stored != model->version()) {
    // The store's vectors belong to a model that is not served: embed everything with this
    // one before answering anything.
    std::fprintf(stderr, "mmserver: store vectors are of model %s; re-embedding with %s\n",
                 stored.c_str(), model->version().c_str());
    {
      absl::MutexLock lock(&d.mu);
      d.pending = model;
      d.reloading = true;
    }
    MATALIGN_RETURN_IF_ERROR(d.Reembed(model));
    d.FinishReload(model);
    return engine;
  }
  absl::MutexLock lock(&d.mu);
  d.current = std::move(model);
  d.loaded_at = absl::Now();
  return engine;
}

const EngineOptions& Engine::options() const { return impl_->options; }

absl::StatusOr<v1::EmbedResponse> Engine::EmbedStructure(const v1::EmbedStructureRequest& request,
                                                         const CallContext& call) const {
  if (request.structure().content().empty()) {
    return absl::InvalidArgumentError("structure.content is empty");
  }
  std::shared_ptr<ModelRunner> model = impl_->Current();
  if (!model) return absl::UnavailableError("no model loaded");
  MATALIGN_ASSIGN_OR_RETURN(
      std::vector<float> v,
      model->EmbedStructure(ToStructureText(request.structure()), call.deadline, call.cancelled));
  v1::EmbedResponse out;
  out.mutable_vector()->Add(v.begin(), v.end());
  out.set_model_version(model->version());
  return out;
}

absl::StatusOr<v1::EmbedResponse> Engine::EmbedText(const v1::EmbedTextRequest& request,
                                                    const CallContext& call) const {
  if (request.text().empty()) return absl::InvalidArgumentError("text is empty");
  std::shared_ptr<ModelRunner> model = impl_->Current();
  if (!model) return absl::UnavailableError("no model loaded");
  MATALIGN_ASSIGN_OR_RETURN(std::vector<float> v,
                            model->EmbedText(request.text(), call.deadline, call.cancelled));
  v1::EmbedResponse out;
  out.mutable_vector()->Add(v.begin(), v.end());
  out.set_model_version(model->version());
  return out;
}

namespace {

// An XRD pattern rendered as the corpus renders its XRD images.
absl::StatusOr<ImageBytes> RenderXrd(const v1::XrdPatternInput& in) {
  xrd::XrdPattern pattern;
  pattern.two_theta.assign(in.two_theta().begin(), in.two_theta().end());
  pattern.intensity.assign(in.intensity().begin(), in.intensity().end());
  pattern.source = "xrd_pattern";
  const corpus::SynthOptions corpus_images;
  MATALIGN_ASSIGN_OR_RETURN(std::string png, corpus::RenderXrdPng(pattern, corpus_images.xrd_width,
                                                                  corpus_images.xrd_height));
  return ImageBytes{std::move(png), "xrd", "xrd_pattern"};
}

absl::StatusOr<ImageBytes> ImageOf(const v1::EmbedImageRequest& request) {
  if (request.has_xrd_pattern()) return RenderXrd(request.xrd_pattern());
  if (!request.has_image()) {
    return absl::InvalidArgumentError("give image (bytes and kind) or xrd_pattern");
  }
  MATALIGN_RETURN_IF_ERROR(CheckImageKind(request.image().kind(), "image"));
  if (request.image().data().empty()) return absl::InvalidArgumentError("image.data is empty");
  return ToImageBytes(request.image());
}

}  // namespace

absl::StatusOr<v1::EmbedResponse> Engine::EmbedImage(const v1::EmbedImageRequest& request,
                                                     const CallContext& call) const {
  MATALIGN_ASSIGN_OR_RETURN(ImageBytes image, ImageOf(request));
  std::shared_ptr<ModelRunner> model = impl_->Current();
  if (!model) return absl::UnavailableError("no model loaded");
  MATALIGN_ASSIGN_OR_RETURN(std::vector<float> v,
                            model->EmbedImage(image, call.deadline, call.cancelled));
  v1::EmbedResponse out;
  out.mutable_vector()->Add(v.begin(), v.end());
  out.set_model_version(model->version());
  return out;
}

std::vector<v1::IngestResponse> Engine::Ingest(const std::vector<const v1::Record*>& records,
                                               const CallContext& call) {
  Impl& d = *impl_;
  std::vector<v1::IngestResponse> responses(records.size());
  std::vector<absl::Status> errors(records.size());
  std::vector<StoredRecord> stored(records.size());
  std::set<std::string> ids;
  for (size_t i = 0; i < records.size(); ++i) {
    responses[i].set_id(records[i]->id());
    auto s = ToStored(*records[i]);
    if (!s.ok()) {
      errors[i] = s.status();
      continue;
    }
    if (!ids.insert(records[i]->id()).second) {
      errors[i] = absl::InvalidArgumentError(
          absl::StrCat("record.id \"", records[i]->id(), "\" occurs twice in one batch"));
      continue;
    }
    stored[i] = *std::move(s);
  }
  absl::ReaderMutexLock write_lock(&d.write_mu);
  const std::vector<std::shared_ptr<ModelRunner>> models = d.WriteModels();
  if (models.empty()) {
    for (auto& e : errors) {
      if (e.ok()) e = absl::UnavailableError("no model loaded: records cannot be embedded yet");
    }
  }
  std::vector<StoredRecord*> todo;
  for (size_t i = 0; i < records.size(); ++i) {
    if (errors[i].ok()) todo.push_back(&stored[i]);
  }
  std::vector<absl::Status> embed_errors(todo.size());
  for (const auto& model : models) {
    if (todo.empty()) break;
    d.EmbedRecords(*model, todo, call, &embed_errors);
  }
  std::vector<StoredRecord> batch;
  std::vector<size_t> batch_index;
  for (size_t i = 0, t = 0; i < records.size(); ++i) {
    if (!errors[i].ok()) continue;
    const absl::Status& e = embed_errors[t++];
    if (!e.ok()) {
      errors[i] = e;
      continue;
    }
    batch.push_back(std::move(stored[i]));
    batch_index.push_back(i);
  }
  if (!batch.empty()) {
    absl::Status written = call.Check();
    if (written.ok()) written = d.collection->Put(batch).status();
    for (size_t j = 0; j < batch.size(); ++j) {
      const size_t i = batch_index[j];
      if (!written.ok()) {
        errors[i] = written;
        continue;
      }
      responses[i].set_accepted(true);
      responses[i].set_key(batch[j].key);
      std::set<int> seen;
      for (const StoredVector& v : batch[j].vectors) {
        if (seen.insert(static_cast<int>(v.modality)).second) {
          responses[i].add_embedded(ToProto(v.modality));
        }
      }
    }
  }
  for (size_t i = 0; i < records.size(); ++i) {
    if (errors[i].ok()) continue;
    responses[i].set_accepted(false);
    responses[i].set_error(std::string(errors[i].message()));
    responses[i].set_error_code(static_cast<int>(errors[i].code()));
  }
  return responses;
}

absl::StatusOr<v1::GetResponse> Engine::Get(const v1::GetRequest& request) const {
  if (request.id().empty()) return absl::InvalidArgumentError("id is empty");
  const index::RecordStore& store = impl_->collection->store();
  auto key = store.Find(request.id());
  if (!key.ok()) {
    return absl::NotFoundError(absl::StrCat("no record with id \"", request.id(), "\""));
  }
  auto s = store.Get(*key);
  if (absl::IsNotFound(s.status())) {
    return absl::NotFoundError(absl::StrCat("no record with id \"", request.id(), "\""));
  }
  MATALIGN_RETURN_IF_ERROR(s.status());
  const corpus::Record& r = s->record;
  v1::GetResponse out;
  out.set_key(*key);
  v1::Record* o = out.mutable_record();
  o->set_id(r.id);
  if (r.structure) {
    o->mutable_structure()->set_format(r.structure->format);
    if (request.include_raw()) o->mutable_structure()->set_content(r.structure->text);
  }
  if (r.synthesis) {
    v1::Synthesis* syn = o->mutable_synthesis();
    syn->set_text(r.synthesis->text);
    syn->set_route(r.synthesis->route);
    for (const auto& p : r.synthesis->precursors) syn->add_precursors(p);
    for (double t : r.synthesis->temperatures_c) syn->add_temperatures_c(t);
    for (double t : r.synthesis->times_h) syn->add_times_h(t);
    syn->set_atmosphere(r.synthesis->atmosphere);
    syn->set_doi(r.synthesis->doi);
  }
  for (size_t i = 0; i < r.images.size(); ++i) {
    v1::ImageInput* image = o->add_images();
    image->set_kind(r.images[i].kind);
    image->set_name(r.images[i].path);
    if (request.include_raw() && i < s->image_bytes.size()) image->set_data(s->image_bytes[i]);
  }
  for (const auto& [k, v] : r.properties) (*o->mutable_properties())[k] = v;
  for (const auto& [k, v] : r.labels) (*o->mutable_labels())[k] = v;
  for (const auto& [k, v] : r.composition) (*o->mutable_composition())[k] = v;
  o->set_material_class(std::string(corpus::MaterialClassName(r.material_class)));
  o->set_source(r.source);
  const std::string version = impl_->collection->model_version();
  for (const StoredVector& v : s->vectors) {
    if (v.model_version == version) out.add_embedded(ToProto(v.modality));
  }
  return out;
}

absl::StatusOr<v1::DeleteResponse> Engine::Delete(const v1::DeleteRequest& request) {
  if (request.ids().empty()) return absl::InvalidArgumentError("ids is empty");
  std::vector<uint64_t> keys;
  const index::RecordStore& store = impl_->collection->store();
  for (const std::string& id : request.ids()) {
    auto key = store.Find(id);
    if (key.ok()) keys.push_back(*key);
  }
  int64_t deleted = 0;
  if (!keys.empty()) {
    absl::ReaderMutexLock write_lock(&impl_->write_mu);
    MATALIGN_RETURN_IF_ERROR(impl_->collection->Delete(keys, &deleted).status());
  }
  v1::DeleteResponse out;
  out.set_deleted(static_cast<uint32_t>(deleted));
  return out;
}

namespace {

// The hits of one search, read from the store (best first; vanished records are skipped).
absl::StatusOr<std::vector<v1::Hit>> HitsOf(const index::RecordStore& store,
                                            const std::vector<index::Hit>& hits) {
  std::vector<uint64_t> keys;
  for (const index::Hit& h : hits) keys.push_back(h.key);
  index::GetOptions options;
  options.vectors = false;
  auto records = store.MultiGet(keys, options);
  std::vector<v1::Hit> out;
  for (size_t i = 0; i < hits.size(); ++i) {
    if (absl::IsNotFound(records[i].status())) continue;  // deleted since the search
    MATALIGN_RETURN_IF_ERROR(records[i].status());
    out.push_back(ToHit(*records[i], hits[i].score));
  }
  return out;
}

template <typename Response>
absl::StatusOr<Response> SearchVector(const index::Collection& collection, Modality target,
                                      const std::vector<float>& query, int k,
                                      const index::RecordFilter& filter) {
  MATALIGN_ASSIGN_OR_RETURN(
      auto results,
      collection.Search(target, query.data(), 1, static_cast<int>(query.size()), k, filter));
  Response out;
  MATALIGN_ASSIGN_OR_RETURN(std::vector<v1::Hit> hits, HitsOf(collection.store(), results[0]));
  for (v1::Hit& h : hits) *out.add_hits() = std::move(h);
  out.set_model_version(collection.model_version());
  return out;
}

// An empty collection (nothing of `modality` indexed) answers no hits rather than an error.
bool NothingIndexed(const index::Collection& c, Modality m) {
  return c.model_version().empty() || c.IndexSize(m) == 0;
}

}  // namespace

absl::StatusOr<v1::RecommendResponse> Engine::Recommend(const v1::RecommendRequest& request,
                                                        const CallContext& call) const {
  MATALIGN_ASSIGN_OR_RETURN(const int k, CheckK(request.k()));
  MATALIGN_ASSIGN_OR_RETURN(TargetSpec target, ToTarget(request.target()));
  const index::RecordFilter filter = ToFilter(request.filter());
  MATALIGN_RETURN_IF_ERROR(filter.Validate());
  const index::Collection& collection = *impl_->collection;
  return impl_->Consistent<v1::RecommendResponse>(
      [&](const ModelRunner& model) -> absl::StatusOr<v1::RecommendResponse> {
        MATALIGN_ASSIGN_OR_RETURN(std::vector<float> q,
                                  model.EmbedTarget(target, call.deadline, call.cancelled));
        MATALIGN_RETURN_IF_ERROR(call.Check());
        if (NothingIndexed(collection, Modality::kText)) {
          v1::RecommendResponse empty;
          empty.set_model_version(model.version());
          return empty;
        }
        return SearchVector<v1::RecommendResponse>(collection, Modality::kText, q, k, filter);
      });
}

absl::StatusOr<v1::SearchResponse> Engine::Search(const v1::SearchRequest& request,
                                                  const CallContext& call) const {
  MATALIGN_ASSIGN_OR_RETURN(const int k, CheckK(request.k()));
  const index::RecordFilter filter = ToFilter(request.filter());
  MATALIGN_RETURN_IF_ERROR(filter.Validate());
  const index::Collection& collection = *impl_->collection;
  Modality query_modality = Modality::kStructure;
  switch (request.query_case()) {
    case v1::SearchRequest::kStructure:
      if (request.structure().content().empty()) {
        return absl::InvalidArgumentError("structure.content is empty");
      }
      query_modality = Modality::kStructure;
      break;
    case v1::SearchRequest::kText:
      if (request.text().empty()) return absl::InvalidArgumentError("text is empty");
      query_modality = Modality::kText;
      break;
    case v1::SearchRequest::kImage:
      MATALIGN_RETURN_IF_ERROR(CheckImageKind(request.image().kind(), "image"));
      query_modality = Modality::kImage;
      break;
    case v1::SearchRequest::kTarget:
      query_modality = Modality::kProperty;
      break;
    case v1::SearchRequest::kRecordId: {
      MATALIGN_ASSIGN_OR_RETURN(query_modality,
                                FromProto(request.query_modality(), "query_modality"));
      break;
    }
    default:
      return absl::InvalidArgumentError(
          "give a query: structure, text, image, target or record_id");
  }
  Modality target = query_modality;
  if (request.target_modality() != v1::MODALITY_UNSPECIFIED) {
    MATALIGN_ASSIGN_OR_RETURN(target, FromProto(request.target_modality(), "target_modality"));
  }
  if (request.query_case() == v1::SearchRequest::kRecordId) {
    // The stored record's own vector: no model call.
    auto key = collection.store().Find(request.record_id());
    if (!key.ok()) {
      return absl::NotFoundError(absl::StrCat("no record with id \"", request.record_id(), "\""));
    }
    index::GetOptions options;
    options.raw = false;
    for (int attempt = 0; attempt < 3; ++attempt) {
      const std::string version = collection.model_version();
      MATALIGN_ASSIGN_OR_RETURN(StoredRecord s, collection.store().Get(*key, options));
      const StoredVector* query = nullptr;
      for (const StoredVector& v : s.vectors) {
        if (v.modality == query_modality && v.model_version == version) query = &v;
      }
      if (query == nullptr) {
        return absl::FailedPreconditionError(
            absl::StrCat("record \"", request.record_id(), "\" has no ",
                         index::ModalityName(query_modality), " vector"));
      }
      if (NothingIndexed(collection, target)) {
        v1::SearchResponse empty;
        empty.set_model_version(version);
        return empty;
      }
      auto out = SearchVector<v1::SearchResponse>(collection, target, query->values, k, filter);
      if (!out.ok() || collection.model_version() == version) return out;
    }
    return absl::UnavailableError("the model changed during the call; retry");
  }
  std::optional<TargetSpec> spec;
  if (request.query_case() == v1::SearchRequest::kTarget) {
    MATALIGN_ASSIGN_OR_RETURN(spec, ToTarget(request.target()));
  }
  return impl_->Consistent<v1::SearchResponse>(
      [&](const ModelRunner& model) -> absl::StatusOr<v1::SearchResponse> {
        absl::StatusOr<std::vector<float>> q;
        switch (request.query_case()) {
          case v1::SearchRequest::kStructure:
            q = model.EmbedStructure(ToStructureText(request.structure()), call.deadline,
                                     call.cancelled);
            break;
          case v1::SearchRequest::kText:
            q = model.EmbedText(request.text(), call.deadline, call.cancelled);
            break;
          case v1::SearchRequest::kImage:
            q = model.EmbedImage(ToImageBytes(request.image()), call.deadline, call.cancelled);
            break;
          default:
            q = model.EmbedTarget(*spec, call.deadline, call.cancelled);
            break;
        }
        MATALIGN_RETURN_IF_ERROR(q.status());
        MATALIGN_RETURN_IF_ERROR(call.Check());
        if (NothingIndexed(collection, target)) {
          v1::SearchResponse empty;
          empty.set_model_version(model.version());
          return empty;
        }
        return SearchVector<v1::SearchResponse>(collection, target, *q, k, filter);
      });
}

absl::StatusOr<v1::PredictPropertiesResponse> Engine::PredictProperties(
    const v1::PredictPropertiesRequest& request, const CallContext& call) const {
  if (request.structure().content().empty()) {
    return absl::InvalidArgumentError("structure.content is empty");
  }
  std::shared_ptr<ModelRunner> model = impl_->Current();
  if (!model) return absl::UnavailableError("no model loaded");
  using Properties = std::map<std::string, double>;
  MATALIGN_ASSIGN_OR_RETURN(
      Properties p, model->PredictProperties(ToStructureText(request.structure()), call.deadline,
                                             call.cancelled));
  v1::PredictPropertiesResponse out;
  for (const auto& [k, v] : p) (*out.mutable_properties())[k] = v;
  out.set_model_version(model->version());
  return out;
}

absl::StatusOr<v1::ClassifyDefectResponse> Engine::ClassifyDefect(
    const v1::ClassifyDefectRequest& request, const CallContext& call) const {
  if (request.image().data().empty()) return absl::InvalidArgumentError("image.data is empty");
  v1::ImageInput image = request.image();
  if (image.kind().empty()) image.set_kind("sem");
  MATALIGN_RETURN_IF_ERROR(CheckImageKind(image.kind(), "image"));
  std::shared_ptr<ModelRunner> model = impl_->Current();
  if (!model) return absl::UnavailableError("no model loaded");
  MATALIGN_ASSIGN_OR_RETURN(
      DefectPrediction p,
      model->ClassifyDefect(ToImageBytes(image), call.deadline, call.cancelled));
  v1::ClassifyDefectResponse out;
  out.set_label(p.label);
  for (const auto& [k, v] : p.probabilities) (*out.mutable_probabilities())[k] = v;
  out.set_model_version(model->version());
  return out;
}

absl::StatusOr<v1::ModelInfoResponse> Engine::ModelInfo() const {
  std::shared_ptr<ModelRunner> model;
  absl::Time loaded_at;
  {
    absl::ReaderMutexLock lock(&impl_->mu);
    model = impl_->current;
    loaded_at = impl_->loaded_at;
  }
  if (!model) {
    return absl::UnavailableError(
        absl::StrCat("no model loaded: put a bundle in ", impl_->options.models_dir));
  }
  v1::ModelInfoResponse out;
  out.set_model_version(model->version());
  out.set_embed_dim(static_cast<uint32_t>(model->embed_dim()));
  for (const auto& p : model->target_properties()) out.add_property_names(p);
  for (const auto& p : model->predicted_properties()) out.add_predicted_properties(p);
  for (const auto& c : model->defect_classes()) out.add_defect_classes(c);
  out.set_device(model->device());
  out.set_loaded_at(absl::FormatTime(absl::RFC3339_sec, loaded_at, absl::UTCTimeZone()));
  out.set_manifest_json(model->manifest().dump());
  const EngineState s = state();
  out.set_num_records(static_cast<uint64_t>(s.records));
  for (const auto& [name, n] : s.index_sizes) (*out.mutable_index_sizes())[name] = n;
  return out;
}

EngineState Engine::state() const {
  EngineState s;
  {
    absl::ReaderMutexLock lock(&impl_->mu);
    s.model_loaded = impl_->current != nullptr;
    if (impl_->current) {
      s.model_version = impl_->current->version();
      s.device = impl_->current->device();
    }
    s.reload_state = impl_->reload_state;
    s.reloads = impl_->reloads;
    s.reload_failures = impl_->reload_failures;
  }
  s.records = impl_->collection->size();
  for (Modality m : index::kAllModalities) {
    s.index_sizes[std::string(index::ModalityName(m))] = impl_->collection->IndexSize(m);
  }
  return s;
}

std::vector<std::pair<std::string, BatcherStats>> Engine::batcher_stats() const {
  std::shared_ptr<ModelRunner> model = impl_->Current();
  if (!model) return {};
  return model->batcher_stats();
}

absl::Status Engine::Snapshot() { return impl_->collection->Snapshot(); }

absl::StatusOr<v1::ReloadModelResponse> Engine::ReloadModel(const v1::ReloadModelRequest& request) {
  std::string version = request.version();
  if (version.empty()) {
    const std::vector<std::string> versions = ListModelVersions(impl_->options.models_dir);
    if (versions.empty()) {
      return absl::NotFoundError(absl::StrCat("no model bundle in ", impl_->options.models_dir));
    }
    version = versions.back();
  } else if (version.find('/') != std::string::npos || version == "." || version == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat("version \"", version, "\" is not a directory name"));
  }
  return impl_->StartReload(version, request.wait());
}

bool Engine::PollModelsDir() {
  const std::vector<std::string> versions = ListModelVersions(impl_->options.models_dir);
  if (versions.empty()) return false;
  const std::string& newest = versions.back();
  {
    absl::ReaderMutexLock lock(&impl_->mu);
    if (impl_->reloading || impl_->failed_versions.count(newest) > 0) return false;
    if (impl_->current) {
      const std::string& served = impl_->current->version();
      const std::string dir = fs::path(impl_->current->dir()).filename().string();
      if (served == newest || dir == newest || !VersionLess(dir, newest)) return false;
    }
  }
  auto started = impl_->StartReload(newest, /*wait=*/false);
  if (!started.ok()) {
    std::fprintf(stderr, "mmserver: model %s refused: %s\n", newest.c_str(),
                 std::string(started.status().message()).c_str());
    return false;
  }
  return started->state() == "reembedding" || started->state() == "swapped";
}

absl::StatusOr<v1::ReloadModelResponse> Engine::Impl::StartReload(const std::string& version,
                                                                  bool wait) {
  v1::ReloadModelResponse out;
  std::thread previous_thread;
  {
    absl::MutexLock lock(&mu);
    if (reloading) {
      return absl::FailedPreconditionError(
          absl::StrCat("a reload is already running (", reload_state, ")"));
    }
    if (current) {
      out.set_previous_version(current->version());
      if (fs::path(current->dir()).filename().string() == version ||
          current->version() == version) {
        out.set_version(current->version());
        out.set_state("unchanged");
        return out;
      }
    }
    reloading = true;
    reload_state = absl::StrCat("loading ", version);
    previous_thread = std::move(reload_thread);
  }
  if (previous_thread.joinable()) previous_thread.join();
  auto fail = [&](const absl::Status& why) {
    absl::MutexLock lock(&mu);
    reloading = false;
    ++reload_failures;
    failed_versions.insert(version);
    reload_state = absl::StrCat("failed ", version, ": ", why.message());
    return absl::Status(why.code(), absl::StrCat("model ", version, " refused (the served model ",
                                                 "keeps serving): ", why.message()));
  };
  auto loaded =
      ModelRunner::Load((fs::path(options.models_dir) / version).string(), options.runner);
  if (!loaded.ok()) return fail(loaded.status());
  std::shared_ptr<ModelRunner> model = *std::move(loaded);
  out.set_version(model->version());
  auto finished = std::make_shared<absl::Notification>();
  auto result = std::make_shared<absl::Status>();
  {
    absl::MutexLock lock(&mu);
    if (current && current->version() == model->version()) {
      reloading = false;
      reload_state = "idle";
      out.set_state("unchanged");
      return out;
    }
    pending = model;
    reload_state = absl::StrCat("reembedding ", model->version());
    reload_thread = std::thread([this, model, finished, result] {
      absl::Status s = Reembed(model);
      if (s.ok()) {
        FinishReload(model);
      } else {
        absl::MutexLock lock(&mu);
        pending = nullptr;
        reloading = false;
        ++reload_failures;
        failed_versions.insert(model->version());
        reload_state = absl::StrCat("failed ", model->version(), ": ", s.message());
      }
      *result = s;
      finished->Notify();
    });
  }
  if (!wait) {
    out.set_state("reembedding");
    return out;
  }
  finished->WaitForNotification();
  if (!result->ok()) {
    return absl::Status(result->code(), absl::StrCat("reload to ", model->version(),
                                                     " failed: ", result->message()));
  }
  out.set_state("swapped");
  return out;
}

absl::Status Engine::Impl::Reembed(const std::shared_ptr<ModelRunner>& model) {
  const std::string& v = model->version();
  const index::RecordStore& store = collection->store();
  std::vector<uint64_t> keys;
  {
    // Ingests that began before `model` became pending (and embed with the old model only)
    // finish first; every later one embeds with both. So each record is either listed here
    // or written with vectors of `model`.
    absl::MutexLock write_lock(&write_mu);
    MATALIGN_RETURN_IF_ERROR(store.ForEachRecord([&](const StoredRecord& r) {
      keys.push_back(r.key);
      return absl::OkStatus();
    }));
  }
  int64_t problems = 0;
  std::string first_problem;
  for (size_t begin = 0; begin < keys.size(); begin += options.reembed_chunk) {
    if (stopping) return absl::CancelledError("the server is shutting down");
    const size_t end = std::min(keys.size(), begin + options.reembed_chunk);
    std::vector<uint64_t> chunk(keys.begin() + begin, keys.begin() + end);
    auto got = store.MultiGet(chunk);
    std::vector<StoredRecord> records;
    for (auto& r : got) {
      if (!r.ok()) {
        if (absl::IsNotFound(r.status())) continue;  // deleted meanwhile
        return r.status();
      }
      bool has = false;
      for (const StoredVector& sv : r->vectors) has |= sv.model_version == v;
      if (has) continue;  // ingested since the reload began: embedded by both models
      r->vectors.clear();
      records.push_back(*std::move(r));
    }
    std::vector<StoredRecord*> pointers;
    for (StoredRecord& r : records) pointers.push_back(&r);
    std::vector<absl::Status> errors(records.size());
    EmbedRecords(*model, pointers, CallContext{}, &errors);
    absl::MutexLock write_lock(&write_mu);
    index::GetOptions vectors_only;
    vectors_only.raw = false;
    for (size_t i = 0; i < records.size(); ++i) {
      if (!errors[i].ok()) {
        if (problems++ == 0) {
          first_problem = absl::StrCat(records[i].record.id, ": ", errors[i].message());
        }
      }
      if (records[i].vectors.empty()) continue;
      auto now = store.Get(records[i].key, vectors_only);
      if (!now.ok()) continue;  // deleted meanwhile
      bool has = false;
      for (const StoredVector& sv : now->vectors) has |= sv.model_version == v;
      if (has) continue;  // replaced meanwhile, with vectors of both models
      MATALIGN_RETURN_IF_ERROR(collection->PutVectors(records[i].key, records[i].vectors).status());
    }
    absl::MutexLock lock(&mu);
    reload_state = absl::StrCat("reembedding ", v, " (", end, "/", keys.size(), ")");
  }
  if (problems > 0) {
    std::fprintf(stderr, "mmserver: model %s could not embed some inputs of %lld records (%s)\n",
                 v.c_str(), static_cast<long long>(problems), first_problem.c_str());
  }
  return collection->SetModelVersion(v);
}

void Engine::Impl::FinishReload(std::shared_ptr<ModelRunner> model) {
  std::shared_ptr<ModelRunner> old;
  {
    absl::MutexLock lock(&mu);
    old = std::move(current);
    current = std::move(model);
    pending = nullptr;
    loaded_at = absl::Now();
    ++reloads;
    reloading = false;
    reload_state = "idle";
  }
  if (old == nullptr) return;
  const std::string previous = old->version();
  old.reset();  // shuts down once the last request using it finishes
  // Ingests that embedded with both models finish before the old vectors go.
  absl::MutexLock write_lock(&write_mu);
  absl::Status s = collection->DeleteModelVersion(previous);
  if (!s.ok()) {
    std::fprintf(stderr, "mmserver: deleting vectors of model %s: %s\n", previous.c_str(),
                 std::string(s.message()).c_str());
  }
}

}  // namespace matalign::server
