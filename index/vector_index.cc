#include "index/vector_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/impl/DistanceComputer.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/impl/io.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>
#include <faiss/invlists/InvertedLists.h>
#include <faiss/utils/distances.h>
#include <fcntl.h>
#include <omp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <exception>
#include <filesystem>
#include <limits>
#include <numeric>
#include <optional>
#include <typeinfo>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

// A FAISS built with GPU support ships these headers; Debian's CPU-only libfaiss-dev does
// not, so this code is compiled only where it can link.
#if defined(__has_include)
#if __has_include(<faiss/gpu/StandardGpuResources.h>)
#include <faiss/gpu/GpuCloner.h>
#include <faiss/gpu/StandardGpuResources.h>
#include <faiss/gpu/utils/DeviceUtils.h>
#define MATALIGN_FAISS_GPU 1
#endif
#endif

namespace matalign::index {
namespace {

using idx_t = faiss::Index::idx_t;

// Snapshot layout (little-endian, as written by x86-64/aarch64 hosts):
//   char[8]  kMagic
//   u32      format version (kFormatVersion)
//   u32      dim
//   u64      sequence
//   u32      factory length, then the factory bytes
//   ...      faiss::write_index of the IndexIDMap2 (tombstones are negative labels)
//   u64      number of FAISS bytes
//   u64      checksum of every byte before it (Checksum below)
constexpr char kMagic[8] = {'M', 'A', 'T', 'V', 'I', 'D', 'X', '\n'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kTrailerBytes = 16;
constexpr size_t kMaxFactoryBytes = 1024;

// The widest HNSW beam a filtered search uses (see FaissSearch).
constexpr int kMaxFilteredBeam = 2048;
// Vectors per batch when rebuilding (bounds the scratch memory of Compact).
constexpr int64_t kCompactBatch = 65536;

// Which FAISS index family a factory string produced; decides removal and search params.
enum class Kind {
  kFlatCodes,  // IndexFlat, IndexScalarQuantizer: exhaustive scan, native removal
  kHnsw,       // IndexHNSWFlat/SQ/PQ: tombstones
  kIvf,        // IndexIVFFlat/ScalarQuantizer/PQ: tombstones, direct map for reconstruct
};

absl::StatusOr<Kind> Classify(const faiss::Index& index) {
  const std::type_info& t = typeid(index);
  std::optional<Kind> kind;
  const faiss::Index* inner = nullptr;  // a component that must share the metric
  if (dynamic_cast<const faiss::IndexFlat*>(&index) != nullptr ||
      t == typeid(faiss::IndexScalarQuantizer)) {
    kind = Kind::kFlatCodes;
  } else if (t == typeid(faiss::IndexHNSWFlat) || t == typeid(faiss::IndexHNSWSQ)) {
    kind = Kind::kHnsw;
    inner = static_cast<const faiss::IndexHNSW&>(index).storage;
  } else if (t == typeid(faiss::IndexIVFFlat) || t == typeid(faiss::IndexIVFScalarQuantizer) ||
             t == typeid(faiss::IndexIVFPQ)) {
    kind = Kind::kIvf;
    inner = static_cast<const faiss::IndexIVF&>(index).quantizer;
  }
  if (!kind.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("builds FAISS type ", t.name(),
                     ", which VectorIndex does not support (supported: Flat, SQ<n>, "
                     "HNSW<M>[,Flat|,SQ<n>], IVF<n>[_HNSW<M>],Flat|SQ<n>|PQ<m>)"));
  }
  // FAISS 1.7.3's factory builds HNSW<M>,PQ<m> with the L2 metric whatever is asked.
  if (index.metric_type != faiss::METRIC_INNER_PRODUCT ||
      (inner != nullptr && inner->metric_type != faiss::METRIC_INNER_PRODUCT)) {
    return absl::InvalidArgumentError(
        absl::StrCat("builds FAISS type ", t.name(), " with a metric other than inner product"));
  }
  return *kind;
}

// The FAISS index whose DistanceComputer scores stored vectors by position without copying
// them, or null (IVF: reconstruct instead).
const faiss::Index* DistanceStorage(Kind kind, const faiss::Index* sub) {
  switch (kind) {
    case Kind::kFlatCodes:
      return sub;
    case Kind::kHnsw:
      return static_cast<const faiss::IndexHNSW*>(sub)->storage;
    case Kind::kIvf:
      return nullptr;
  }
  return nullptr;
}

// A removed vector's label in id_map: unique per position, negative, never -1 (FAISS's
// "no result").
idx_t TombstoneLabel(idx_t position) { return -2 - position; }

// Sets the OpenMP thread count for the FAISS calls in scope and restores the caller's.
class ScopedOmpThreads {
 public:
  explicit ScopedOmpThreads(int threads) : previous_(omp_get_max_threads()) {
    omp_set_num_threads(threads > 0 ? threads : omp_get_num_procs());
  }
  ~ScopedOmpThreads() { omp_set_num_threads(previous_); }
  ScopedOmpThreads(const ScopedOmpThreads&) = delete;
  ScopedOmpThreads& operator=(const ScopedOmpThreads&) = delete;

 private:
  const int previous_;
};

// Accepts FAISS positions whose label is live and, with a filter, allowed.
class LiveSelector : public faiss::IDSelector {
 public:
  LiveSelector(const std::vector<idx_t>& id_map, const AllowedIds* allowed)
      : id_map_(id_map), allowed_(allowed) {}
  bool is_member(idx_t position) const override {
    const idx_t label = id_map_[position];
    return label >= 0 && (allowed_ == nullptr || allowed_->Contains(label));
  }

 private:
  const std::vector<idx_t>& id_map_;
  const AllowedIds* const allowed_;
};

// A status for an exception thrown by FAISS during `what_failed`.
absl::Status FaissError(absl::string_view what_failed, const std::exception& e) {
  return absl::InternalError(absl::StrCat("FAISS failed to ", what_failed, ": ", e.what()));
}

absl::Status ErrnoStatus(int err, absl::string_view context) {
  const std::string message = absl::StrCat(context, ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(message);
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(message);
    case EISDIR:
    case ENOTDIR:
      return absl::InvalidArgumentError(message);
    default:
      return absl::UnknownError(message);
  }
}

// Returns InvalidArgument naming the first row of `values` (rows of `dim`) with a NaN or
// infinity.
absl::Status CheckFinite(absl::Span<const float> values, int dim, absl::string_view what) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " row ", i / dim, " has a non-finite value (", values[i], ") at column ", i % dim));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckRows(size_t num_floats, int dim, absl::string_view what) {
  if (num_floats % static_cast<size_t>(dim) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " hold ", num_floats, " floats, not a multiple of the index dim ", dim));
  }
  return absl::OkStatus();
}

