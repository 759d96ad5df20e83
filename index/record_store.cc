#include "index/record_store.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "corpus/manifest.h"
#include "nlohmann/json.hpp"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/slice.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"
#include "text/normalize.h"

namespace matalign::index {
namespace {

constexpr char kRecordsCf[] = "records";
constexpr char kRawCf[] = "raw";
constexpr char kVectorsCf[] = "vectors";
constexpr char kChangesCf[] = "changes";
constexpr char kMetaCf[] = "meta";
enum CfIndex { kDefault = 0, kRecords, kRaw, kVectors, kChanges, kMeta, kNumCfs };
constexpr const char* kCfNames[] = {"default", kRecordsCf, kRawCf, kVectorsCf, kChangesCf, kMetaCf};

constexpr char kSchemaKey[] = "schema_version";
constexpr char kModelVersionKey[] = "model_version";
constexpr char kLastSequenceKey[] = "last_sequence";
constexpr char kDimPrefix[] = "dim/";
// Marks a structure or image that had no file name (the stored record needs a path).
constexpr char kInlinePath[] = "(inline)";

// The one place where RocksDB statuses become absl ones.
absl::Status FromRocks(const rocksdb::Status& s, absl::string_view context) {
  if (s.ok()) return absl::OkStatus();
  const std::string msg = absl::StrCat(context, ": ", s.ToString());
  if (s.IsNotFound()) return absl::NotFoundError(msg);
  if (s.IsCorruption()) return absl::DataLossError(msg);
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(msg);
  if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
    return absl::FailedPreconditionError(
        absl::StrCat(msg, " (is another process using this store?)"));
  }
  if (s.IsBusy() || s.IsTryAgain()) return absl::UnavailableError(msg);
  return absl::InternalError(msg);
}

void AppendBigEndian(std::string* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t ReadBigEndian(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string RecordKey(uint64_t key) {
  std::string k;
  AppendBigEndian(&k, key, 8);
  return k;
}
// Raw entry tags: "s" structure, "t" synthesis text, "i<idx>" image idx.
std::string RawKey(uint64_t key, absl::string_view tag) {
  std::string k = RecordKey(key);
  if (!tag.empty() && tag[0] == 'i') {
    k.push_back('i');
    int idx = 0;
    (void)absl::SimpleAtoi(tag.substr(1), &idx);
    AppendBigEndian(&k, static_cast<uint64_t>(idx), 2);
  } else {
    k.append(tag.data(), tag.size());
  }
  return k;
}
std::string VectorPrefix(absl::string_view version) {
  std::string k;
  k.push_back(static_cast<char>(version.size()));
  k.append(version.data(), version.size());
  return k;
}
std::string VectorPrefix(absl::string_view version, Modality m) {
  std::string k = VectorPrefix(version);
  k.push_back(static_cast<char>(m));
  return k;
}
std::string VectorKey(absl::string_view version, Modality m, uint64_t key) {
  std::string k = VectorPrefix(version, m);
  AppendBigEndian(&k, key, 8);
  return k;
}
std::string ChangeKey(uint64_t seq, uint64_t key) {
  std::string k;
  AppendBigEndian(&k, seq, 8);
  AppendBigEndian(&k, key, 8);
  return k;
}
std::string DimKey(absl::string_view version, Modality m) {
  return absl::StrCat(kDimPrefix, version, "/", ModalityName(m));
}
// The smallest string greater than every string starting with `prefix` ("" if none).
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    unsigned char c = static_cast<unsigned char>(prefix.back());
    if (c != 0xff) {
      prefix.back() = static_cast<char>(c + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return prefix;
}

std::string EncodeFloats(const std::vector<float>& v) {
  std::string out(v.size() * sizeof(float), '\0');
  std::memcpy(out.data(), v.data(), out.size());  // x86-64 / aarch64: little-endian
  return out;
}

// What a record's value in the records CF says besides the corpus::Record.
struct RecordMeta {
  corpus::Record record;  // raw texts stripped
  std::vector<std::string> raw_tags;
  std::vector<std::pair<std::string, Modality>> vectors;  // (version, modality)
  std::vector<int> dims;                                  // parallel to vectors
};

std::string EncodeRecordMeta(const RecordMeta& m) {
  nlohmann::json j;
  j["record"] = nlohmann::json::parse(corpus::RecordToJsonLine(m.record));
  j["raw"] = m.raw_tags;
  nlohmann::json vs = nlohmann::json::array();
  for (size_t i = 0; i < m.vectors.size(); ++i) {
    vs.push_back({m.vectors[i].first, static_cast<int>(m.vectors[i].second), m.dims[i]});
  }
  j["vectors"] = std::move(vs);
  return j.dump();
}

absl::StatusOr<RecordMeta> DecodeRecordMeta(const rocksdb::Slice& value, uint64_t key) {
  RecordMeta m;
  try {
    nlohmann::json j = nlohmann::json::parse(value.data(), value.data() + value.size());
    MATALIGN_ASSIGN_OR_RETURN(
        m.record, corpus::ParseRecordJson(j.at("record").dump(), "record", static_cast<int>(key)));
    for (const auto& t : j.at("raw")) m.raw_tags.push_back(t.get<std::string>());
    for (const auto& v : j.at("vectors")) {
      const int mod = v.at(1).get<int>();
      if (mod < 1 || mod > 4) return absl::DataLossError(absl::StrCat("bad modality ", mod));
      m.vectors.emplace_back(v.at(0).get<std::string>(), static_cast<Modality>(mod));
      m.dims.push_back(v.at(2).get<int>());
    }
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat("record ", key, " does not decode: ", e.what()));
  }
  return m;
}

}  // namespace

absl::string_view ModalityName(Modality m) {
  switch (m) {
    case Modality::kStructure:
      return "structure";
    case Modality::kText:
      return "text";
    case Modality::kImage:
      return "image";
    case Modality::kProperty:
      return "property";
  }
  return "unknown";
}

absl::StatusOr<Modality> ParseModality(absl::string_view name) {
  for (Modality m : kAllModalities) {
    if (ModalityName(m) == name) return m;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown modality '", name, "' (structure, text, image, property)"));
}

absl::string_view DurabilityName(Durability d) { return d == Durability::kSync ? "sync" : "async"; }

absl::StatusOr<Durability> ParseDurability(absl::string_view name) {
  if (name == "sync") return Durability::kSync;
  if (name == "async") return Durability::kAsync;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown durability '", name, "' (sync or async)"));
}

absl::Status RecordStoreOptions::Validate() const {
  if (block_cache_bytes < 0) {
    return absl::InvalidArgumentError("block_cache_bytes must be >= 0");
  }
  if (background_jobs < 1 || background_jobs > 64) {
    return absl::InvalidArgumentError("background_jobs must be in [1, 64]");
  }
  return absl::OkStatus();
}

uint64_t RecordStore::KeyForName(absl::string_view name) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : name) {
    h ^= c;
    h *= 1099511628211ull;
  }
  h &= 0x7fffffffffffffffull;
  return h == 0 ? 1 : h;
}

struct RecordStore::Impl {
  std::string dir;
  RecordStoreOptions options;
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs;  // owned; destroyed before db
  std::atomic<uint64_t> last_sequence{0};

