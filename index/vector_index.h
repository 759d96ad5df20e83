// VectorIndex: inner-product search over the vectors of one modality, backed by FAISS.
//
// The server keeps one VectorIndex per modality. Vectors are identified by caller-chosen
// non-negative 64-bit ids (the record keys); an id is either live (searchable, with one
// vector) or absent. Scores are inner products (cosine similarity for unit vectors), and
// higher is better.
//
// Which FAISS index does the work is chosen by a FAISS index_factory string, always with
// the inner-product metric and always wrapped in an IndexIDMap2 that maps FAISS's
// positions to our ids:
//   "Flat"           exact search (IndexFlatIP); the default.
//   "SQ8", "SQfp16"  exact scan over scalar-quantized vectors (scores are approximate).
//   "HNSW32", "HNSW32,SQ8"  approximate graph search; SQ storage must be trained.
//   "IVF1024,Flat", "IVF1024,SQ8", "IVF1024,PQ32", "IVF1024_HNSW32,Flat"  approximate
//                    inverted-file search; must be trained (Train) before vectors are added.
// Other factory strings are rejected by Create: FAISS 1.7.3 cannot restrict the searches of
// PQ without IVF, fast-scan "x4fs" codes, NSG, pre-transforms ("PCA64,...", "OPQ...") or
// refinement ("RFlat") to an id subset, which filters and removal need; and its factory
// builds "HNSW<M>,PQ<m>" with the L2 metric.
//
// Removal: Flat and SQ indexes delete natively (cost O(size) per Upsert/Remove call that
// replaces or removes something, so batch them). HNSW and IVF cannot delete (IVF's removal
// desynchronizes IndexIDMap2 in FAISS 1.7.3), so a removed vector stays in the FAISS index
// as a tombstone that no search returns; when tombstones exceed
// `max_tombstone_fraction` of the live vectors, the write that crossed the line rebuilds the
// index from the live vectors (Compact).
//
// GPU: in a build against a FAISS with GPU support (detected at compile time) and with
// `use_gpu`, unfiltered searches of Flat and IVF indexes without tombstones run on a GPU
// copy of the index, refreshed on the first such search after a write (so writes cost a
// full copy to the GPU; the GPU suits read-mostly serving). Everything else, and every
// build without FAISS GPU, runs on the CPU.
//
// Speed (bench/vector_index_bench, d = 256, 2 cores): Debian's libfaiss 1.7.3 is built for
// baseline x86-64 (no AVX2), so a one-query Flat scan of 1M vectors takes ~180 ms (batches
// of 64 go through BLAS, ~30x faster per query); HNSW32 answers in ~0.9 ms at recall@10
// 0.98 but inserts only ~2300-2800 vectors/s. Use HNSW beyond ~100k vectors per modality.
//
// This header does not include FAISS.
#ifndef MATALIGN_INDEX_VECTOR_INDEX_H_
#define MATALIGN_INDEX_VECTOR_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"

namespace matalign::index {

// The largest k a search may ask for.
inline constexpr int kMaxSearchK = 1024;

struct VectorIndexOptions {
  // Dimension of every vector. Required, 1 to 65536.
  int dim = 0;

  // FAISS index_factory string (see the file comment for what is supported). The metric is
  // always inner product. Ignored by Load, which uses the factory stored in the snapshot.
  // Default: "Flat" (exact search).
  std::string factory = "Flat";

  // HNSW beam width at search time (FAISS efSearch; the beam is never narrower than k).
  // Default: 128. Measured with FAISS 1.7.3, HNSW32, ef_construction 80, 20k random unit
  // vectors of d = 64 (the hard case: no cluster structure), recall@10 against exact
  // search was 0.89 at 64, 0.95 at 96, 0.978 at 128, 0.998 at 256; clustered data of the
  // same size reaches 0.995 at 32. Search time grows about linearly with it.
  int hnsw_ef_search = 128;

  // HNSW beam width while inserting (FAISS efConstruction). Applies to later insertions
  // only. Default: 80 (FAISS's 40 loses ~1.5 points of recall@10 on the data above for
  // ~20% faster insertion).
  int hnsw_ef_construction = 80;

  // Inverted lists an IVF search visits (FAISS nprobe). Default: 16 (FAISS's default is 1).
  int ivf_nprobe = 16;

  // OpenMP threads for FAISS calls made by this index (training, insertion, batched
  // searches; a one-query search uses one thread). The caller's OpenMP setting is restored
  // after each call. Default: 0 = the number of cores.
  int threads = 0;