// A non-cryptographic 64-bit checksum over a byte stream fed in arbitrary pieces: 8-byte
// words are mixed in one at a time (a few GB/s), the tail and the length at the end. It
// detects truncation, torn writes and bit rot, not tampering.
class Checksum {
 public:
  void Update(const void* data, size_t size) {
    const auto* p = static_cast<const unsigned char*>(data);
    total_ += size;
    while (size > 0 && pending_ > 0) {
      AddPendingByte(*p++);
      --size;
    }
    while (size >= 8) {
      uint64_t word;
      std::memcpy(&word, p, 8);
      Mix(word);
      p += 8;
      size -= 8;
    }
    while (size > 0) {
      AddPendingByte(*p++);
      --size;
    }
  }
  uint64_t Finish() const {
    uint64_t h = hash_;
    uint64_t tail = 0;
    std::memcpy(&tail, buffer_, pending_);
    h = Round(h, tail ^ (static_cast<uint64_t>(pending_) << 56));
    h = Round(h, total_);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
  }

 private:
  static uint64_t Round(uint64_t h, uint64_t word) {
    h ^= word * 0x9e3779b97f4a7c15ULL;
    h = (h << 31) | (h >> 33);
    return h * 0xc2b2ae3d27d4eb4fULL;
  }
  void Mix(uint64_t word) { hash_ = Round(hash_, word); }
  void AddPendingByte(unsigned char byte) {
    buffer_[pending_++] = byte;
    if (pending_ == 8) {
      uint64_t word;
      std::memcpy(&word, buffer_, 8);
      Mix(word);
      pending_ = 0;
    }
  }

  uint64_t hash_ = 0x6a09e667f3bcc908ULL;
  uint64_t total_ = 0;
  unsigned char buffer_[8] = {};
  size_t pending_ = 0;
};

// A buffered faiss::IOWriter into a file descriptor that checksums what it writes. On a
// write error it remembers errno and reports 0 items, which makes FAISS throw.
class FdWriter : public faiss::IOWriter {
 public:
  FdWriter(int fd, std::string path) : fd_(fd) {
    name = std::move(path);
    buffer_.reserve(kBufferBytes);
  }

  size_t operator()(const void* ptr, size_t size, size_t nitems) override {
    if (error_ != 0) return 0;
    const size_t bytes = size * nitems;
    checksum_.Update(ptr, bytes);
    written_ += bytes;
    const char* p = static_cast<const char*>(ptr);
    if (buffer_.size() + bytes > kBufferBytes) {
      if (!Flush()) return 0;
      if (bytes >= kBufferBytes) return WriteAll(p, bytes) ? nitems : 0;
    }
    buffer_.insert(buffer_.end(), p, p + bytes);
    return nitems;
  }

  // Writes out the buffer. Returns false (see error()) on failure.
  bool Flush() {
    if (error_ != 0) return false;
    const bool ok = WriteAll(buffer_.data(), buffer_.size());
    buffer_.clear();
    return ok;
  }

  int error() const { return error_; }
  uint64_t written() const { return written_; }
  const Checksum& checksum() const { return checksum_; }

 private:
  static constexpr size_t kBufferBytes = 1 << 20;

  bool WriteAll(const char* p, size_t size) {
    while (size > 0) {
      const ssize_t n = ::write(fd_, p, size);
      if (n < 0) {
        if (errno == EINTR) continue;
        error_ = errno;
        return false;
      }
      p += n;
      size -= static_cast<size_t>(n);
    }
    return true;
  }

  const int fd_;
  std::vector<char> buffer_;
  Checksum checksum_;
  uint64_t written_ = 0;
  int error_ = 0;
};

// A buffered faiss::IOReader over at most `limit` bytes of a file descriptor.
class FdReader : public faiss::IOReader {
 public:
  FdReader(int fd, uint64_t limit, std::string path) : fd_(fd), remaining_(limit) {
    name = std::move(path);
  }

  size_t operator()(void* ptr, size_t size, size_t nitems) override {
    if (size == 0 || nitems == 0) return 0;
    if (size * nitems > remaining_ + (end_ - begin_)) nitems = (remaining_ + end_ - begin_) / size;
    char* out = static_cast<char*>(ptr);
    size_t want = size * nitems;
    while (want > 0) {
      if (begin_ == end_ && !Fill()) return 0;
      const size_t n = std::min(want, end_ - begin_);
      std::memcpy(out, buffer_.data() + begin_, n);
      begin_ += n;
      out += n;
      want -= n;
      consumed_ += n;
    }
    return nitems;
  }

  // Bytes handed to FAISS so far.
  uint64_t consumed() const { return consumed_; }
  int error() const { return error_; }

 private:
  bool Fill() {
    if (remaining_ == 0) return false;
    buffer_.resize(static_cast<size_t>(std::min<uint64_t>(remaining_, 1 << 20)));
    size_t got = 0;
    while (got < buffer_.size()) {
      const ssize_t n = ::read(fd_, buffer_.data() + got, buffer_.size() - got);
      if (n < 0) {
        if (errno == EINTR) continue;
        error_ = errno;
        return false;
      }
      if (n == 0) break;
      got += static_cast<size_t>(n);
    }
    if (got == 0) return false;
    remaining_ -= got;
    begin_ = 0;
    end_ = got;
    return true;
  }

  const int fd_;
  uint64_t remaining_;
  std::vector<char> buffer_;
  size_t begin_ = 0;
  size_t end_ = 0;
  uint64_t consumed_ = 0;
  int error_ = 0;
};