  mutable absl::Mutex mu;  // serializes writes; guards the fields below
  std::string model_version ABSL_GUARDED_BY(mu);
  // (version, modality) -> dimension of every vector of that pair.
  std::map<std::pair<std::string, Modality>, int> dims ABSL_GUARDED_BY(mu);

  ~Impl() {
    for (auto* h : cfs) {
      if (h != nullptr) db->DestroyColumnFamilyHandle(h);
    }
    cfs.clear();
    if (db) db->Close().PermitUncheckedError();
  }

  rocksdb::WriteOptions WriteOpts() const {
    rocksdb::WriteOptions w;
    w.sync = options.durability == Durability::kSync;
    return w;
  }

  absl::Status Writable() const {
    if (options.read_only) {
      return absl::FailedPreconditionError(absl::StrCat("store ", dir, " is open read-only"));
    }
    return absl::OkStatus();
  }

  // Reads the meta of record `key`; nullopt if absent.
  absl::StatusOr<std::optional<RecordMeta>> ReadMeta(uint64_t key,
                                                     const rocksdb::Snapshot* snap = nullptr) {
    rocksdb::ReadOptions ro;
    ro.snapshot = snap;
    std::string value;
    rocksdb::Status s = db->Get(ro, cfs[kRecords], RecordKey(key), &value);
    if (s.IsNotFound()) return std::optional<RecordMeta>();
    MATALIGN_RETURN_IF_ERROR(FromRocks(s, absl::StrCat("reading record ", key)));
    MATALIGN_ASSIGN_OR_RETURN(RecordMeta m, DecodeRecordMeta(value, key));
    return std::optional<RecordMeta>(std::move(m));
  }

