// Collection: a RecordStore and the vector indexes over it, kept in step. This is what the
// server holds: writes go to the store first (the source of truth) and then to the indexes;
// searches go to the indexes; a metadata filter narrows a search to matching records.
//
// On disk, in one directory:
//   store/                                   the RecordStore (RocksDB)
//   snapshots/<model version>/<modality>.faiss  index snapshots, each with the store sequence
//                                             number it reflects
// Open loads each snapshot and replays the store's change log beyond its sequence number,
// or rebuilds the index from the store when there is no usable snapshot. Either way, after
// Open the indexes hold exactly the store's vectors of the current model version: a crash
// at any point loses nothing the store acknowledged.
#ifndef MATALIGN_INDEX_COLLECTION_H_
#define MATALIGN_INDEX_COLLECTION_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "index/record_store.h"
#include "index/vector_index.h"

namespace matalign::index {

// Which records a search may return. Empty fields do not filter.
struct RecordFilter {
  // Every one of these elements must occur in the record's composition.
  std::vector<std::string> required_elements;
  // None of these may occur.
  std::vector<std::string> excluded_elements;
  // The record's synthesis route must be one of these ("solid-state", "sol-gel", ...).
  std::vector<std::string> routes;
  // The record's material class must be one of these ("crystalline", "amorphous", "nano").
  std::vector<std::string> material_classes;

  bool empty() const {
    return required_elements.empty() && excluded_elements.empty() && routes.empty() &&
           material_classes.empty();
  }
  // InvalidArgument for an unknown element symbol or material class.
  absl::Status Validate() const;
};

struct CollectionOptions {
  // The record store (durability, cache).
  RecordStoreOptions store;
  // Options of every vector index; `dim` is taken from the store per modality.
  // Default: exact search ("Flat").
  VectorIndexOptions index;
  // Ignore snapshots and rebuild every index from the store on Open. Default: false.
  bool rebuild = false;
  // Write snapshots when the collection is closed (destroyed). Default: true.
  bool snapshot_on_close = true;

  absl::Status Validate() const;
};

// One search hit: a record key and its inner-product score.
struct Hit {
  uint64_t key = 0;
  float score = 0;
};

// How Open brought an index up to date.
struct IndexLoadReport {
  Modality modality = Modality::kStructure;
  bool from_snapshot = false;  // false: rebuilt from the store
  uint64_t snapshot_sequence = 0;
  int64_t replayed_changes = 0;  // change entries applied after the snapshot
  int64_t vectors = 0;           // vectors in the index after Open
  double seconds = 0;
  std::string note;  // why a snapshot was not used, if it was not
};

// Thread safety: Search, Get and the accessors may be called concurrently with each other
// and with one write at a time; writes (Put, Delete, Snapshot, SetModelVersion) are
// serialized internally. A search sees each write either entirely or not at all per index
// (a Put that touches two modalities may be visible in one index before the other).
class Collection {
 public:
  // Opens or creates the collection in `dir` (see the file comment). Errors: those of
  // RecordStore::Open and VectorIndex::Create; snapshot problems are not errors (the index
  // is rebuilt and the report says why).
  static absl::StatusOr<std::unique_ptr<Collection>> Open(const std::string& dir,
                                                          const CollectionOptions& options);
  ~Collection();
  Collection(const Collection&) = delete;
  Collection& operator=(const Collection&) = delete;

  // Writes `records` to the store (one atomic batch, see RecordStore::Put), then updates the
  // indexes of the current model version. Returns the store sequence number of the write.
  absl::StatusOr<uint64_t> Put(std::vector<StoredRecord>& records);
  // Adds or replaces vectors of stored record `key` (RecordStore::PutVectors), e.g. those of
  // a new model version being prepared while the current one serves; vectors of the current
  // version also go to its indexes. Returns the store sequence number of the write.
  absl::StatusOr<uint64_t> PutVectors(uint64_t key, const std::vector<StoredVector>& vectors);
  // Deletes records from the store and the indexes. `deleted` as in RecordStore::Delete.
  absl::StatusOr<uint64_t> Delete(const std::vector<uint64_t>& keys, int64_t* deleted = nullptr);

  // The top `k` records by inner product with each query (queries: n * dim floats, dim of
  // `modality`'s index), restricted to records matching `filter`. Result: n rows, each with
  // up to k hits, best first. Errors: FailedPrecondition when there is no index for
  // `modality` (no vectors of it in the current model version); InvalidArgument for a bad
  // dimension, k outside [1, 1024] or a bad filter.
  absl::StatusOr<std::vector<std::vector<Hit>>> Search(Modality modality, const float* queries,
                                                       int64_t n, int dim, int k,
                                                       const RecordFilter& filter = {}) const;
  // Keys of the records matching `filter` (sorted).
  absl::StatusOr<std::vector<int64_t>> MatchingKeys(const RecordFilter& filter) const;

  // Makes `version` the searched model version: builds its indexes from the store while
  // searches keep using the current ones, then swaps them in at once. Writes wait.
  absl::Status SetModelVersion(const std::string& version);
  // Deletes every stored vector of `version` (a model no longer served; see
  // RecordStore::DeleteModelVersion). FailedPrecondition for the current version.
  absl::Status DeleteModelVersion(const std::string& version);
  // Saves every index with the store's current sequence number and trims the change log.
  absl::Status Snapshot();

  // The underlying store (reads; writes must go through the collection).
  const RecordStore& store() const;
  // Records in the collection (exact; from the in-memory filter attributes).
  int64_t size() const;
  // The current model version ("" when none).
  std::string model_version() const;
  // Live vectors in `modality`'s index (0 when there is none).
  int64_t IndexSize(Modality modality) const;
  // Live vector ids of `modality`'s index, sorted (empty when there is none); for checks.
  std::vector<int64_t> IndexedKeys(Modality modality) const;
  // How Open (or the last SetModelVersion) brought each index up.
  std::vector<IndexLoadReport> load_reports() const;

 private:
  struct Impl;
  explicit Collection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace matalign::index

#endif  // MATALIGN_INDEX_COLLECTION_H_
