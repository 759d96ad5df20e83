// RecordStore: the durable memory of the server. Every ingested material (its metadata, its
// raw inputs and its vectors per modality and model version) lives in one RocksDB database.
// The store is the source of truth; vector indexes are rebuilt from it (index/collection.h).
//
// Layout (column families; keys are big-endian so that they sort numerically):
//   records  key(8)                          -> JSON: the corpus::Record without its raw texts,
//                                               plus the list of vectors the record has
//   raw      key(8) 's' | 't' | 'i' idx(2)   -> structure text | synthesis text | image bytes
//   vectors  len(1) version modality(1) key(8) -> float32 little-endian values
//   changes  seq(8) key(8)                   -> op(1): 'p' put | 'd' delete
//   meta     "schema_version", "model_version", "last_sequence", "dim/<version>/<modality>"
// A record, its raw inputs, its vectors and its change entry are written in one WriteBatch:
// after a crash they are all there or none is.
#ifndef MATALIGN_INDEX_RECORD_STORE_H_
#define MATALIGN_INDEX_RECORD_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "corpus/record.h"

namespace matalign::index {

// The schema this build writes and the newest it can read.
inline constexpr int kStoreSchemaVersion = 1;

// Which kind of evidence a vector embeds (numbering as in proto/matalign/v1/matalign.proto).
enum class Modality : uint8_t { kStructure = 1, kText = 2, kImage = 3, kProperty = 4 };
inline constexpr Modality kAllModalities[] = {Modality::kStructure, Modality::kText,
                                              Modality::kImage, Modality::kProperty};

// "structure" | "text" | "image" | "property".
absl::string_view ModalityName(Modality m);
// Parses a ModalityName. InvalidArgument for anything else.
absl::StatusOr<Modality> ParseModality(absl::string_view name);

// How far a Put has travelled when it returns.
enum class Durability {
  // Each Put/Delete call is one WAL write followed by fsync: an acknowledged write survives a
  // machine crash or power loss. Concurrent callers are serialized; group many records into
  // one Put call (the server's ingest batching does) so that one fsync covers them all.
  kSync,
  // The WAL write reaches the operating system but is not fsynced: an acknowledged write
  // survives a crash of the process, while a machine crash may lose the last writes (never
  // half a record). Many times faster for bulk ingest.
  kAsync,
};

// "sync" | "async".
absl::string_view DurabilityName(Durability d);
absl::StatusOr<Durability> ParseDurability(absl::string_view name);

struct RecordStoreOptions {
  // See Durability. Default: kSync.
  Durability durability = Durability::kSync;
  // Create the database (and its directory) when the directory holds none. Default: true.
  bool create_if_missing = true;
  // Open without writing (for checks while another process owns the store; Put and Delete
  // return FailedPrecondition). Default: false.
  bool read_only = false;
  // Size of RocksDB's block cache in bytes. Default: 256 MiB.
  int64_t block_cache_bytes = int64_t{256} << 20;
  // RocksDB flush and compaction threads. Default: 2.
  int background_jobs = 2;

  // InvalidArgument naming the first field out of range.
  absl::Status Validate() const;
};

// One vector of a record: what it embeds, the model version that made it, its values.
struct StoredVector {
  Modality modality = Modality::kStructure;
  std::string model_version;
  std::vector<float> values;
};

// Everything the store keeps about one material.
struct StoredRecord {
  // 64-bit key, also the id of the record's vectors in the vector indexes. 0 = derive it
  // from record.id with KeyForName.
  uint64_t key = 0;
  // Metadata and raw texts. record.id is the material's name (unique in the store);
  // record.structure holds the structure file's text (structure->text, format) and
  // structure->path the original file name (may be empty); record.synthesis->text is the
  // protocol. record.images[i] names an image (path = original file name, kind).
  corpus::Record record;
  // The bytes of record.images[i] (same length as record.images).
  std::vector<std::string> image_bytes;
  // Vectors; at most one per (modality, model_version).
  std::vector<StoredVector> vectors;
};

// What Get and MultiGet read besides the metadata.
struct GetOptions {
  // Structure text, synthesis text and image bytes. Default: true.
  bool raw = true;
  // Vectors (of every model version). Default: true.
  bool vectors = true;
};

// One entry of the change log: record `key` was put or deleted by write `sequence`.
struct Change {
  uint64_t sequence = 0;
  uint64_t key = 0;
  bool deleted = false;
};

// What Check found.
struct CheckReport {
  int64_t records = 0;
  int64_t vectors = 0;
  int64_t raw_entries = 0;
  // Problems, one line each ("record 12 ('x'): ..."); at most `max_problems` are kept.
  std::vector<std::string> problems;
  int64_t num_problems = 0;
};

// A durable record store on RocksDB.
//
// Thread safety: all methods may be called concurrently. Reads (Get, MultiGet, ForEach*)
// run in parallel with each other and with writes and see each record either entirely
// before or entirely after any write. Writes (Put, PutVectors, Delete, SetModelVersion,
// DeleteModelVersion) are serialized by an internal mutex.
class RecordStore {
 public:
  // Opens (or creates) the store in directory `dir`. Errors: InvalidArgument for bad
  // options; NotFound if there is no store and !create_if_missing; FailedPrecondition if
  // the store was written by a newer schema ("... schema version 3; this build reads up to
  // 1") or is locked by another process; Internal/DataLoss for RocksDB errors.
  static absl::StatusOr<std::unique_ptr<RecordStore>> Open(const std::string& dir,
                                                           const RecordStoreOptions& options);
  ~RecordStore();
  RecordStore(const RecordStore&) = delete;
  RecordStore& operator=(const RecordStore&) = delete;