// Closes a file descriptor on scope exit.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
  }
  // Closes now; returns errno of close() or 0.
  int Close() {
    const int fd = fd_;
    fd_ = -1;
    return ::close(fd) == 0 ? 0 : errno;
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

// Reads exactly `size` bytes at the current offset of `fd`.
absl::Status ReadExactly(int fd, void* out, size_t size, const std::string& path) {
  char* p = static_cast<char*>(out);
  while (size > 0) {
    const ssize_t n = ::read(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, absl::StrCat(path, ": read failed"));
    }
    if (n == 0) return absl::DataLossError(absl::StrCat(path, ": unexpected end of file"));
    p += n;
    size -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// A deep copy of `index` with its vectors dropped: same type, parameters and training.
// Goes through FAISS's serializer, which knows every type (clone_index in 1.7.3 turns an
// IndexHNSWFlat into a plain IndexHNSW that write_index then rejects).
std::unique_ptr<faiss::Index> CloneEmpty(const faiss::Index& index) {
  faiss::VectorIOWriter writer;
  faiss::write_index(&index, &writer);
  faiss::VectorIOReader reader;
  reader.data = std::move(writer.data);
  std::unique_ptr<faiss::Index> copy(faiss::read_index(&reader));
  copy->reset();
  return copy;
}

// Bytes held by `index`'s data structures (see VectorIndex::MemoryBytes).
size_t IndexBytes(const faiss::Index& index) {
  if (const auto* flat = dynamic_cast<const faiss::IndexFlatCodes*>(&index)) {
    return flat->codes.size();
  }
  if (const auto* hnsw = dynamic_cast<const faiss::IndexHNSW*>(&index)) {
    const faiss::HNSW& g = hnsw->hnsw;
    return g.neighbors.size() * sizeof(faiss::HNSW::storage_idx_t) + g.levels.size() * sizeof(int) +
           g.offsets.size() * sizeof(size_t) +
           (hnsw->storage != nullptr ? IndexBytes(*hnsw->storage) : 0);
  }
  if (const auto* ivf = dynamic_cast<const faiss::IndexIVF*>(&index)) {
    size_t bytes = ivf->quantizer != nullptr ? IndexBytes(*ivf->quantizer) : 0;
    bytes += ivf->direct_map.array.size() * sizeof(idx_t);
    if (const auto* lists = dynamic_cast<const faiss::ArrayInvertedLists*>(ivf->invlists)) {
      for (size_t l = 0; l < lists->nlist; ++l) {
        bytes += lists->codes[l].size() + lists->ids[l].size() * sizeof(idx_t);
      }
    } else {
      bytes += static_cast<size_t>(ivf->ntotal) * (ivf->code_size + sizeof(idx_t));
    }
    return bytes;
  }
  return static_cast<size_t>(index.ntotal) * index.sa_code_size();
}

// Puts the options that are not stored in FAISS's own fields into `index`.
void ApplySearchSettings(const VectorIndexOptions& options, Kind kind, faiss::Index* index) {
  if (kind == Kind::kHnsw) {
    auto* hnsw = static_cast<faiss::IndexHNSW*>(index);
    // FAISS 1.7.3 sizes the search beam from this field, not from SearchParametersHNSW.
    hnsw->hnsw.efSearch = options.hnsw_ef_search;
    hnsw->hnsw.efConstruction = options.hnsw_ef_construction;
  } else if (kind == Kind::kIvf) {
    auto* ivf = static_cast<faiss::IndexIVF*>(index);
    ivf->nprobe = static_cast<size_t>(options.ivf_nprobe);
    // Positions are sequential and never removed (tombstones), so an array direct map
    // gives Reconstruct and the exact filter path random access.
    if (ivf->direct_map.type != faiss::DirectMap::Array) ivf->make_direct_map(true);
  }
}

}  // namespace

absl::Status VectorIndexOptions::Validate() const {
  if (dim < 1 || dim > 65536) {
    return absl::InvalidArgumentError(
        absl::StrCat("VectorIndexOptions.dim must be in [1, 65536], got ", dim));
  }
  if (factory.empty() || factory.size() > kMaxFactoryBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("VectorIndexOptions.factory must be a FAISS factory string of 1 to ",
                     kMaxFactoryBytes, " bytes, got ", factory.size(), " bytes"));
  }
  if (hnsw_ef_search < 1 || hnsw_ef_search > 65536) {
    return absl::InvalidArgumentError(absl::StrCat(
        "VectorIndexOptions.hnsw_ef_search must be in [1, 65536], got ", hnsw_ef_search));
  }
  if (hnsw_ef_construction < 1 || hnsw_ef_construction > 65536) {
    return absl::InvalidArgumentError(
        absl::StrCat("VectorIndexOptions.hnsw_ef_construction must be in [1, 65536], got ",
                     hnsw_ef_construction));
  }
  if (ivf_nprobe < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("VectorIndexOptions.ivf_nprobe must be >= 1, got ", ivf_nprobe));
  }
  if (threads < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("VectorIndexOptions.threads must be >= 0 (0 = all cores), got ", threads));
  }
  if (exact_filter_below < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "VectorIndexOptions.exact_filter_below must be >= 0, got ", exact_filter_below));
  }
  if (!(max_tombstone_fraction >= 0) || !std::isfinite(max_tombstone_fraction)) {
    return absl::InvalidArgumentError(
        absl::StrCat("VectorIndexOptions.max_tombstone_fraction must be finite and >= 0, got ",
                     max_tombstone_fraction));
  }
  return absl::OkStatus();
}

AllowedIds::AllowedIds(std::vector<int64_t> ids) : ids_(std::move(ids)) {
  ids_.erase(std::remove_if(ids_.begin(), ids_.end(), [](int64_t id) { return id < 0; }),
             ids_.end());
  std::sort(ids_.begin(), ids_.end());
  ids_.erase(std::unique(ids_.begin(), ids_.end()), ids_.end());
}

bool AllowedIds::Contains(int64_t id) const {
  return std::binary_search(ids_.begin(), ids_.end(), id);
}

// The FAISS side of a VectorIndex. Every field is guarded by VectorIndex::mu_ (shared for
// reads, exclusive for writes) except the GPU mirror, which has its own mutex because
// concurrent searches (holding mu_ shared) refresh and use it.
struct VectorIndex::State {
  VectorIndexOptions options;
  Kind kind = Kind::kFlatCodes;
  // Owns its sub-index. id_map: position -> id (TombstoneLabel for removed positions);
  // rev_map: live id -> position.
  std::unique_ptr<faiss::IndexIDMap2> map;
  // Removed positions still stored (kHnsw, kIvf).
  int64_t tombstones = 0;
  // Whether this index type needs Train before the first Upsert.
  bool trainable = false;
  // An empty, trained copy of the sub-index to rebuild from. Null after Load of a trained
  // type (IVF, SQ); the first Compact then makes it from a full copy of the index (twice the
  // index's memory for a moment, once per process).
  std::unique_ptr<faiss::Index> empty;

  faiss::Index* sub() const { return map->index; }
  int64_t live() const { return static_cast<int64_t>(map->rev_map.size()); }

#ifdef MATALIGN_FAISS_GPU
  // Unfiltered searches of Flat/IVF without tombstones run here (see the header).
  struct Gpu {
    faiss::gpu::StandardGpuResources resources;
    std::unique_ptr<faiss::Index> index;  // a copy of sub(); null = stale
  };
  absl::Mutex gpu_mu;
  std::unique_ptr<Gpu> gpu ABSL_GUARDED_BY(gpu_mu);  // null = no GPU for this index