  // A filtered search whose AllowedIds holds at most this many ids is answered exactly by
  // scoring just those vectors. Larger filters go through FAISS with an IDSelector; HNSW
  // then widens its beam to max(ef / sqrt(f), 2k / f) for an allowed fraction f, and a
  // filter too selective for a beam of 2048 (f < k / 1024) is answered exactly as well,
  // since the graph walk would find too few allowed vectors. Default: 8192. Measured
  // (bench/vector_index_bench, d = 256, HNSW32, k = 10, 2 cores, ms per query): exact path
  // 1.1 for 4k ids and 2.2 for 8k of N = 100k, 1.9 and 5.4 of N = 1M (cache misses);
  // IDSelector 4.2 for 8k of 100k (recall@10 0.983), 2.2-2.3 for 22-28% of 100k and for 3%
  // of 1M, 1.4 for 22% of 1M (recall@10 >= 0.996); unfiltered HNSW 0.8-0.9.
  int64_t exact_filter_below = 8192;

  // HNSW/IVF only: when removed-but-still-stored vectors (tombstones) exceed this fraction
  // of the live vectors, the index is rebuilt from the live vectors. Default: 0.25.
  double max_tombstone_fraction = 0.25;

  // Use a GPU when FAISS was built with GPU support and a device is present. Default: true.
  bool use_gpu = true;

  // Returns InvalidArgument naming the first field out of range.
  absl::Status Validate() const;
};

// The ids a filtered search may return, typically computed by the caller from metadata.
// Immutable; cheap membership tests (binary search).
class AllowedIds {
 public:
  // `ids` in any order, with repetitions; negative ids (never stored) are dropped.
  explicit AllowedIds(std::vector<int64_t> ids);

  // Returns whether `id` may be returned.
  bool Contains(int64_t id) const;
  // Number of distinct allowed ids.
  size_t size() const { return ids_.size(); }
  // The allowed ids, sorted ascending, without repetitions.
  const std::vector<int64_t>& ids() const { return ids_; }

 private:
  std::vector<int64_t> ids_;
};

// The answer to a batch of queries: row q holds the best k hits of query q, best first.
struct SearchResult {
  int64_t num_queries = 0;
  int k = 0;
  // [num_queries, k] row-major. A row with fewer than k hits is padded with id -1.
  std::vector<int64_t> ids;
  // [num_queries, k] inner products; padding is -infinity.
  std::vector<float> scores;

  // The j-th best id of query q (-1 for padding). Requires q < num_queries, j < k.
  int64_t id(int64_t q, int j) const { return ids[static_cast<size_t>(q) * k + j]; }
  // The j-th best score of query q. Requires q < num_queries, j < k.
  float score(int64_t q, int j) const { return scores[static_cast<size_t>(q) * k + j]; }
};

// A FAISS vector index with 64-bit ids, filters, removal and snapshots.
//
// Thread safety: a reader-writer lock. Search, Contains, Reconstruct, Ids, size,
// MemoryBytes and Save take it shared and may run concurrently with each other (FAISS's
// CPU search is const and re-entrant); Train, Upsert, Remove and Compact take it exclusive,
// so a write waits for running searches and blocks new ones until it is done. Each search
// sees every write entirely or not at all. Save holds off writes (not searches) while it
// writes the file. A write that triggers a rebuild (Compact) blocks
// searches for the rebuild: seconds for 100k HNSW vectors, minutes for millions.
class VectorIndex {
 public:
  // Creates an empty index. Errors: InvalidArgument for bad options, an unparsable factory
  // string or an unsupported index type (the message names the factory and the FAISS type).
  static absl::StatusOr<std::unique_ptr<VectorIndex>> Create(const VectorIndexOptions& options);

  // Loads a snapshot written by Save. Returns the index and the sequence number passed to
  // Save. `options` supply everything but the factory, which comes from the file; their
  // `dim` must equal the snapshot's. The whole file is checksummed before FAISS parses it.
  // Errors (each names the path): NotFound (no file); InvalidArgument (bad options, not a
  // regular file, dim differs from the snapshot's); DataLoss (not a snapshot, truncated,
  // checksum mismatch, or FAISS cannot parse it); FailedPrecondition (a newer snapshot
  // format than this build reads); otherwise the errno-derived status.
  static absl::StatusOr<std::pair<std::unique_ptr<VectorIndex>, uint64_t>> Load(
      const std::string& path, const VectorIndexOptions& options);

  ~VectorIndex();
  VectorIndex(const VectorIndex&) = delete;
  VectorIndex& operator=(const VectorIndex&) = delete;

  // Writes a snapshot of the index and `sequence` (the caller's log position it reflects)
  // to `path`, atomically: a temporary file in the same directory (created if missing) is
  // written, fsynced and renamed over `path`, and the directory is fsynced. A reader sees
  // the old snapshot or the new one. Errors: the errno-derived status naming the path;
  // Internal if FAISS fails to serialize.
  absl::Status Save(const std::string& path, uint64_t sequence) const;

