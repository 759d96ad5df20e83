#include "index/collection.h"

#include <algorithm>
#include <bitset>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/file.h"
#include "common/status_macros.h"
#include "materials/element.h"

namespace matalign::index {
namespace {

namespace fs = std::filesystem;

double SecondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// What a filter looks at, per record, kept in memory.
struct Attributes {
  std::bitset<materials::kMaxAtomicNumber + 1> elements;
  int route = -1;  // index into Impl::routes; -1 = no synthesis route
  corpus::MaterialClass material_class = corpus::MaterialClass::kCrystalline;
};

// Vectors are added to an index in chunks of this many.
constexpr int64_t kChunk = 4096;

constexpr char kAttributesMagic[] = "MATALIGN-ATTRIBUTES-1\n";

void PutU64(std::string* out, uint64_t v) { out->append(reinterpret_cast<const char*>(&v), 8); }
bool GetU64(absl::string_view* in, uint64_t* v) {
  if (in->size() < 8) return false;
  std::memcpy(v, in->data(), 8);
  in->remove_prefix(8);
  return true;
}
uint64_t Fnv1a(absl::string_view data) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

absl::Status RecordFilter::Validate() const {
  for (const auto* list : {&required_elements, &excluded_elements}) {
    for (const auto& e : *list) {
      if (materials::ElementBySymbol(e) == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat("filter: unknown element '", e, "'"));
      }
    }
  }
  for (const auto& c : material_classes) {
    auto parsed = corpus::ParseMaterialClass(c);
    if (!parsed.ok())
      return absl::InvalidArgumentError(absl::StrCat("filter: ", parsed.status().message()));
  }
  return absl::OkStatus();
}

absl::Status CollectionOptions::Validate() const {
  MATALIGN_RETURN_IF_ERROR(store.Validate());
  VectorIndexOptions probe = index;
  probe.dim = 1;
  return probe.Validate();
}

struct Collection::Impl {
  std::string dir;
  CollectionOptions options;
  std::unique_ptr<RecordStore> store;

  absl::Mutex write_mu;  // serializes writes (store write + index update as one step)

  mutable absl::Mutex mu;  // guards the fields below; searches hold it shared
  std::string version ABSL_GUARDED_BY(mu);
  std::map<Modality, std::shared_ptr<VectorIndex>> indexes ABSL_GUARDED_BY(mu);
  absl::flat_hash_map<uint64_t, Attributes> attributes ABSL_GUARDED_BY(mu);
  std::vector<std::string> routes ABSL_GUARDED_BY(mu);
  std::vector<IndexLoadReport> reports ABSL_GUARDED_BY(mu);
  // An index update failed after its store write: the indexes must be rebuilt before they
  // may be saved.
  bool dirty ABSL_GUARDED_BY(mu) = false;

  std::string SnapshotPath(const std::string& v, Modality m) const {
    return absl::StrCat(dir, "/snapshots/", v, "/", ModalityName(m), ".faiss");
  }

  Attributes AttributesOf(const corpus::Record& r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    Attributes a;
    for (const auto& [symbol, amount] : r.composition) {
      if (const auto* e = materials::ElementBySymbol(symbol)) a.elements.set(e->atomic_number);
    }
    if (r.synthesis && !r.synthesis->route.empty()) {
      auto it = std::find(routes.begin(), routes.end(), r.synthesis->route);
      if (it == routes.end()) it = routes.insert(routes.end(), r.synthesis->route);
      a.route = static_cast<int>(it - routes.begin());
    }
    a.material_class = r.material_class;
    return a;
  }

  std::string AttributesPath() const { return dir + "/snapshots/attributes.bin"; }