  // Called by writers (mu_ exclusive): the GPU copy no longer matches sub().
  void InvalidateGpu() {
    absl::MutexLock lock(&gpu_mu);
    if (gpu != nullptr) gpu->index.reset();
  }
  // Uses a GPU if the options, the build and the machine allow, and the type can go there.
  void MaybeEnableGpu() {
    if (!options.use_gpu || kind == Kind::kHnsw || faiss::gpu::getNumDevices() <= 0) return;
    auto g = std::make_unique<Gpu>();
    try {
      // Probe that FAISS can copy this type to the GPU (on an empty copy: cheap).
      std::unique_ptr<faiss::Index> probe(CloneEmpty(*sub()));
      std::unique_ptr<faiss::Index> on_gpu(
          faiss::gpu::index_cpu_to_gpu(&g->resources, 0, probe.get()));
    } catch (const std::exception&) {
      return;  // not supported on the GPU: stay on the CPU
    }
    absl::MutexLock lock(&gpu_mu);
    gpu = std::move(g);
  }
  // Searches on the GPU if enabled; returns false to let the caller search on the CPU.
  // Throws what FAISS throws.
  bool GpuSearch(idx_t n, const float* x, idx_t k, float* distances, idx_t* labels) {
    absl::MutexLock lock(&gpu_mu);  // GPU indexes are not safe for concurrent calls
    if (gpu == nullptr) return false;
    if (gpu->index == nullptr) {
      gpu->index.reset(faiss::gpu::index_cpu_to_gpu(&gpu->resources, 0, sub()));
    }
    gpu->index->search(n, x, k, distances, labels);
    return true;
  }
#else
  void InvalidateGpu() {}
  void MaybeEnableGpu() {}
  bool GpuSearch(idx_t, const float*, idx_t, float*, idx_t*) { return false; }
#endif
};

VectorIndex::VectorIndex(int dim, std::string factory, std::unique_ptr<State> state)
    : dim_(dim), factory_(std::move(factory)), state_(std::move(state)) {}

VectorIndex::~VectorIndex() = default;

absl::StatusOr<std::unique_ptr<VectorIndex>> VectorIndex::Create(
    const VectorIndexOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  auto state = std::make_unique<State>();
  state->options = options;
  std::unique_ptr<faiss::Index> sub;
  try {
    sub.reset(
        faiss::index_factory(options.dim, options.factory.c_str(), faiss::METRIC_INNER_PRODUCT));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("FAISS cannot build factory string '", options.factory, "': ", e.what()));
  }
  absl::StatusOr<Kind> kind = Classify(*sub);
  if (!kind.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("factory string '", options.factory, "' ", kind.status().message()));
  }
  state->kind = *kind;
  try {
    ApplySearchSettings(options, state->kind, sub.get());
    state->trainable = !sub->is_trained;
    if (sub->is_trained) state->empty = CloneEmpty(*sub);
    state->map = std::make_unique<faiss::IndexIDMap2>(sub.get());
    sub.release();
    state->map->own_fields = true;
  } catch (const std::exception& e) {
    return FaissError(absl::StrCat("set up index '", options.factory, "'"), e);
  }
  state->MaybeEnableGpu();
  return std::unique_ptr<VectorIndex>(
      new VectorIndex(options.dim, options.factory, std::move(state)));
}