  // Checks `v` against the registered dims (and `pending`, dims first seen in this write).
  absl::Status CheckVector(const StoredVector& v,
                           std::map<std::pair<std::string, Modality>, int>* pending)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (v.model_version.empty() || v.model_version.size() > 255) {
      return absl::InvalidArgumentError("model_version must have 1 to 255 bytes");
    }
    MATALIGN_RETURN_IF_ERROR(text::ValidateUtf8(v.model_version, "model_version"));
    const Modality m = v.modality;
    if (static_cast<int>(m) < 1 || static_cast<int>(m) > 4) {
      return absl::InvalidArgumentError("unknown modality");
    }
    if (v.values.empty()) return absl::InvalidArgumentError("empty vector");
    for (size_t i = 0; i < v.values.size(); ++i) {
      if (!std::isfinite(v.values[i])) {
        return absl::InvalidArgumentError(absl::StrCat(ModalityName(m), " vector of model ",
                                                       v.model_version, ": value ", i,
                                                       " is not finite"));
      }
    }
    const auto pair = std::make_pair(v.model_version, m);
    const int dim = static_cast<int>(v.values.size());
    auto it = dims.find(pair);
    const int want = it != dims.end() ? it->second : pending->emplace(pair, dim).first->second;
    if (want != dim) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s vector of model %s has dimension %d; this store holds %d for "
                          "that model and modality",
                          ModalityName(m), v.model_version, dim, want));
    }
    return absl::OkStatus();
  }

  // Adds the deletion of everything record `key` (described by `old`) has to `batch`.
  void DeleteAll(rocksdb::WriteBatch* batch, uint64_t key, const RecordMeta& old) {
    batch->Delete(cfs[kRecords], RecordKey(key));
    for (const auto& tag : old.raw_tags) batch->Delete(cfs[kRaw], RawKey(key, tag));
    for (const auto& [version, m] : old.vectors) {
      batch->Delete(cfs[kVectors], VectorKey(version, m, key));
    }
  }

  absl::Status Commit(rocksdb::WriteBatch* batch, uint64_t seq,
                      const std::map<std::pair<std::string, Modality>, int>& new_dims)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    for (const auto& [pair, dim] : new_dims) {
      batch->Put(cfs[kMeta], DimKey(pair.first, pair.second), std::to_string(dim));
    }
    batch->Put(cfs[kMeta], kLastSequenceKey, std::to_string(seq));
    MATALIGN_RETURN_IF_ERROR(FromRocks(db->Write(WriteOpts(), batch), "writing to " + dir));
    for (const auto& [pair, dim] : new_dims) dims.emplace(pair, dim);
    last_sequence.store(seq);
    return absl::OkStatus();
  }
};

RecordStore::RecordStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RecordStore::~RecordStore() = default;
const std::string& RecordStore::dir() const { return impl_->dir; }

absl::StatusOr<std::unique_ptr<RecordStore>> RecordStore::Open(const std::string& dir,
                                                               const RecordStoreOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  impl->options = options;
  if (options.create_if_missing && !options.read_only) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return absl::InternalError(absl::StrCat("creating ", dir, ": ", ec.message()));
  }

  rocksdb::Options db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = options.background_jobs;
  db_options.IncreaseParallelism(options.background_jobs);
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(static_cast<size_t>(options.block_cache_bytes));
  rocksdb::ColumnFamilyOptions cf_options(db_options);
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));

  // Open every column family on disk (a newer schema may have more) and ours.
  std::set<std::string> names(std::begin(kCfNames), std::end(kCfNames));
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(db_options, dir, &existing).ok()) {
    names.insert(existing.begin(), existing.end());
  } else if (!options.create_if_missing) {
    return absl::NotFoundError(absl::StrCat("no record store in ", dir));
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (int i = 0; i < kNumCfs; ++i) descriptors.emplace_back(kCfNames[i], cf_options);
  for (const auto& n : names) {
    if (std::find(std::begin(kCfNames), std::end(kCfNames), n) == std::end(kCfNames)) {
      descriptors.emplace_back(n, cf_options);
    }
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw_db = nullptr;
  rocksdb::Status s;
  if (options.read_only) {
    if (existing.empty()) return absl::NotFoundError(absl::StrCat("no record store in ", dir));
    // A read-only open cannot create the column families a fresh store lacks.
    descriptors.erase(std::remove_if(descriptors.begin(), descriptors.end(),
                                     [&](const rocksdb::ColumnFamilyDescriptor& d) {
                                       return std::find(existing.begin(), existing.end(), d.name) ==
                                              existing.end();
                                     }),
                      descriptors.end());
    s = rocksdb::DB::OpenForReadOnly(db_options, dir, descriptors, &handles, &raw_db);
  } else {
    s = rocksdb::DB::Open(db_options, dir, descriptors, &handles, &raw_db);
  }
  MATALIGN_RETURN_IF_ERROR(FromRocks(s, absl::StrCat("opening record store ", dir)));
  impl->db.reset(raw_db);
  impl->cfs.assign(kNumCfs, nullptr);
  for (auto* h : handles) {
    auto it = std::find(std::begin(kCfNames), std::end(kCfNames), h->GetName());
    if (it != std::end(kCfNames)) {
      impl->cfs[it - std::begin(kCfNames)] = h;
    } else {
      impl->db->DestroyColumnFamilyHandle(h);
    }
  }
  for (int i = 1; i < kNumCfs; ++i) {
    if (impl->cfs[i] == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("record store ", dir, " lacks column family '", kCfNames[i], "'"));
    }
  }

  // Schema: written on creation, checked on every open.
  rocksdb::ReadOptions ro;
  std::string value;
  s = impl->db->Get(ro, impl->cfs[kMeta], kSchemaKey, &value);
  if (s.IsNotFound()) {
    MATALIGN_RETURN_IF_ERROR(impl->Writable());
    rocksdb::WriteOptions w;
    w.sync = true;
    MATALIGN_RETURN_IF_ERROR(FromRocks(
        impl->db->Put(w, impl->cfs[kMeta], kSchemaKey, std::to_string(kStoreSchemaVersion)),
        "writing schema version"));
  } else {
    MATALIGN_RETURN_IF_ERROR(FromRocks(s, "reading schema version"));
    int schema = 0;
    if (!absl::SimpleAtoi(value, &schema) || schema < 1) {
      return absl::DataLossError(
          absl::StrCat("record store ", dir, ": unreadable schema version '", value, "'"));
    }
    if (schema > kStoreSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "record store %s has schema version %d; this build reads up to %d (upgrade MatAlign "
          "or open a copy made by this version)",
          dir, schema, kStoreSchemaVersion));
    }
  }
  absl::MutexLock lock(&impl->mu);
  if (impl->db->Get(ro, impl->cfs[kMeta], kModelVersionKey, &value).ok()) {
    impl->model_version = value;
  }
  if (impl->db->Get(ro, impl->cfs[kMeta], kLastSequenceKey, &value).ok()) {
    uint64_t seq = 0;
    if (!absl::SimpleAtoi(value, &seq)) {
      return absl::DataLossError(absl::StrCat("record store ", dir, ": bad last_sequence"));
    }
    impl->last_sequence.store(seq);
  }
  std::unique_ptr<rocksdb::Iterator> it(impl->db->NewIterator(ro, impl->cfs[kMeta]));
  for (it->Seek(kDimPrefix); it->Valid() && it->key().starts_with(kDimPrefix); it->Next()) {
    const std::string k = it->key().ToString().substr(std::strlen(kDimPrefix));
    const size_t slash = k.rfind('/');
    int dim = 0;
    auto m = slash == std::string::npos ? absl::InvalidArgumentError("")
                                        : ParseModality(k.substr(slash + 1)).status();
    if (!m.ok() || !absl::SimpleAtoi(it->value().ToString(), &dim)) {
      return absl::DataLossError(absl::StrCat("record store ", dir, ": bad meta key ", k));
    }
    impl->dims[{k.substr(0, slash), *ParseModality(k.substr(slash + 1))}] = dim;
  }
  MATALIGN_RETURN_IF_ERROR(FromRocks(it->status(), "reading dimensions"));
  return std::unique_ptr<RecordStore>(new RecordStore(std::move(impl)));
}