  // The filter attributes of every record, with `seq`: what Open reads instead of decoding
  // every record (1M records: ~8 s of JSON).
  absl::Status SaveAttributes(uint64_t seq) {
    std::string out = kAttributesMagic;
    absl::ReaderMutexLock lock(&mu);
    PutU64(&out, seq);
    PutU64(&out, routes.size());
    for (const auto& r : routes) {
      PutU64(&out, r.size());
      out += r;
    }
    PutU64(&out, attributes.size());
    for (const auto& [key, a] : attributes) {
      PutU64(&out, key);
      uint64_t words[2] = {0, 0};
      for (size_t z = 0; z < a.elements.size(); ++z) {
        if (a.elements[z]) words[z / 64] |= uint64_t{1} << (z % 64);
      }
      PutU64(&out, words[0]);
      PutU64(&out, words[1]);
      PutU64(&out, static_cast<uint64_t>(static_cast<int64_t>(a.route)));
      PutU64(&out, static_cast<uint64_t>(a.material_class));
    }
    PutU64(&out, Fnv1a(out));
    return WriteFileAtomic(AttributesPath(), out);
  }

  // Loads the attribute snapshot; its sequence number, or an error saying why not.
  absl::StatusOr<uint64_t> LoadAttributes() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    MATALIGN_ASSIGN_OR_RETURN(std::string data, ReadFile(AttributesPath(), uint64_t{1} << 34));
    absl::string_view in(data);
    const absl::string_view magic(kAttributesMagic);
    uint64_t checksum = 0;
    if (in.size() < magic.size() + 8 || in.substr(0, magic.size()) != magic) {
      return absl::DataLossError("not an attribute snapshot");
    }
    std::memcpy(&checksum, in.data() + in.size() - 8, 8);
    if (checksum != Fnv1a(in.substr(0, in.size() - 8))) {
      return absl::DataLossError("attribute snapshot checksum mismatch");
    }
    in = in.substr(magic.size(), in.size() - magic.size() - 8);
    uint64_t seq = 0, n = 0;
    auto bad = [] { return absl::DataLossError("attribute snapshot truncated"); };
    if (!GetU64(&in, &seq) || !GetU64(&in, &n)) return bad();
    std::vector<std::string> new_routes;
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t len = 0;
      if (!GetU64(&in, &len) || in.size() < len) return bad();
      new_routes.emplace_back(in.substr(0, len));
      in.remove_prefix(len);
    }
    if (!GetU64(&in, &n) || in.size() != n * 40) return bad();
    absl::flat_hash_map<uint64_t, Attributes> table;
    table.reserve(n);
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t key, w0, w1, route, cls;
      GetU64(&in, &key);
      GetU64(&in, &w0);
      GetU64(&in, &w1);
      GetU64(&in, &route);
      GetU64(&in, &cls);
      Attributes a;
      for (size_t z = 0; z < a.elements.size(); ++z) {
        a.elements[z] = ((z < 64 ? w0 >> z : w1 >> (z - 64)) & 1) != 0;
      }
      a.route = static_cast<int>(static_cast<int64_t>(route));
      if (a.route >= static_cast<int>(new_routes.size()) || a.route < -1 || cls > 2) {
        return absl::DataLossError("attribute snapshot has a bad entry");
      }
      a.material_class = static_cast<corpus::MaterialClass>(cls);
      table[key] = a;
    }
    attributes = std::move(table);
    routes = std::move(new_routes);
    return seq;
  }

  // The keys of the records written after sequence `seq`, in key order, and how many change
  // entries named them; nullopt when the store's change log no longer reaches back to
  // seq + 1 (trimmed) or `seq` is ahead of the store.
  absl::StatusOr<std::optional<std::vector<uint64_t>>> ChangedSince(uint64_t seq,
                                                                    int64_t* entries) const {
    const uint64_t last = store->last_sequence();
    if (seq > last) return std::optional<std::vector<uint64_t>>();
    std::set<uint64_t> keys;
    uint64_t expected = seq + 1;
    bool gap = false;
    int64_t n = 0;
    MATALIGN_RETURN_IF_ERROR(store->ForEachChange(seq, [&](const Change& c) {
      gap = gap || c.sequence > expected;
      expected = c.sequence + 1;
      keys.insert(c.key);
      ++n;
      return absl::OkStatus();
    }));
    if (gap || expected != last + 1) return std::optional<std::vector<uint64_t>>();
    if (entries != nullptr) *entries = n;
    return std::optional<std::vector<uint64_t>>(std::vector<uint64_t>(keys.begin(), keys.end()));
  }

  // Fills the attribute table: snapshot + replay, else a scan of every record.
  absl::Status LoadAllAttributes(bool allow_snapshot) {
    absl::MutexLock lock(&mu);
    if (allow_snapshot) {
      auto seq = LoadAttributes();
      if (seq.ok()) {
        MATALIGN_ASSIGN_OR_RETURN(std::optional<std::vector<uint64_t>> keys,
                                  ChangedSince(*seq, nullptr));
        if (keys) {
          GetOptions meta_only;
          meta_only.raw = false;
          meta_only.vectors = false;
          auto records = store->MultiGet(*keys, meta_only);
          for (size_t i = 0; i < keys->size(); ++i) {
            if (records[i].ok()) {
              attributes[(*keys)[i]] = AttributesOf(records[i]->record);
            } else if (records[i].status().code() == absl::StatusCode::kNotFound) {
              attributes.erase((*keys)[i]);
            } else {
              return records[i].status();
            }
          }
          return absl::OkStatus();
        }
      }
    }
    attributes.clear();
    routes.clear();
    return store->ForEachRecord([this](const StoredRecord& r) {
      mu.AssertHeld();
      attributes[r.key] = AttributesOf(r.record);
      return absl::OkStatus();
    });
  }

  // Brings `index` up to date with records `keys` (records[i] is the record of keys[i], or
  // null when it is gone): their (v, m) vectors are upserted, ids without one removed. One
  // Upsert and one Remove call for all of them (on Flat each costs a pass over the index).
  static absl::Status Apply(VectorIndex* index, const std::vector<uint64_t>& keys,
                            const std::vector<const StoredRecord*>& records, const std::string& v,
                            Modality m) {
    std::vector<int64_t> upsert_ids, remove_ids;
    std::vector<float> x;
    for (size_t i = 0; i < keys.size(); ++i) {
      const int64_t id = static_cast<int64_t>(keys[i]);
      const StoredVector* found = nullptr;
      if (records[i] != nullptr) {
        for (const StoredVector& sv : records[i]->vectors) {
          if (sv.modality == m && sv.model_version == v) found = &sv;
        }
      }
      if (found == nullptr) {
        if (index->Contains(id)) remove_ids.push_back(id);
        continue;
      }
      if (static_cast<int>(found->values.size()) != index->dim()) {
        return absl::DataLossError(absl::StrCat("record ", keys[i], ": ", ModalityName(m),
                                                " vector of dimension ", found->values.size(),
                                                ", index has ", index->dim()));
      }
      upsert_ids.push_back(id);
      x.insert(x.end(), found->values.begin(), found->values.end());
    }
    if (!remove_ids.empty()) {
      MATALIGN_RETURN_IF_ERROR(
          index->Remove(remove_ids.data(), static_cast<int64_t>(remove_ids.size())));
    }
    if (!upsert_ids.empty()) {
      MATALIGN_RETURN_IF_ERROR(
          index->Upsert(upsert_ids.data(), x.data(), static_cast<int64_t>(upsert_ids.size())));
    }
    return absl::OkStatus();
  }

  // Fills `index` with every (v, m) vector of the store.
  absl::Status Rebuild(VectorIndex* index, const std::string& v, Modality m) {
    std::vector<int64_t> ids;
    std::vector<float> x;
    const int dim = index->dim();
    auto flush = [&]() -> absl::Status {
      if (ids.empty()) return absl::OkStatus();
      if (index->needs_training()) {
        // Approximate indexes are trained on the first chunk (up to kChunk vectors).
        MATALIGN_RETURN_IF_ERROR(index->Train(x.data(), static_cast<int64_t>(ids.size())));
      }
      MATALIGN_RETURN_IF_ERROR(
          index->Upsert(ids.data(), x.data(), static_cast<int64_t>(ids.size())));
      ids.clear();
      x.clear();
      return absl::OkStatus();
    };
    MATALIGN_RETURN_IF_ERROR(
        store->ForEachVector(v, m, [&](uint64_t key, const float* values, int d) -> absl::Status {
          if (d != dim) {
            return absl::DataLossError(
                absl::StrCat("record ", key, ": ", ModalityName(m), " vector of dimension ", d));
          }
          ids.push_back(static_cast<int64_t>(key));
          x.insert(x.end(), values, values + d);
          if (static_cast<int64_t>(ids.size()) >= kChunk) return flush();
          return absl::OkStatus();
        }));
    return flush();
  }

  // Loads the snapshot of (v, m) and replays the changes after it; nullptr (with the reason
  // in report->note) when the snapshot is missing, unreadable or cannot be caught up.
  absl::StatusOr<std::unique_ptr<VectorIndex>> FromSnapshot(const std::string& v, Modality m,
                                                            int dim, IndexLoadReport* report) {
    const std::string path = SnapshotPath(v, m);
    std::error_code ec;
    if (!fs::exists(path, ec)) {
      report->note = "no snapshot";
      return std::unique_ptr<VectorIndex>();
    }
    VectorIndexOptions o = options.index;
    o.dim = dim;
    auto loaded = VectorIndex::Load(path, o);
    if (!loaded.ok()) {
      report->note = absl::StrCat("snapshot unusable: ", loaded.status().message());
      return std::unique_ptr<VectorIndex>();
    }
    auto [index, seq] = *std::move(loaded);
    const uint64_t last = store->last_sequence();
    if (seq > last) {
      report->note = absl::StrCat("snapshot is newer (", seq, ") than the store (", last, ")");
      return std::unique_ptr<VectorIndex>();
    }
    // The change log must still hold every write after the snapshot.
    MATALIGN_ASSIGN_OR_RETURN(std::optional<std::vector<uint64_t>> keys,
                              ChangedSince(seq, &report->replayed_changes));
    if (!keys) {
      report->note = absl::StrCat("change log no longer reaches back to sequence ", seq + 1);
      return std::unique_ptr<VectorIndex>();
    }
    GetOptions vectors_only;
    vectors_only.raw = false;
    const std::vector<uint64_t>& key_list = *keys;
    auto records = store->MultiGet(key_list, vectors_only);
    std::vector<const StoredRecord*> pointers(key_list.size(), nullptr);
    for (size_t i = 0; i < key_list.size(); ++i) {
      if (records[i].ok()) {
        pointers[i] = &*records[i];
      } else if (records[i].status().code() != absl::StatusCode::kNotFound) {
        return records[i].status();
      }
    }
    MATALIGN_RETURN_IF_ERROR(Apply(index.get(), key_list, pointers, v, m));
    report->from_snapshot = true;
    report->snapshot_sequence = seq;
    return std::move(index);
  }

  // A fresh index for (v, m) filled from the store. An index type that needs training is
  // trained on the store's first vectors; when that fails (too few vectors for its lists)
  // the modality is served by exact Flat search until the next rebuild, and `note` says so.
  absl::StatusOr<std::unique_ptr<VectorIndex>> BuildFromStore(const std::string& v, Modality m,
                                                              int dim, std::string* note) {
    VectorIndexOptions o = options.index;
    o.dim = dim;
    MATALIGN_ASSIGN_OR_RETURN(std::unique_ptr<VectorIndex> index, VectorIndex::Create(o));
    absl::Status s = Rebuild(index.get(), v, m);
    if (!s.ok() && index->needs_training()) {
      *note = absl::StrCat(note->empty() ? "" : "; ", o.factory, " not trained (", s.message(),
                           "): exact Flat search until a rebuild");
      o.factory = "Flat";
      MATALIGN_ASSIGN_OR_RETURN(index, VectorIndex::Create(o));
      s = Rebuild(index.get(), v, m);
    }
    MATALIGN_RETURN_IF_ERROR(s);
    return index;
  }

  // A new, empty index for the first vectors of a modality in the current version. Index
  // types that need training start as Flat (they cannot be trained on a handful of vectors);
  // the next rebuild (Open with `rebuild`, SetModelVersion) uses the configured type.
  absl::StatusOr<std::unique_ptr<VectorIndex>> NewIndex(int dim) {
    VectorIndexOptions o = options.index;
    o.dim = dim;
    MATALIGN_ASSIGN_OR_RETURN(std::unique_ptr<VectorIndex> index, VectorIndex::Create(o));
    if (!index->needs_training()) return index;
    o.factory = "Flat";
    return VectorIndex::Create(o);
  }

  struct Built {
    std::map<Modality, std::shared_ptr<VectorIndex>> indexes;
    std::vector<IndexLoadReport> reports;
  };

  // Builds the indexes of version `v` (snapshot + replay, or from the store) without
  // touching the ones in use.
  absl::StatusOr<Built> BuildIndexes(const std::string& v, bool allow_snapshots) {
    Built built;
    for (const auto& [version, dims] : store->VectorVersions()) {
      if (version != v) continue;
      for (const auto& [m, dim] : dims) {
        const auto start = std::chrono::steady_clock::now();
        IndexLoadReport report;
        report.modality = m;
        std::unique_ptr<VectorIndex> index;
        if (allow_snapshots) {
          auto loaded = FromSnapshot(v, m, dim, &report);
          if (loaded.ok()) {
            index = *std::move(loaded);
          } else {
            // A snapshot that cannot be caught up is not fatal: the store has everything.
            report.note = absl::StrCat("snapshot not used: ", loaded.status().message());
            report.from_snapshot = false;
            report.replayed_changes = 0;
          }
        } else {
          report.note = "rebuild requested";
        }
        if (index == nullptr) {
          MATALIGN_ASSIGN_OR_RETURN(index, BuildFromStore(v, m, dim, &report.note));
        }
        report.vectors = index->size();
        report.seconds = SecondsSince(start);
        built.reports.push_back(report);
        built.indexes[m] = std::move(index);
      }
    }
    return built;
  }

  void Install(const std::string& v, Built built) {
    absl::MutexLock lock(&mu);
    version = v;
    indexes = std::move(built.indexes);
    reports = std::move(built.reports);
    dirty = false;
  }

  // Creates indexes for modalities of the current version that `records` bring first.
  absl::Status EnsureIndexes(const std::vector<const StoredRecord*>& records)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu) {
    absl::MutexLock lock(&mu);
    for (const StoredRecord* r : records) {
      for (const StoredVector& sv : r->vectors) {
        if (sv.model_version != version || indexes.count(sv.modality) > 0) continue;
        MATALIGN_ASSIGN_OR_RETURN(std::unique_ptr<VectorIndex> index,
                                  NewIndex(static_cast<int>(sv.values.size())));
        indexes[sv.modality] = std::move(index);
      }
    }
    return absl::OkStatus();
  }

  // Applies committed `records` to every index of the current version. A failure leaves
  // the indexes behind the store: they are marked dirty and rebuilt before the next
  // snapshot, so that a snapshot never records a state the store does not have.
  absl::Status ApplyAll(const std::vector<uint64_t>& keys,
                        const std::vector<const StoredRecord*>& records)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu) {
    std::map<Modality, std::shared_ptr<VectorIndex>> current;
    std::string v;
    {
      absl::ReaderMutexLock lock(&mu);
      current = indexes;
      v = version;
    }
    for (const auto& [m, index] : current) {
      absl::Status s = Apply(index.get(), keys, records, v, m);
      if (!s.ok()) {
        absl::MutexLock lock(&mu);
        dirty = true;
        return absl::Status(s.code(),
                            absl::StrCat("written to the store, but the ", ModalityName(m),
                                         " index failed (it will be "
                                         "rebuilt from the store): ",
                                         s.message()));
      }
    }
    return absl::OkStatus();
  }

  // After a committed write of `records`: the first vectors of a new collection choose its
  // model version (indexes built from the store, then the version recorded); otherwise the
  // indexes of the current version follow.
  absl::Status FollowWrite(const std::vector<StoredRecord>& records)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu);

  absl::Status SnapshotLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu) {
    if (options.store.read_only) return absl::OkStatus();
    std::string v;
    std::map<Modality, std::shared_ptr<VectorIndex>> current;
    {
      absl::ReaderMutexLock lock(&mu);
      v = version;
      current = indexes;
    }
    if (v.empty()) return absl::OkStatus();
    bool rebuild;
    {
      absl::ReaderMutexLock lock(&mu);
      rebuild = dirty;
    }
    if (rebuild) {
      MATALIGN_ASSIGN_OR_RETURN(Built built, BuildIndexes(v, /*allow_snapshots=*/false));
      current = built.indexes;
      Install(v, std::move(built));
    }
    // With async durability the store's log may still sit in the page cache: a snapshot
    // must never be ahead of what a machine crash leaves of the store.
    MATALIGN_RETURN_IF_ERROR(store->SyncWal());
    const uint64_t seq = store->last_sequence();
    std::error_code ec;
    fs::create_directories(absl::StrCat(dir, "/snapshots/", v), ec);
    if (ec) return absl::InternalError(absl::StrCat("creating snapshot dir: ", ec.message()));
    for (const auto& [m, index] : current) {
      MATALIGN_RETURN_IF_ERROR(index->Save(SnapshotPath(v, m), seq));
    }
    MATALIGN_RETURN_IF_ERROR(SaveAttributes(seq));
    return store->TrimChanges(seq);
  }
};