absl::Status VectorIndex::Save(const std::string& path, uint64_t sequence) const {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return absl::PermissionDeniedError(
        absl::StrCat(path, ": cannot create directory ", dir.string(), ": ", ec.message()));
  }
  std::string tmp = absl::StrCat(path, ".tmp-XXXXXX");
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat(tmp, ": cannot create"));
  FdCloser closer(fd);
  auto fail = [&](absl::Status status) {
    closer.Close();
    fs::remove(tmp, ec);
    return status;
  };

  FdWriter writer(fd, tmp);
  {
    absl::ReaderMutexLock lock(&mu_);
    const State& s = *state_;
    const uint32_t version = kFormatVersion;
    const uint32_t dim = static_cast<uint32_t>(dim_);
    const uint32_t factory_len = static_cast<uint32_t>(factory_.size());
    writer(kMagic, 1, sizeof(kMagic));
    writer(&version, sizeof(version), 1);
    writer(&dim, sizeof(dim), 1);
    writer(&sequence, sizeof(sequence), 1);
    writer(&factory_len, sizeof(factory_len), 1);
    writer(factory_.data(), 1, factory_.size());
    const uint64_t header_bytes = writer.written();
    try {
      faiss::write_index(s.map.get(), &writer);
    } catch (const std::exception& e) {
      if (writer.error() != 0) {
        return fail(ErrnoStatus(writer.error(), absl::StrCat(tmp, ": write failed")));
      }
      return fail(FaissError(absl::StrCat("serialize the index for ", path), e));
    }
    const uint64_t faiss_bytes = writer.written() - header_bytes;
    writer(&faiss_bytes, sizeof(faiss_bytes), 1);
  }
  const uint64_t checksum = writer.checksum().Finish();
  writer(&checksum, sizeof(checksum), 1);
  if (!writer.Flush()) {
    return fail(ErrnoStatus(writer.error(), absl::StrCat(tmp, ": write failed")));
  }
  if (::fsync(fd) != 0) return fail(ErrnoStatus(errno, absl::StrCat(tmp, ": fsync failed")));
  if (const int err = closer.Close(); err != 0) {
    fs::remove(tmp, ec);
    return ErrnoStatus(err, absl::StrCat(tmp, ": close failed"));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    fs::remove(tmp, ec);
    return ErrnoStatus(err, absl::StrCat(path, ": cannot rename ", tmp, " over it"));
  }
  // Make the rename itself durable.
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dir_fd < 0) return ErrnoStatus(errno, absl::StrCat(dir.string(), ": cannot open"));
  FdCloser dir_closer(dir_fd);
  if (::fsync(dir_fd) != 0) {
    return ErrnoStatus(errno, absl::StrCat(dir.string(), ": fsync failed"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::pair<std::unique_ptr<VectorIndex>, uint64_t>> VectorIndex::Load(
    const std::string& path, const VectorIndexOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat(path, ": cannot open snapshot"));
  FdCloser closer(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoStatus(errno, absl::StrCat(path, ": cannot stat"));
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file"));
  }
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  constexpr uint64_t kMinSize = sizeof(kMagic) + 3 * 4 + 8 + kTrailerBytes;
  if (file_size < kMinSize) {
    return absl::DataLossError(
        absl::StrCat(path, ": ", file_size, " bytes, too short for a vector index snapshot"));
  }

  // Pass 1: verify the checksum before FAISS parses anything.
  {
    Checksum checksum;
    std::vector<char> buffer(1 << 20);
    uint64_t left = file_size - sizeof(uint64_t);
    while (left > 0) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(left, buffer.size()));
      MATALIGN_RETURN_IF_ERROR(ReadExactly(fd, buffer.data(), n, path));
      checksum.Update(buffer.data(), n);
      left -= n;
    }
    uint64_t stored = 0;
    MATALIGN_RETURN_IF_ERROR(ReadExactly(fd, &stored, sizeof(stored), path));
    if (stored != checksum.Finish()) {
      char magic[sizeof(kMagic)];
      if (::pread(fd, magic, sizeof(magic), 0) == static_cast<ssize_t>(sizeof(magic)) &&
          std::memcmp(magic, kMagic, sizeof(kMagic)) != 0) {
        return absl::DataLossError(absl::StrCat(path, ": not a MatAlign vector index snapshot"));
      }
      return absl::DataLossError(
          absl::StrCat(path, ": checksum mismatch (the snapshot is corrupt or truncated)"));
    }
  }

  // Pass 2: parse.
  if (::lseek(fd, 0, SEEK_SET) != 0) return ErrnoStatus(errno, absl::StrCat(path, ": seek"));
  char magic[sizeof(kMagic)];
  uint32_t version = 0, dim = 0, factory_len = 0;
  uint64_t sequence = 0;
  MATALIGN_RETURN_IF_ERROR(ReadExactly(fd, magic, sizeof(magic), path));
  if (std::memcmp(magic, kMagic, sizeof(kMagic)) != 0) {
    return absl::DataLossError(absl::StrCat(path, ": not a MatAlign vector index snapshot"));
  }
  MATALIGN_RETURN_IF_ERROR(ReadExactly(fd, &version, sizeof(version), path));
  if (version == 0) return absl::DataLossError(absl::StrCat(path, ": format version 0"));
  if (version > kFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": snapshot format version ", version,
                                                      "; this build reads ", kFormatVersion));
  }
  MATALIGN_RETURN_IF_ERROR(ReadExactly(fd, &dim, sizeof(dim), path));
  MATALIGN_RETURN_IF_ERROR(ReadExactly(fd, &sequence, sizeof(sequence), path));
  MATALIGN_RETURN_IF_ERROR(ReadExactly(fd, &factory_len, sizeof(factory_len), path));
  if (factory_len == 0 || factory_len > kMaxFactoryBytes) {
    return absl::DataLossError(absl::StrCat(path, ": bad factory length ", factory_len));
  }
  std::string factory(factory_len, '\0');
  MATALIGN_RETURN_IF_ERROR(ReadExactly(fd, factory.data(), factory.size(), path));
  if (static_cast<int64_t>(dim) != options.dim) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": snapshot has dim ", dim,
                                                   " but the options ask for dim ", options.dim));
  }
  const uint64_t header_bytes = sizeof(kMagic) + 3 * 4 + 8 + factory_len;
  uint64_t faiss_bytes = 0;
  if (::pread(fd, &faiss_bytes, sizeof(faiss_bytes),
              static_cast<off_t>(file_size - kTrailerBytes)) != sizeof(faiss_bytes)) {
    return absl::DataLossError(absl::StrCat(path, ": cannot read the trailer"));
  }
  if (header_bytes + faiss_bytes + kTrailerBytes != file_size) {
    return absl::DataLossError(absl::StrCat(path, ": sizes do not add up (header ", header_bytes,
                                            " + index ", faiss_bytes, " + trailer ", kTrailerBytes,
                                            " != file ", file_size, ")"));
  }

  auto state = std::make_unique<State>();
  state->options = options;
  state->options.factory = factory;
  try {
    FdReader reader(fd, faiss_bytes, path);
    std::unique_ptr<faiss::Index> read(faiss::read_index(&reader));
    if (reader.error() != 0) return ErrnoStatus(reader.error(), absl::StrCat(path, ": read"));
    if (reader.consumed() != faiss_bytes) {
      return absl::DataLossError(absl::StrCat(path, ": FAISS read ", reader.consumed(),
                                              " of the index's ", faiss_bytes, " bytes"));
    }
    auto* map = dynamic_cast<faiss::IndexIDMap2*>(read.get());
    if (map == nullptr || map->index == nullptr) {
      return absl::DataLossError(absl::StrCat(path, ": the FAISS index is not an IndexIDMap2"));
    }
    read.release();
    state->map.reset(map);
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat(path, ": FAISS cannot read the index: ", e.what()));
  }
  faiss::IndexIDMap2& map = *state->map;
  absl::StatusOr<Kind> kind = Classify(*map.index);
  if (!kind.ok()) {
    return absl::DataLossError(absl::StrCat(path, ": the stored index (factory '", factory, "') ",
                                            kind.status().message()));
  }
  state->kind = *kind;
  if (map.index->d != options.dim || map.id_map.size() != static_cast<size_t>(map.index->ntotal) ||
      map.ntotal != map.index->ntotal) {
    return absl::DataLossError(absl::StrCat(path, ": inconsistent FAISS index (d ", map.index->d,
                                            ", ", map.id_map.size(), " ids for ", map.index->ntotal,
                                            " vectors)"));
  }
  // read_index rebuilt rev_map from id_map, tombstone labels included: drop those.
  for (size_t pos = 0; pos < map.id_map.size(); ++pos) {
    const idx_t label = map.id_map[pos];
    if (label >= 0) continue;
    if (label != TombstoneLabel(static_cast<idx_t>(pos)) || state->kind == Kind::kFlatCodes) {
      return absl::DataLossError(absl::StrCat(path, ": bad label ", label, " at position ", pos));
    }
    map.rev_map.erase(label);
    ++state->tombstones;
  }
  if (map.rev_map.size() + static_cast<size_t>(state->tombstones) != map.id_map.size()) {
    return absl::DataLossError(absl::StrCat(path, ": duplicate ids in the stored index"));
  }
  try {
    // Whether this type needs training at all: ask a fresh, empty index of the factory.
    std::unique_ptr<faiss::Index> fresh(
        faiss::index_factory(options.dim, factory.c_str(), faiss::METRIC_INNER_PRODUCT));
    state->trainable = !fresh->is_trained;
    ApplySearchSettings(state->options, state->kind, map.index);
    // Without training, a fresh index is the empty template; otherwise the first Compact
    // copies the trained index (CompactLocked).
    if (!state->trainable && Classify(*fresh).ok()) {
      ApplySearchSettings(state->options, state->kind, fresh.get());
      state->empty = std::move(fresh);
    }
  } catch (const std::exception& e) {
    return FaissError(absl::StrCat("set up the index loaded from ", path), e);
  }
  state->MaybeEnableGpu();
  std::unique_ptr<VectorIndex> index(new VectorIndex(options.dim, factory, std::move(state)));
  return std::make_pair(std::move(index), sequence);
}