  // Whether Train must be called before vectors can be added (untrained IVF or PQ/SQ codes).
  bool needs_training() const;

  // Trains the index on `vectors` (n * dim floats, n = vectors.size() / dim), e.g. a sample
  // of the data to be indexed (IVF needs at least as many vectors as lists, better 40x).
  // A no-op for index types that need no training. Errors: InvalidArgument for a size that
  // is not a multiple of dim, non-finite values or too few vectors; FailedPrecondition if
  // the index was trained already.
  absl::Status Train(absl::Span<const float> vectors);
  // Same, with `n` vectors of dim floats at `x`.
  absl::Status Train(const float* x, int64_t n);

  // Adds vectors, replacing the vector of an id that is present already. `vectors` holds
  // ids.size() rows of dim floats. If an id occurs several times in one call, the last row
  // wins. Validation happens before anything changes: InvalidArgument for a size mismatch
  // (naming both sizes), a negative id or a non-finite value (naming the row);
  // FailedPrecondition if the index needs training. Internal if FAISS fails; the index may
  // then miss some ids of this call (rebuild it from the store).
  absl::Status Upsert(absl::Span<const int64_t> ids, absl::Span<const float> vectors);
  // Same, with `n` ids at `ids` and n * dim floats at `x`.
  absl::Status Upsert(const int64_t* ids, const float* x, int64_t n);

  // Removes the vectors of `ids`. It is not an error if an id is absent; `*removed` (if not
  // null) receives the number of ids that were present. Errors: InvalidArgument for a
  // negative id (nothing is removed); Internal if FAISS fails.
  absl::Status Remove(absl::Span<const int64_t> ids, int64_t* removed = nullptr);
  // Same, with `n` ids at `ids`.
  absl::Status Remove(const int64_t* ids, int64_t n, int64_t* removed = nullptr);

  // Rebuilds the FAISS index from the live vectors, dropping tombstones (a no-op without
  // tombstones). Writes call this on their own (see max_tombstone_fraction). Errors:
  // Internal if FAISS fails; the index is then unchanged.
  absl::Status Compact();

  // Finds the k best live vectors by inner product for each query. `queries` holds n rows
  // of dim floats (n = queries.size() / dim, may be 0). With `allowed`, only those ids are
  // returned (see VectorIndexOptions::exact_filter_below). Rows with fewer than k live
  // (allowed) vectors, or fewer found by an approximate index, are padded (see
  // SearchResult). Errors: InvalidArgument for k outside [1, kMaxSearchK], a size that is
  // not a multiple of dim, or a non-finite value (naming the query row); Internal if FAISS
  // fails.
  absl::StatusOr<SearchResult> Search(absl::Span<const float> queries, int k,
                                      const AllowedIds* allowed = nullptr) const;
  // Same, with `n` queries of dim floats at `queries`.
  absl::StatusOr<SearchResult> Search(const float* queries, int64_t n, int k,
                                      const AllowedIds* allowed = nullptr) const;

  // Returns whether `id` is live.
  bool Contains(int64_t id) const;

  // Returns the stored vector of `id` (dim floats): exactly what was added for Flat,
  // HNSW-Flat and IVF-Flat, the decoded approximation for SQ/PQ codes. NotFound if `id`
  // is not live.
  absl::StatusOr<std::vector<float>> Reconstruct(int64_t id) const;

  // The live ids, sorted ascending (for consistency checks against the record store).
  std::vector<int64_t> Ids() const;

  // Number of live vectors.
  int64_t size() const;
  // Number of removed vectors still stored (always 0 for Flat/SQ).
  int64_t num_tombstones() const;
  // Dimension of the vectors.
  int dim() const { return dim_; }
  // The FAISS factory string the index was built with.
  const std::string& factory() const { return factory_; }

  // Bytes of the index's data (vectors or codes, graph links, inverted lists, id maps),
  // computed from the number of elements in each array. Not counted: spare capacity of
  // growing arrays (up to 2x after many small Upserts, mostly not resident), heap overhead
  // and FAISS's per-search scratch; the bench reports both this and RSS growth.
  size_t MemoryBytes() const;

 private:
  struct State;  // the FAISS objects (vector_index.cc)

  VectorIndex(int dim, std::string factory, std::unique_ptr<State> state);

  // Rebuilds without tombstones. Requires mu_ held exclusively.
  absl::Status CompactLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int dim_;
  const std::string factory_;
  mutable absl::Mutex mu_;
  const std::unique_ptr<State> state_ ABSL_PT_GUARDED_BY(mu_);
};

}  // namespace matalign::index

#endif  // MATALIGN_INDEX_VECTOR_INDEX_H_