Collection::Collection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Collection::~Collection() {
  if (impl_->options.snapshot_on_close) {
    absl::MutexLock lock(&impl_->write_mu);
    absl::Status s = impl_->SnapshotLocked();
    if (!s.ok()) {
      std::fprintf(stderr, "collection %s: snapshot on close failed: %s\n", impl_->dir.c_str(),
                   std::string(s.message()).c_str());
    }
  }
}

absl::StatusOr<std::unique_ptr<Collection>> Collection::Open(const std::string& dir,
                                                             const CollectionOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  impl->options = options;
  if (!options.store.read_only) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return absl::InternalError(absl::StrCat("creating ", dir, ": ", ec.message()));
  }
  MATALIGN_ASSIGN_OR_RETURN(impl->store, RecordStore::Open(dir + "/store", options.store));
  MATALIGN_RETURN_IF_ERROR(impl->LoadAllAttributes(!options.rebuild));
  const std::string version = impl->store->model_version();
  if (!version.empty()) {
    MATALIGN_ASSIGN_OR_RETURN(Impl::Built built, impl->BuildIndexes(version, !options.rebuild));
    impl->Install(version, std::move(built));
  }
  return std::unique_ptr<Collection>(new Collection(std::move(impl)));
}

namespace {

// The keys of `records` and pointers to them, as Impl::ApplyAll takes them.
void KeysOf(const std::vector<StoredRecord>& records, std::vector<uint64_t>* keys,
            std::vector<const StoredRecord*>* pointers) {
  for (const StoredRecord& r : records) {
    keys->push_back(r.key);
    pointers->push_back(&r);
  }
}

}  // namespace