bool VectorIndex::needs_training() const {
  absl::ReaderMutexLock lock(&mu_);
  return !state_->sub()->is_trained;
}

absl::Status VectorIndex::Train(const float* x, int64_t n) {
  if (n < 0) return absl::InvalidArgumentError(absl::StrCat("Train: negative count ", n));
  return Train(absl::Span<const float>(x, static_cast<size_t>(n) * dim_));
}

absl::Status VectorIndex::Train(absl::Span<const float> vectors) {
  MATALIGN_RETURN_IF_ERROR(CheckRows(vectors.size(), dim_, "Train: the training vectors"));
  MATALIGN_RETURN_IF_ERROR(CheckFinite(vectors, dim_, "Train: training vector"));
  const int64_t n = static_cast<int64_t>(vectors.size() / dim_);
  absl::MutexLock lock(&mu_);
  State& s = *state_;
  if (!s.trainable) return absl::OkStatus();
  if (s.sub()->is_trained) {
    return absl::FailedPreconditionError(absl::StrCat("index '", factory_, "' is trained already"));
  }
  if (s.kind == Kind::kIvf) {
    const auto* ivf = static_cast<const faiss::IndexIVF*>(s.sub());
    if (n < static_cast<int64_t>(ivf->nlist)) {
      return absl::InvalidArgumentError(absl::StrCat("Train: index '", factory_, "' has ",
                                                     ivf->nlist,
                                                     " lists and needs at least as many "
                                                     "training vectors, got ",
                                                     n));
    }
  }
  if (n == 0) return absl::InvalidArgumentError("Train: no training vectors");
  ScopedOmpThreads omp(s.options.threads);
  try {
    s.map->train(n, vectors.data());
    s.empty = CloneEmpty(*s.sub());
  } catch (const std::exception& e) {
    return FaissError(absl::StrCat("train index '", factory_, "' on ", n, " vectors"), e);
  }
  s.InvalidateGpu();
  return absl::OkStatus();
}

absl::Status VectorIndex::Upsert(const int64_t* ids, const float* x, int64_t n) {
  if (n < 0) return absl::InvalidArgumentError(absl::StrCat("Upsert: negative count ", n));
  return Upsert(absl::Span<const int64_t>(ids, static_cast<size_t>(n)),
                absl::Span<const float>(x, static_cast<size_t>(n) * dim_));
}

absl::Status VectorIndex::Upsert(absl::Span<const int64_t> ids, absl::Span<const float> vectors) {
  if (vectors.size() != ids.size() * static_cast<size_t>(dim_)) {
    return absl::InvalidArgumentError(absl::StrCat("Upsert: ", ids.size(), " ids of dim ", dim_,
                                                   " need ", ids.size() * static_cast<size_t>(dim_),
                                                   " floats, got ", vectors.size()));
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("Upsert: row ", i, " has negative id ", ids[i], " (reserved)"));
    }
  }
  MATALIGN_RETURN_IF_ERROR(CheckFinite(vectors, dim_, "Upsert: vector"));
  if (ids.empty()) return absl::OkStatus();

  // Last row wins for repeated ids: keep each id's last row, in row order.
  std::vector<int64_t> unique_ids;
  std::vector<float> unique_vectors;
  {
    std::unordered_set<int64_t> seen;
    seen.reserve(ids.size());
    std::vector<size_t> keep;
    for (size_t i = ids.size(); i-- > 0;) {
      if (seen.insert(ids[i]).second) keep.push_back(i);
    }
    if (keep.size() != ids.size()) {
      std::reverse(keep.begin(), keep.end());
      for (size_t i : keep) {
        unique_ids.push_back(ids[i]);
        unique_vectors.insert(unique_vectors.end(), vectors.begin() + i * dim_,
                              vectors.begin() + (i + 1) * dim_);
      }
      ids = unique_ids;
      vectors = unique_vectors;
    }
  }
  const idx_t n = static_cast<idx_t>(ids.size());

  absl::MutexLock lock(&mu_);
  State& s = *state_;
  faiss::IndexIDMap2& map = *s.map;
  if (!s.sub()->is_trained) {
    return absl::FailedPreconditionError(absl::StrCat(
        "index '", factory_, "' must be trained (VectorIndex::Train) before vectors are added"));
  }
  if (s.kind == Kind::kHnsw && map.ntotal + n > std::numeric_limits<int32_t>::max()) {
    return absl::ResourceExhaustedError(absl::StrCat("HNSW index holds ", map.ntotal, " vectors; ",
                                                     n, " more exceed FAISS's 2^31 limit"));
  }
  std::vector<idx_t> replaced;  // positions (tombstones) or ids (native removal)
  for (const int64_t id : ids) {
    auto it = map.rev_map.find(id);
    if (it == map.rev_map.end()) continue;
    replaced.push_back(s.kind == Kind::kFlatCodes ? id : it->second);
  }
  ScopedOmpThreads omp(s.options.threads);
  s.InvalidateGpu();
  try {
    if (s.kind == Kind::kFlatCodes) {
      if (!replaced.empty()) {
        faiss::IDSelectorBatch selector(replaced.size(), replaced.data());
        map.remove_ids(selector);
      }
      map.add_with_ids(n, vectors.data(), ids.data());
    } else {
      // add_with_ids points rev_map at the new positions; then retire the old ones.
      map.add_with_ids(n, vectors.data(), ids.data());
      for (const idx_t pos : replaced) map.id_map[pos] = TombstoneLabel(pos);
      s.tombstones += static_cast<int64_t>(replaced.size());
    }
  } catch (const std::exception& e) {
    return FaissError(absl::StrCat("add ", n, " vectors to index '", factory_, "'"), e);
  }
  if (s.tombstones > 0 &&
      static_cast<double>(s.tombstones) > s.options.max_tombstone_fraction * s.live()) {
    return CompactLocked();
  }
  return absl::OkStatus();
}