absl::StatusOr<uint64_t> RecordStore::Put(std::vector<StoredRecord>& records) {
  Impl& d = *impl_;
  MATALIGN_RETURN_IF_ERROR(d.Writable());
  absl::MutexLock lock(&d.mu);
  const uint64_t seq = d.last_sequence.load() + 1;
  rocksdb::WriteBatch batch;
  std::map<std::pair<std::string, Modality>, int> new_dims;
  absl::flat_hash_set<uint64_t> seen;
  for (size_t i = 0; i < records.size(); ++i) {
    StoredRecord& r = records[i];
    const std::string& name = r.record.id;
    auto fail = [&](const absl::Status& s) {
      return absl::Status(s.code(), absl::StrCat("record ", i, " ('", name, "'): ", s.message()));
    };
    if (name.empty()) return fail(absl::InvalidArgumentError("empty name (record.id)"));
    // The name is stored in JSON: invalid UTF-8 would come back changed.
    if (absl::Status s = text::ValidateUtf8(name, "record.id"); !s.ok()) return fail(s);
    if (r.key == 0) r.key = KeyForName(name);
    if (r.key > 0x7fffffffffffffffull) {
      return fail(absl::InvalidArgumentError("key must be in [1, 2^63)"));
    }
    if (!seen.insert(r.key).second) {
      return fail(absl::InvalidArgumentError(absl::StrCat("key ", r.key, " twice in one Put")));
    }
    if (r.image_bytes.size() != r.record.images.size()) {
      return fail(absl::InvalidArgumentError(absl::StrFormat(
          "%d image names but %d image contents", r.record.images.size(), r.image_bytes.size())));
    }
    if (r.record.images.size() > 65535) return fail(absl::InvalidArgumentError("too many images"));

    RecordMeta meta;
    meta.record = r.record;
    if (meta.record.structure) {
      if (meta.record.structure->text.empty()) {
        return fail(absl::InvalidArgumentError("structure without text"));
      }
      meta.raw_tags.push_back("s");
      meta.record.structure->text.clear();
      if (meta.record.structure->path.empty()) meta.record.structure->path = kInlinePath;
    }
    if (meta.record.synthesis && !meta.record.synthesis->text.empty()) {
      meta.raw_tags.push_back("t");
      meta.record.synthesis->text.clear();
    }
    for (size_t j = 0; j < meta.record.images.size(); ++j) {
      if (meta.record.images[j].path.empty()) meta.record.images[j].path = kInlinePath;
      meta.raw_tags.push_back(absl::StrCat("i", j));
    }
    if (absl::Status s = corpus::ValidateRecord(meta.record); !s.ok()) return fail(s);
    std::set<std::pair<std::string, Modality>> pairs;
    for (const StoredVector& v : r.vectors) {
      if (absl::Status s = d.CheckVector(v, &new_dims); !s.ok()) return fail(s);
      if (!pairs.emplace(v.model_version, v.modality).second) {
        return fail(absl::InvalidArgumentError(
            absl::StrCat("two ", ModalityName(v.modality), " vectors of model ", v.model_version)));
      }
      meta.vectors.emplace_back(v.model_version, v.modality);
      meta.dims.push_back(static_cast<int>(v.values.size()));
    }

    MATALIGN_ASSIGN_OR_RETURN(std::optional<RecordMeta> old, d.ReadMeta(r.key));
    if (old) {
      if (old->record.id != name) {
        return fail(absl::AlreadyExistsError(
            absl::StrCat("key ", r.key, " belongs to record '", old->record.id, "'")));
      }
      d.DeleteAll(&batch, r.key, *old);
    }
    batch.Put(d.cfs[kRecords], RecordKey(r.key), EncodeRecordMeta(meta));
    if (r.record.structure) batch.Put(d.cfs[kRaw], RawKey(r.key, "s"), r.record.structure->text);
    if (r.record.synthesis && !r.record.synthesis->text.empty()) {
      batch.Put(d.cfs[kRaw], RawKey(r.key, "t"), r.record.synthesis->text);
    }
    for (size_t j = 0; j < r.image_bytes.size(); ++j) {
      batch.Put(d.cfs[kRaw], RawKey(r.key, absl::StrCat("i", j)), r.image_bytes[j]);
    }
    for (const StoredVector& v : r.vectors) {
      batch.Put(d.cfs[kVectors], VectorKey(v.model_version, v.modality, r.key),
                EncodeFloats(v.values));
    }
    batch.Put(d.cfs[kChanges], ChangeKey(seq, r.key), "p");
  }
  if (records.empty()) return d.last_sequence.load();
  MATALIGN_RETURN_IF_ERROR(d.Commit(&batch, seq, new_dims));
  return seq;
}