absl::Status Collection::Impl::FollowWrite(const std::vector<StoredRecord>& records) {
  Impl& d = *this;
  std::string v;
  {
    absl::ReaderMutexLock lock(&d.mu);
    v = d.version;
  }
  if (v.empty()) {
    for (const StoredRecord& r : records) {
      if (!r.vectors.empty()) {
        v = r.vectors[0].model_version;
        break;
      }
    }
    if (v.empty()) return absl::OkStatus();
    MATALIGN_ASSIGN_OR_RETURN(Built built, d.BuildIndexes(v, /*allow_snapshots=*/false));
    MATALIGN_RETURN_IF_ERROR(d.store->SetModelVersion(v));
    d.Install(v, std::move(built));
    return absl::OkStatus();
  }
  std::vector<uint64_t> keys;
  std::vector<const StoredRecord*> pointers;
  KeysOf(records, &keys, &pointers);
  MATALIGN_RETURN_IF_ERROR(d.EnsureIndexes(pointers));
  return d.ApplyAll(keys, pointers);
}

absl::StatusOr<uint64_t> Collection::Put(std::vector<StoredRecord>& records) {
  Impl& d = *impl_;
  absl::MutexLock write_lock(&d.write_mu);
  MATALIGN_ASSIGN_OR_RETURN(uint64_t seq, d.store->Put(records));
  {
    absl::MutexLock lock(&d.mu);
    for (const StoredRecord& r : records) d.attributes[r.key] = d.AttributesOf(r.record);
  }
  MATALIGN_RETURN_IF_ERROR(d.FollowWrite(records));
  return seq;
}