absl::Status VectorIndex::Remove(const int64_t* ids, int64_t n, int64_t* removed) {
  if (n < 0) return absl::InvalidArgumentError(absl::StrCat("Remove: negative count ", n));
  return Remove(absl::Span<const int64_t>(ids, static_cast<size_t>(n)), removed);
}

absl::Status VectorIndex::Remove(absl::Span<const int64_t> ids, int64_t* removed) {
  if (removed != nullptr) *removed = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("Remove: entry ", i, " is negative id ", ids[i], " (reserved)"));
    }
  }
  absl::MutexLock lock(&mu_);
  State& s = *state_;
  faiss::IndexIDMap2& map = *s.map;
  std::vector<idx_t> present;
  std::unordered_set<int64_t> seen;
  for (const int64_t id : ids) {
    if (map.rev_map.count(id) != 0 && seen.insert(id).second) present.push_back(id);
  }
  if (removed != nullptr) *removed = static_cast<int64_t>(present.size());
  if (present.empty()) return absl::OkStatus();
  s.InvalidateGpu();
  if (s.kind == Kind::kFlatCodes) {
    ScopedOmpThreads omp(s.options.threads);
    try {
      faiss::IDSelectorBatch selector(present.size(), present.data());
      map.remove_ids(selector);
    } catch (const std::exception& e) {
      return FaissError(absl::StrCat("remove ", present.size(), " ids from index '", factory_, "'"),
                        e);
    }
    return absl::OkStatus();
  }
  for (const idx_t id : present) {
    auto it = map.rev_map.find(id);
    map.id_map[it->second] = TombstoneLabel(it->second);
    map.rev_map.erase(it);
  }
  s.tombstones += static_cast<int64_t>(present.size());
  if (static_cast<double>(s.tombstones) > s.options.max_tombstone_fraction * s.live()) {
    return CompactLocked();
  }
  return absl::OkStatus();
}

absl::Status VectorIndex::Compact() {
  absl::MutexLock lock(&mu_);
  return CompactLocked();
}

absl::Status VectorIndex::CompactLocked() {
  State& s = *state_;
  if (s.tombstones == 0) return absl::OkStatus();
  const faiss::IndexIDMap2& old = *s.map;
  ScopedOmpThreads omp(s.options.threads);
  try {
    if (s.empty == nullptr) s.empty = CloneEmpty(*old.index);
    auto fresh = std::make_unique<faiss::IndexIDMap2>(CloneEmpty(*s.empty).release());
    fresh->own_fields = true;
    ApplySearchSettings(s.options, s.kind, fresh->index);
    std::vector<float> batch;
    std::vector<idx_t> labels;
    batch.reserve(static_cast<size_t>(std::min<int64_t>(kCompactBatch, s.live())) * dim_);
    auto flush = [&]() {
      fresh->add_with_ids(static_cast<idx_t>(labels.size()), batch.data(), labels.data());
      batch.clear();
      labels.clear();
    };
    for (size_t pos = 0; pos < old.id_map.size(); ++pos) {
      if (old.id_map[pos] < 0) continue;
      labels.push_back(old.id_map[pos]);
      batch.resize(labels.size() * dim_);
      old.index->reconstruct(static_cast<idx_t>(pos), batch.data() + (labels.size() - 1) * dim_);
      if (static_cast<int64_t>(labels.size()) == kCompactBatch) flush();
    }
    if (!labels.empty()) flush();
    s.map = std::move(fresh);
  } catch (const std::exception& e) {
    return FaissError(absl::StrCat("rebuild index '", factory_, "' without its ", s.tombstones,
                                   " removed vectors"),
                      e);
  }
  s.tombstones = 0;
  s.InvalidateGpu();
  return absl::OkStatus();
}

absl::StatusOr<SearchResult> VectorIndex::Search(const float* queries, int64_t n, int k,
                                                 const AllowedIds* allowed) const {
  if (n < 0) return absl::InvalidArgumentError(absl::StrCat("Search: negative count ", n));
  return Search(absl::Span<const float>(queries, static_cast<size_t>(n) * dim_), k, allowed);
}