absl::StatusOr<uint64_t> RecordStore::PutVectors(uint64_t key,
                                                 const std::vector<StoredVector>& vectors) {
  Impl& d = *impl_;
  MATALIGN_RETURN_IF_ERROR(d.Writable());
  absl::MutexLock lock(&d.mu);
  MATALIGN_ASSIGN_OR_RETURN(std::optional<RecordMeta> meta, d.ReadMeta(key));
  if (!meta) return absl::NotFoundError(absl::StrCat("no record with key ", key));
  std::map<std::pair<std::string, Modality>, int> new_dims;
  std::set<std::pair<std::string, Modality>> pairs;
  const uint64_t seq = d.last_sequence.load() + 1;
  rocksdb::WriteBatch batch;
  for (const StoredVector& v : vectors) {
    if (absl::Status s = d.CheckVector(v, &new_dims); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("record ", key, ": ", s.message()));
    }
    const auto pair = std::make_pair(v.model_version, v.modality);
    if (!pairs.insert(pair).second) {
      return absl::InvalidArgumentError(absl::StrCat("record ", key, ": two ",
                                                     ModalityName(v.modality), " vectors of model ",
                                                     v.model_version));
    }
    auto it = std::find(meta->vectors.begin(), meta->vectors.end(), pair);
    if (it == meta->vectors.end()) {
      meta->vectors.push_back(pair);
      meta->dims.push_back(static_cast<int>(v.values.size()));
    }
    batch.Put(d.cfs[kVectors], VectorKey(v.model_version, v.modality, key), EncodeFloats(v.values));
  }
  batch.Put(d.cfs[kRecords], RecordKey(key), EncodeRecordMeta(*meta));
  batch.Put(d.cfs[kChanges], ChangeKey(seq, key), "p");
  MATALIGN_RETURN_IF_ERROR(d.Commit(&batch, seq, new_dims));
  return seq;
}