absl::StatusOr<uint64_t> Collection::PutVectors(uint64_t key,
                                                const std::vector<StoredVector>& vectors) {
  Impl& d = *impl_;
  absl::MutexLock write_lock(&d.write_mu);
  MATALIGN_ASSIGN_OR_RETURN(uint64_t seq, d.store->PutVectors(key, vectors));
  // The index update needs the record's vectors of the current version: all of them, since
  // Apply removes ids without one.
  GetOptions vectors_only;
  vectors_only.raw = false;
  MATALIGN_ASSIGN_OR_RETURN(StoredRecord r, d.store->Get(key, vectors_only));
  std::vector<StoredRecord> records;
  records.push_back(std::move(r));
  MATALIGN_RETURN_IF_ERROR(d.FollowWrite(records));
  return seq;
}

absl::StatusOr<uint64_t> Collection::Delete(const std::vector<uint64_t>& keys, int64_t* deleted) {
  Impl& d = *impl_;
  absl::MutexLock write_lock(&d.write_mu);
  MATALIGN_ASSIGN_OR_RETURN(uint64_t seq, d.store->Delete(keys, deleted));
  {
    absl::MutexLock lock(&d.mu);
    for (uint64_t k : keys) d.attributes.erase(k);
  }
  std::vector<uint64_t> valid;
  for (uint64_t k : keys) {
    if (k <= static_cast<uint64_t>(INT64_MAX)) valid.push_back(k);  // others were never stored
  }
  MATALIGN_RETURN_IF_ERROR(d.ApplyAll(valid, std::vector<const StoredRecord*>(valid.size())));
  return seq;
}