absl::StatusOr<SearchResult> VectorIndex::Search(absl::Span<const float> queries, int k,
                                                 const AllowedIds* allowed) const {
  if (k < 1 || k > kMaxSearchK) {
    return absl::InvalidArgumentError(
        absl::StrCat("Search: k must be in [1, ", kMaxSearchK, "], got ", k));
  }
  MATALIGN_RETURN_IF_ERROR(CheckRows(queries.size(), dim_, "Search: the queries"));
  MATALIGN_RETURN_IF_ERROR(CheckFinite(queries, dim_, "Search: query"));
  const int64_t n = static_cast<int64_t>(queries.size() / dim_);
  SearchResult result;
  result.num_queries = n;
  result.k = k;
  result.ids.assign(static_cast<size_t>(n) * k, -1);
  result.scores.assign(static_cast<size_t>(n) * k, -std::numeric_limits<float>::infinity());
  if (n == 0) return result;

  absl::ReaderMutexLock lock(&mu_);
  State& s = *state_;
  const faiss::IndexIDMap2& map = *s.map;
  if (s.live() == 0 || (allowed != nullptr && allowed->size() == 0)) return result;
  ScopedOmpThreads omp(s.options.threads);

  const bool select = allowed != nullptr || s.tombstones > 0;
  bool exact =
      allowed != nullptr && static_cast<int64_t>(allowed->size()) <= s.options.exact_filter_below;
  // HNSW with a selector: the graph walk visits filtered-out vectors too, and only a
  // `fraction` of its beam can become results, so the beam is widened to
  // max(ef / sqrt(fraction), 2k / fraction) (the second keeps ~2k usable vectors in it).
  // When even kMaxFilteredBeam is too narrow for that, the filter is answered exactly.
  idx_t beam = 0;
  if (!exact && select && s.kind == Kind::kHnsw) {
    const double stored = static_cast<double>(map.ntotal);
    const double usable = static_cast<double>(
        allowed != nullptr ? std::min<int64_t>(allowed->size(), s.live()) : s.live());
    const double fraction = std::max(usable / stored, 1e-9);
    const double wanted = std::max({std::ceil(s.options.hnsw_ef_search / std::sqrt(fraction)),
                                    std::ceil(2.0 * k / fraction), static_cast<double>(k)});
    if (wanted > kMaxFilteredBeam && allowed != nullptr) {
      exact = true;
    } else {
      beam = static_cast<idx_t>(std::min<double>(wanted, kMaxFilteredBeam));
    }
  }

  if (exact) {
    // Score just the allowed vectors.
    std::vector<int64_t> labels;
    std::vector<idx_t> positions;
    for (const int64_t id : allowed->ids()) {
      auto it = map.rev_map.find(id);
      if (it == map.rev_map.end()) continue;
      labels.push_back(id);
      positions.push_back(it->second);
    }
    const int64_t m = static_cast<int64_t>(labels.size());
    const faiss::Index* storage = DistanceStorage(s.kind, map.index);
    std::vector<float> stored;  // [m, dim] when there is no DistanceComputer
    try {
      if (storage == nullptr) {
        stored.resize(static_cast<size_t>(m) * dim_);
        for (int64_t i = 0; i < m; ++i) {
          map.index->reconstruct(positions[i], stored.data() + i * dim_);
        }
      }
    } catch (const std::exception& e) {
      return FaissError(absl::StrCat("read the allowed vectors of index '", factory_, "'"), e);
    }
    const int top = static_cast<int>(std::min<int64_t>(k, m));
    std::atomic<bool> failed{false};
    std::string failure;
#pragma omp parallel for if (n > 1)
    for (int64_t q = 0; q < n; ++q) {
      try {
        const float* query = queries.data() + q * dim_;
        std::vector<float> scores(static_cast<size_t>(m));
        if (storage != nullptr) {
          std::unique_ptr<faiss::DistanceComputer> dc(storage->get_distance_computer());
          dc->set_query(query);  // inner-product metric: the "distance" is the score
          for (int64_t i = 0; i < m; ++i) scores[i] = (*dc)(positions[i]);
        } else {
          faiss::fvec_inner_products_ny(scores.data(), query, stored.data(), dim_,
                                        static_cast<size_t>(m));
        }
        std::vector<int64_t> order(static_cast<size_t>(m));
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(
            order.begin(), order.begin() + top, order.end(), [&](int64_t a, int64_t b) {
              return scores[a] != scores[b] ? scores[a] > scores[b] : labels[a] < labels[b];
            });
        for (int j = 0; j < top; ++j) {
          result.ids[q * k + j] = labels[order[j]];
          result.scores[q * k + j] = scores[order[j]];
        }
      } catch (const std::exception& e) {
        // Exceptions must not leave an OpenMP region.
#pragma omp critical(matalign_vector_index_failure)
        if (!failed.exchange(true)) failure = e.what();
      }
    }
    if (failed) {
      return absl::InternalError(absl::StrCat(
          "FAISS failed to score the allowed vectors of index '", factory_, "': ", failure));
    }
    return result;
  }

  LiveSelector selector(map.id_map, allowed);
  idx_t fetch = k;  // results asked of FAISS per query; the first k usable are kept
  std::unique_ptr<faiss::SearchParameters> params;
  if (s.kind == Kind::kHnsw) {
    auto hnsw = std::make_unique<faiss::SearchParametersHNSW>();
    hnsw->efSearch = s.options.hnsw_ef_search;
    if (select) {
      // FAISS 1.7.3 sizes the beam as max(efSearch field, k), so the wider beam is asked
      // for as a larger k (and efSearch for its stopping rule).
      fetch = beam;
      hnsw->efSearch = static_cast<int>(beam);
      hnsw->sel = &selector;
    }
    params = std::move(hnsw);
  } else if (s.kind == Kind::kIvf) {
    auto ivf = std::make_unique<faiss::SearchParametersIVF>();
    ivf->nprobe = static_cast<size_t>(s.options.ivf_nprobe);
    if (select) ivf->sel = &selector;
    params = std::move(ivf);
  } else if (select) {
    // Without a selector IndexFlat takes its BLAS path for batches; keep that when we can.
    params = std::make_unique<faiss::SearchParameters>();
    params->sel = &selector;
  }

  std::vector<float> distances(static_cast<size_t>(n) * fetch);
  std::vector<idx_t> positions(static_cast<size_t>(n) * fetch);
  try {
    if (select || !s.GpuSearch(n, queries.data(), fetch, distances.data(), positions.data())) {
      map.index->search(n, queries.data(), fetch, distances.data(), positions.data(), params.get());
    }
  } catch (const std::exception& e) {
    return FaissError(absl::StrCat("search index '", factory_, "' (", n, " queries, k ", k, ")"),
                      e);
  }
  for (int64_t q = 0; q < n; ++q) {
    int j = 0;
    for (idx_t f = 0; f < fetch && j < k; ++f) {
      const idx_t pos = positions[q * fetch + f];
      if (pos < 0) continue;
      const idx_t label = map.id_map[pos];
      if (label < 0 || (allowed != nullptr && !allowed->Contains(label))) continue;
      result.ids[q * k + j] = label;
      result.scores[q * k + j] = distances[q * fetch + f];
      ++j;
    }
  }
  return result;
}

bool VectorIndex::Contains(int64_t id) const {
  absl::ReaderMutexLock lock(&mu_);
  return state_->map->rev_map.count(id) != 0;
}

absl::StatusOr<std::vector<float>> VectorIndex::Reconstruct(int64_t id) const {
  absl::ReaderMutexLock lock(&mu_);
  const faiss::IndexIDMap2& map = *state_->map;
  auto it = map.rev_map.find(id);
  if (it == map.rev_map.end()) {
    return absl::NotFoundError(absl::StrCat("id ", id, " is not in index '", factory_, "'"));
  }
  std::vector<float> vector(static_cast<size_t>(dim_));
  try {
    map.index->reconstruct(it->second, vector.data());
  } catch (const std::exception& e) {
    return FaissError(absl::StrCat("reconstruct id ", id, " of index '", factory_, "'"), e);
  }
  return vector;
}

std::vector<int64_t> VectorIndex::Ids() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<int64_t> ids;
  ids.reserve(state_->map->rev_map.size());
  for (const auto& [id, pos] : state_->map->rev_map) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

int64_t VectorIndex::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return state_->live();
}

int64_t VectorIndex::num_tombstones() const {
  absl::ReaderMutexLock lock(&mu_);
  return state_->tombstones;
}

size_t VectorIndex::MemoryBytes() const {
  absl::ReaderMutexLock lock(&mu_);
  const faiss::IndexIDMap2& map = *state_->map;
  // libstdc++'s unordered_map: one heap node (next pointer + key + value) per entry, one
  // pointer per bucket.
  constexpr size_t kNodeBytes = sizeof(void*) + 2 * sizeof(idx_t);
  return IndexBytes(*map.index) + map.id_map.size() * sizeof(idx_t) +
         map.rev_map.size() * kNodeBytes + map.rev_map.bucket_count() * sizeof(void*);
}

}  // namespace matalign::index