namespace {

// Reads the raw entries and vectors `meta` lists into `out` (from `snap`).
absl::Status FillRecord(rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& cfs,
                        const rocksdb::Snapshot* snap, uint64_t key, RecordMeta meta,
                        const GetOptions& options, StoredRecord* out) {
  out->key = key;
  out->record = std::move(meta.record);
  corpus::Record& rec = out->record;
  if (rec.structure && rec.structure->path == kInlinePath) rec.structure->path.clear();
  for (auto& img : rec.images) {
    if (img.path == kInlinePath) img.path.clear();
  }
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  if (options.raw) {
    out->image_bytes.assign(rec.images.size(), "");
    for (const std::string& tag : meta.raw_tags) {
      std::string value;
      rocksdb::Status s = db->Get(ro, cfs[kRaw], RawKey(key, tag), &value);
      if (s.IsNotFound()) {
        return absl::DataLossError(
            absl::StrCat("record ", key, ": raw entry '", tag, "' is missing"));
      }
      MATALIGN_RETURN_IF_ERROR(FromRocks(s, absl::StrCat("record ", key, " raw '", tag, "'")));
      if (tag == "s" && rec.structure) {
        rec.structure->text = std::move(value);
      } else if (tag == "t" && rec.synthesis) {
        rec.synthesis->text = std::move(value);
      } else if (!tag.empty() && tag[0] == 'i') {
        int idx = -1;
        if (!absl::SimpleAtoi(tag.substr(1), &idx) || idx < 0 ||
            idx >= static_cast<int>(out->image_bytes.size())) {
          return absl::DataLossError(absl::StrCat("record ", key, ": bad raw tag ", tag));
        }
        out->image_bytes[idx] = std::move(value);
      }
    }
  }
  if (options.vectors) {
    for (size_t i = 0; i < meta.vectors.size(); ++i) {
      const auto& [version, m] = meta.vectors[i];
      std::string value;
      rocksdb::Status s = db->Get(ro, cfs[kVectors], VectorKey(version, m, key), &value);
      const std::string what =
          absl::StrCat("record ", key, " ", ModalityName(m), " vector of ", version);
      if (s.IsNotFound()) return absl::DataLossError(what + " is missing");
      MATALIGN_RETURN_IF_ERROR(FromRocks(s, what));
      if (value.size() != static_cast<size_t>(meta.dims[i]) * sizeof(float)) {
        return absl::DataLossError(absl::StrCat("record ", key, ": ", ModalityName(m),
                                                " vector has ", value.size(), " bytes"));
      }
      StoredVector v;
      v.modality = m;
      v.model_version = version;
      v.values.resize(meta.dims[i]);
      std::memcpy(v.values.data(), value.data(), value.size());
      out->vectors.push_back(std::move(v));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<StoredRecord> RecordStore::Get(uint64_t key, const GetOptions& options) const {
  auto results = MultiGet({key}, options);
  return std::move(results[0]);
}

std::vector<absl::StatusOr<StoredRecord>> RecordStore::MultiGet(const std::vector<uint64_t>& keys,
                                                                const GetOptions& options) const {
  Impl& d = *impl_;
  const rocksdb::Snapshot* snap = d.db->GetSnapshot();
  std::vector<absl::StatusOr<StoredRecord>> out;
  out.reserve(keys.size());
  for (uint64_t key : keys) {
    auto meta = d.ReadMeta(key, snap);
    if (!meta.ok()) {
      out.push_back(meta.status());
    } else if (!meta->has_value()) {
      out.push_back(absl::NotFoundError(absl::StrCat("no record with key ", key)));
    } else {
      StoredRecord r;
      absl::Status s = FillRecord(d.db.get(), d.cfs, snap, key, std::move(**meta), options, &r);
      if (s.ok()) {
        out.push_back(std::move(r));
      } else {
        out.push_back(s);
      }
    }
  }
  d.db->ReleaseSnapshot(snap);
  return out;
}

absl::StatusOr<uint64_t> RecordStore::Find(absl::string_view name) const {
  const uint64_t key = KeyForName(name);
  MATALIGN_ASSIGN_OR_RETURN(std::optional<RecordMeta> meta, impl_->ReadMeta(key));
  if (!meta || meta->record.id != name) {
    return absl::NotFoundError(absl::StrCat("no record named '", name, "'"));
  }
  return key;
}

absl::StatusOr<uint64_t> RecordStore::Delete(const std::vector<uint64_t>& keys, int64_t* deleted) {
  Impl& d = *impl_;
  MATALIGN_RETURN_IF_ERROR(d.Writable());
  absl::MutexLock lock(&d.mu);
  const uint64_t seq = d.last_sequence.load() + 1;
  rocksdb::WriteBatch batch;
  int64_t n = 0;
  absl::flat_hash_set<uint64_t> seen;
  for (uint64_t key : keys) {
    if (!seen.insert(key).second) continue;
    MATALIGN_ASSIGN_OR_RETURN(std::optional<RecordMeta> old, d.ReadMeta(key));
    if (!old) continue;
    d.DeleteAll(&batch, key, *old);
    batch.Put(d.cfs[kChanges], ChangeKey(seq, key), "d");
    ++n;
  }
  if (n > 0) MATALIGN_RETURN_IF_ERROR(d.Commit(&batch, seq, {}));
  if (deleted != nullptr) *deleted = n;
  return n > 0 ? seq : d.last_sequence.load();
}

absl::Status RecordStore::ForEachVector(
    absl::string_view model_version, Modality modality,
    const std::function<absl::Status(uint64_t, const float*, int)>& fn) const {
  Impl& d = *impl_;
  const std::string prefix = VectorPrefix(model_version, modality);
  const std::string end = PrefixEnd(prefix);
  rocksdb::Slice upper(end);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(d.db->NewIterator(ro, d.cfs[kVectors]));
  std::vector<float> buf;
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    const rocksdb::Slice k = it->key();
    if (k.size() != prefix.size() + 8 || it->value().size() % sizeof(float) != 0) {
      return absl::DataLossError(absl::StrCat("malformed vector entry in ", d.dir));
    }
    const uint64_t key = ReadBigEndian(k.data() + prefix.size(), 8);
    buf.resize(it->value().size() / sizeof(float));
    std::memcpy(buf.data(), it->value().data(), it->value().size());
    MATALIGN_RETURN_IF_ERROR(fn(key, buf.data(), static_cast<int>(buf.size())));
  }
  return FromRocks(it->status(), "iterating vectors");
}

absl::Status RecordStore::ForEachRecord(
    const std::function<absl::Status(const StoredRecord&)>& fn) const {
  Impl& d = *impl_;
  rocksdb::ReadOptions ro;
  std::unique_ptr<rocksdb::Iterator> it(d.db->NewIterator(ro, d.cfs[kRecords]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() != 8) return absl::DataLossError("malformed record key");
    const uint64_t key = ReadBigEndian(it->key().data(), 8);
    MATALIGN_ASSIGN_OR_RETURN(RecordMeta meta, DecodeRecordMeta(it->value(), key));
    StoredRecord r;
    GetOptions none;
    none.raw = false;
    none.vectors = false;
    MATALIGN_RETURN_IF_ERROR(
        FillRecord(d.db.get(), d.cfs, nullptr, key, std::move(meta), none, &r));
    MATALIGN_RETURN_IF_ERROR(fn(r));
  }
  return FromRocks(it->status(), "iterating records");
}

absl::Status RecordStore::ForEachChange(
    uint64_t after, const std::function<absl::Status(const Change&)>& fn) const {
  Impl& d = *impl_;
  rocksdb::ReadOptions ro;
  std::unique_ptr<rocksdb::Iterator> it(d.db->NewIterator(ro, d.cfs[kChanges]));
  for (it->Seek(ChangeKey(after + 1, 0)); it->Valid(); it->Next()) {
    if (it->key().size() != 16 || it->value().size() != 1) {
      return absl::DataLossError("malformed change entry");
    }
    Change c;
    c.sequence = ReadBigEndian(it->key().data(), 8);
    c.key = ReadBigEndian(it->key().data() + 8, 8);
    c.deleted = it->value()[0] == 'd';
    MATALIGN_RETURN_IF_ERROR(fn(c));
  }
  return FromRocks(it->status(), "iterating changes");
}

absl::Status RecordStore::TrimChanges(uint64_t up_to) {
  Impl& d = *impl_;
  MATALIGN_RETURN_IF_ERROR(d.Writable());
  const std::string begin = ChangeKey(0, 0);
  const std::string end = ChangeKey(up_to + 1, 0);
  return FromRocks(d.db->DeleteRange(d.WriteOpts(), d.cfs[kChanges], begin, end),
                   "trimming changes");
}

uint64_t RecordStore::last_sequence() const { return impl_->last_sequence.load(); }

std::string RecordStore::model_version() const {
  absl::MutexLock lock(&impl_->mu);
  return impl_->model_version;
}

absl::Status RecordStore::SetModelVersion(const std::string& version) {
  Impl& d = *impl_;
  MATALIGN_RETURN_IF_ERROR(d.Writable());
  absl::MutexLock lock(&d.mu);
  rocksdb::WriteOptions w = d.WriteOpts();
  MATALIGN_RETURN_IF_ERROR(
      FromRocks(d.db->Put(w, d.cfs[kMeta], kModelVersionKey, version), "writing model version"));
  d.model_version = version;
  return absl::OkStatus();
}

absl::Status RecordStore::DeleteModelVersion(const std::string& model_version) {
  Impl& d = *impl_;
  MATALIGN_RETURN_IF_ERROR(d.Writable());
  {
    absl::MutexLock lock(&d.mu);
    if (model_version == d.model_version) {
      return absl::FailedPreconditionError(absl::StrCat(
          "model version ", model_version, " is the current one; switch to another first"));
    }
  }
  const std::string prefix = VectorPrefix(model_version);
  const std::string end = PrefixEnd(prefix);
  while (true) {
    absl::MutexLock lock(&d.mu);
    // Up to 1000 records per batch: their vector lists and their vectors together.
    rocksdb::Slice upper(end);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(d.db->NewIterator(ro, d.cfs[kVectors]));
    std::set<uint64_t> keys;
    for (it->Seek(prefix); it->Valid() && keys.size() < 1000; it->Next()) {
      if (it->key().size() != prefix.size() + 9) return absl::DataLossError("bad vector key");
      keys.insert(ReadBigEndian(it->key().data() + prefix.size() + 1, 8));
    }
    MATALIGN_RETURN_IF_ERROR(FromRocks(it->status(), "iterating vectors"));
    rocksdb::WriteBatch batch;
    if (keys.empty()) {
      for (const auto& [pair, dim] : d.dims) {
        if (pair.first == model_version)
          batch.Delete(d.cfs[kMeta], DimKey(pair.first, pair.second));
      }
      MATALIGN_RETURN_IF_ERROR(
          FromRocks(d.db->Write(d.WriteOpts(), &batch), "deleting dimensions"));
      for (auto it2 = d.dims.begin(); it2 != d.dims.end();) {
        it2 = it2->first.first == model_version ? d.dims.erase(it2) : std::next(it2);
      }
      return absl::OkStatus();
    }
    for (uint64_t key : keys) {
      MATALIGN_ASSIGN_OR_RETURN(std::optional<RecordMeta> meta, d.ReadMeta(key));
      if (meta) {
        RecordMeta& m = *meta;
        std::vector<std::pair<std::string, Modality>> kept;
        std::vector<int> kept_dims;
        for (size_t i = 0; i < m.vectors.size(); ++i) {
          if (m.vectors[i].first != model_version) {
            kept.push_back(m.vectors[i]);
            kept_dims.push_back(m.dims[i]);
          }
        }
        m.vectors = std::move(kept);
        m.dims = std::move(kept_dims);
        batch.Put(d.cfs[kRecords], RecordKey(key), EncodeRecordMeta(m));
      }
      for (Modality mod : kAllModalities) {
        batch.Delete(d.cfs[kVectors], VectorKey(model_version, mod, key));
      }
    }
    MATALIGN_RETURN_IF_ERROR(
        FromRocks(d.db->Write(d.WriteOpts(), &batch), "deleting vectors of " + model_version));
  }
}

std::vector<std::pair<std::string, std::vector<std::pair<Modality, int>>>>
RecordStore::VectorVersions() const {
  absl::MutexLock lock(&impl_->mu);
  std::vector<std::pair<std::string, std::vector<std::pair<Modality, int>>>> out;
  for (const auto& [pair, dim] : impl_->dims) {
    if (out.empty() || out.back().first != pair.first) out.push_back({pair.first, {}});
    out.back().second.emplace_back(pair.second, dim);
  }
  return out;
}

absl::StatusOr<CheckReport> RecordStore::Check(int max_problems) const {
  Impl& d = *impl_;
  CheckReport report;
  auto problem = [&](std::string line) {
    ++report.num_problems;
    if (static_cast<int>(report.problems.size()) < max_problems) {
      report.problems.push_back(std::move(line));
    }
  };
  std::map<std::pair<std::string, Modality>, int> dims;
  {
    absl::MutexLock lock(&d.mu);
    dims = d.dims;
  }
  const rocksdb::Snapshot* snap = d.db->GetSnapshot();
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  // Every raw entry and vector a record lists; what is left over at the end is orphaned.
  absl::flat_hash_set<std::string> listed_raw, listed_vectors;
  std::unique_ptr<rocksdb::Iterator> it(d.db->NewIterator(ro, d.cfs[kRecords]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ++report.records;
    if (it->key().size() != 8) {
      problem("record key of " + std::to_string(it->key().size()) + " bytes");
      continue;
    }
    const uint64_t key = ReadBigEndian(it->key().data(), 8);
    auto meta = DecodeRecordMeta(it->value(), key);
    if (!meta.ok()) {
      problem(absl::StrCat("record ", key, ": ", meta.status().message()));
      continue;
    }
    const std::string label = absl::StrCat("record ", key, " ('", meta->record.id, "')");
    for (const auto& tag : meta->raw_tags) listed_raw.insert(RawKey(key, tag));
    for (size_t i = 0; i < meta->vectors.size(); ++i) {
      const auto& [version, m] = meta->vectors[i];
      listed_vectors.insert(VectorKey(version, m, key));
      auto dim = dims.find({version, m});
      if (dim == dims.end()) {
        problem(absl::StrCat(label, ": ", ModalityName(m), " vector of model '", version,
                             "' which the store does not know"));
      } else if (dim->second != meta->dims[i]) {
        problem(absl::StrCat(label, ": ", ModalityName(m), " vector of model '", version,
                             "' listed with dimension ", meta->dims[i], ", expected ",
                             dim->second));
      }
    }
    StoredRecord r;
    absl::Status s = FillRecord(d.db.get(), d.cfs, snap, key, *std::move(meta), GetOptions{}, &r);
    if (!s.ok()) problem(absl::StrCat(label, ": ", s.message()));
    for (const StoredVector& v : r.vectors) {
      ++report.vectors;
      for (float x : v.values) {
        if (!std::isfinite(x)) {
          problem(absl::StrCat(label, ": ", ModalityName(v.modality), " vector of model '",
                               v.model_version, "' has a non-finite value"));
          break;
        }
      }
    }
  }
  absl::Status status = FromRocks(it->status(), "iterating records");
  for (int cf : {kRaw, kVectors}) {
    if (!status.ok()) break;
    const auto& listed = cf == kRaw ? listed_raw : listed_vectors;
    it.reset(d.db->NewIterator(ro, d.cfs[cf]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (cf == kRaw) ++report.raw_entries;
      if (!listed.contains(it->key().ToString())) {
        problem(absl::StrCat(cf == kRaw ? "raw" : "vector", " entry ",
                             it->key().ToString(/*hex=*/true), " belongs to no record"));
      }
    }
    status = FromRocks(it->status(), "iterating");
  }
  it.reset();
  d.db->ReleaseSnapshot(snap);
  MATALIGN_RETURN_IF_ERROR(status);
  return report;
}

int64_t RecordStore::ApproximateCount() const {
  uint64_t n = 0;
  impl_->db->GetIntProperty(impl_->cfs[kRecords], "rocksdb.estimate-num-keys", &n);
  return static_cast<int64_t>(n);
}

absl::Status RecordStore::SyncWal() {
  if (impl_->options.read_only) return absl::OkStatus();
  return FromRocks(impl_->db->FlushWAL(/*sync=*/true), "syncing the log of " + impl_->dir);
}

absl::Status RecordStore::Flush() {
  rocksdb::FlushOptions f;
  return FromRocks(impl_->db->Flush(f, impl_->cfs), "flushing " + impl_->dir);
}

}  // namespace matalign::index