absl::StatusOr<std::vector<int64_t>> Collection::MatchingKeys(const RecordFilter& filter) const {
  MATALIGN_RETURN_IF_ERROR(filter.Validate());
  const Impl& d = *impl_;
  std::bitset<materials::kMaxAtomicNumber + 1> required, excluded;
  for (const auto& e : filter.required_elements) {
    required.set(materials::ElementBySymbol(e)->atomic_number);
  }
  for (const auto& e : filter.excluded_elements) {
    excluded.set(materials::ElementBySymbol(e)->atomic_number);
  }
  std::set<corpus::MaterialClass> classes;
  for (const auto& c : filter.material_classes) classes.insert(*corpus::ParseMaterialClass(c));
  std::vector<int64_t> out;
  absl::ReaderMutexLock lock(&d.mu);
  std::vector<bool> route_ok(d.routes.size(), filter.routes.empty());
  for (size_t i = 0; i < d.routes.size(); ++i) {
    for (const auto& r : filter.routes) route_ok[i] = route_ok[i] || d.routes[i] == r;
  }
  for (const auto& [key, a] : d.attributes) {
    if ((a.elements & required) != required || (a.elements & excluded).any()) continue;
    if (!filter.routes.empty() && (a.route < 0 || !route_ok[a.route])) continue;
    if (!classes.empty() && classes.count(a.material_class) == 0) continue;
    out.push_back(static_cast<int64_t>(key));
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<std::vector<std::vector<Hit>>> Collection::Search(Modality modality,
                                                                 const float* queries, int64_t n,
                                                                 int dim, int k,
                                                                 const RecordFilter& filter) const {
  std::shared_ptr<VectorIndex> index;
  std::string v;
  {
    absl::ReaderMutexLock lock(&impl_->mu);
    auto it = impl_->indexes.find(modality);
    if (it != impl_->indexes.end()) index = it->second;
    v = impl_->version;
  }
  if (index == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no ", ModalityName(modality), " vectors to search",
        v.empty() ? " (the collection has no model version yet)" : " in model version " + v));
  }
  if (dim != index->dim()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "query dimension ", dim, " but the ", ModalityName(modality), " index has ", index->dim()));
  }
  std::unique_ptr<AllowedIds> allowed;
  if (!filter.empty()) {
    MATALIGN_ASSIGN_OR_RETURN(std::vector<int64_t> keys, MatchingKeys(filter));
    allowed = std::make_unique<AllowedIds>(std::move(keys));
  }
  MATALIGN_ASSIGN_OR_RETURN(SearchResult result, index->Search(queries, n, k, allowed.get()));
  std::vector<std::vector<Hit>> out(n);
  for (int64_t q = 0; q < n; ++q) {
    for (int j = 0; j < result.k; ++j) {
      const int64_t id = result.ids[q * result.k + j];
      if (id < 0) continue;
      out[q].push_back({static_cast<uint64_t>(id), result.scores[q * result.k + j]});
    }
  }
  return out;
}