  // The key of a record named `name`: a 63-bit hash (FNV-1a 64, top bit cleared, never 0),
  // so that re-ingesting a material replaces it and the key is a valid FAISS id.
  static uint64_t KeyForName(absl::string_view name);

  // Writes `records` in one atomic WriteBatch (so every record is complete or absent after
  // a crash), replacing earlier records with the same keys entirely (old raw inputs and
  // vectors are removed). Assigns records[i].key when 0. Returns the sequence number of the
  // write (the change entries of the records carry it). Errors: InvalidArgument for an empty
  // name, an image count mismatch, duplicate keys in the call, two vectors of one
  // (modality, version), an empty or non-finite vector, or a dimension that differs from
  // earlier vectors of the same (version, modality) (the message names the record);
  // AlreadyExists if a key is taken by a record with another name; FailedPrecondition when
  // read-only. Nothing is written on error (records[i].key may have been filled in).
  absl::StatusOr<uint64_t> Put(std::vector<StoredRecord>& records);

  // Adds or replaces vectors of existing record `key` (other vectors are kept). Same
  // validation as Put; NotFound for an unknown key. Returns the write's sequence number.
  absl::StatusOr<uint64_t> PutVectors(uint64_t key, const std::vector<StoredVector>& vectors);

  // Reads one record. NotFound if absent.
  absl::StatusOr<StoredRecord> Get(uint64_t key, const GetOptions& options = {}) const;
  // Reads many records from one consistent snapshot; result[i] is NotFound for absent keys.
  std::vector<absl::StatusOr<StoredRecord>> MultiGet(const std::vector<uint64_t>& keys,
                                                     const GetOptions& options = {}) const;
  // The key of the record named `name`, or NotFound.
  absl::StatusOr<uint64_t> Find(absl::string_view name) const;

  // Deletes records (with their raw inputs and vectors) in one atomic batch. It is not an
  // error if a key does not exist; `deleted` (optional) receives how many did. Returns the
  // write's sequence number (unchanged if nothing was deleted).
  absl::StatusOr<uint64_t> Delete(const std::vector<uint64_t>& keys, int64_t* deleted = nullptr);

  // Calls fn(key, values, dim) for every vector of (`model_version`, `modality`) in key
  // order, from one consistent snapshot; `values` points at dim floats valid during the
  // call. Stops early (returning fn's error) when fn returns non-OK.
  absl::Status ForEachVector(
      absl::string_view model_version, Modality modality,
      const std::function<absl::Status(uint64_t key, const float* values, int dim)>& fn) const;
  // Calls fn for every record in key order (metadata only; no raw inputs, no vectors).
  absl::Status ForEachRecord(const std::function<absl::Status(const StoredRecord&)>& fn) const;
  // Calls fn for every change with sequence > `after`, in sequence order.
  absl::Status ForEachChange(uint64_t after,
                             const std::function<absl::Status(const Change&)>& fn) const;
  // Forgets change entries with sequence <= `up_to` (after every index snapshot that could
  // need them is newer).
  absl::Status TrimChanges(uint64_t up_to);

  // Sequence number of the latest write (0 for a new store).
  uint64_t last_sequence() const;
  // The model version whose vectors the server searches ("" when none yet).
  std::string model_version() const;
  absl::Status SetModelVersion(const std::string& version);
  // Deletes every vector of `model_version` (after a swap to a newer model). Not atomic as a
  // whole: the vectors go in batches, each record's vector list with its vectors. Not in the
  // change log (no index of a version other than the current one follows the log).
  // FailedPrecondition for the current model_version().
  absl::Status DeleteModelVersion(const std::string& model_version);
  // Model versions that have vectors, and the dimension per modality:
  // {version -> {modality -> dim}}.
  std::vector<std::pair<std::string, std::vector<std::pair<Modality, int>>>> VectorVersions() const;

  // Reads every record, raw entry and vector and checks that it decodes, that the record
  // lists exactly the raw entries and vectors present, and that every vector has the
  // registered dimension of its (version, modality). Errors only for I/O failures;
  // problems found go to the report.
  absl::StatusOr<CheckReport> Check(int max_problems = 100) const;

  // Approximate number of records (RocksDB's estimate; exact after a full compaction).
  int64_t ApproximateCount() const;
  // Makes every acknowledged write durable against a machine crash (fsyncs RocksDB's log;
  // a no-op cost with sync durability). Called before index snapshots are saved.
  absl::Status SyncWal();
  // Flushes memtables to SST files (used before copying a store; not needed for durability).
  absl::Status Flush();

  const std::string& dir() const;

 private:
  struct Impl;
  explicit RecordStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace matalign::index

#endif  // MATALIGN_INDEX_RECORD_STORE_H_