absl::Status Collection::SetModelVersion(const std::string& version) {
  Impl& d = *impl_;
  absl::MutexLock write_lock(&d.write_mu);
  // Build first: if that fails, the store still names the version that serves.
  MATALIGN_ASSIGN_OR_RETURN(Impl::Built built, d.BuildIndexes(version, /*allow_snapshots=*/false));
  MATALIGN_RETURN_IF_ERROR(d.store->SetModelVersion(version));
  d.Install(version, std::move(built));
  return absl::OkStatus();
}

absl::Status Collection::DeleteModelVersion(const std::string& version) {
  absl::MutexLock write_lock(&impl_->write_mu);
  return impl_->store->DeleteModelVersion(version);
}

absl::Status Collection::Snapshot() {
  absl::MutexLock write_lock(&impl_->write_mu);
  return impl_->SnapshotLocked();
}

const RecordStore& Collection::store() const { return *impl_->store; }

int64_t Collection::size() const {
  absl::ReaderMutexLock lock(&impl_->mu);
  return static_cast<int64_t>(impl_->attributes.size());
}

std::string Collection::model_version() const {
  absl::ReaderMutexLock lock(&impl_->mu);
  return impl_->version;
}

int64_t Collection::IndexSize(Modality modality) const {
  absl::ReaderMutexLock lock(&impl_->mu);
  auto it = impl_->indexes.find(modality);
  return it == impl_->indexes.end() ? 0 : it->second->size();
}

std::vector<int64_t> Collection::IndexedKeys(Modality modality) const {
  std::shared_ptr<VectorIndex> index;
  {
    absl::ReaderMutexLock lock(&impl_->mu);
    auto it = impl_->indexes.find(modality);
    if (it == impl_->indexes.end()) return {};
    index = it->second;
  }
  return index->Ids();
}

std::vector<IndexLoadReport> Collection::load_reports() const {
  absl::ReaderMutexLock lock(&impl_->mu);
  return impl_->reports;
}

}  // namespace matalign::index
