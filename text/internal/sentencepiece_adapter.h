// Private to matalign_text: a thin wrapper around SentencePiece that uses only standard
// types.
//
// Why a separate translation unit: Debian's sentencepiece_processor.h declares
// `namespace absl { using std::string_view; }`, which collides with packaged abseil's own
// absl::string_view class. sentencepiece_adapter.cc therefore includes SentencePiece and no
// abseil header, and everything else in text/ includes this header and no SentencePiece
// header. The rest of text/ works with absl::string_view (a distinct class in packaged
// abseil) and converts at this boundary with std::string_view(sv.data(), sv.size()) or by
// passing a std::string. Errors come back as strings (empty = success) and are turned into
// absl::Status by the caller. No exception escapes these functions.
//
// Why a loadable module: Debian's libsentencepiece embeds its own copy of protobuf-lite and
// exports its symbols, which clash with the system libprotobuf that LibTorch and gRPC load
// (the process crashes in protobuf's static initializers). So sentencepiece_adapter.cc is
// built into libmatalign_sentencepiece.so, which sentencepiece_loader.cc dlopen()s with
// RTLD_LOCAL | RTLD_DEEPBIND: SentencePiece then binds to its own protobuf copy and the rest
// of the process never sees it. The module exports one C function returning an SpBackend;
// everything else is reached through virtual calls. Fuzzing builds (AddressSanitizer
// rejects RTLD_DEEPBIND, and they load no other protobuf) link the adapter directly.
#ifndef MATALIGN_TEXT_INTERNAL_SENTENCEPIECE_ADAPTER_H_
#define MATALIGN_TEXT_INTERNAL_SENTENCEPIECE_ADAPTER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace matalign::text::internal {

// Trainer settings, passed through to SentencePieceTrainer as flags.
struct SpTrainConfig {
  std::string model_type;
  int vocab_size = 0;
  double character_coverage = 0;
  int max_sentence_length = 0;
  int num_threads = 1;
  std::uint32_t seed = 0;
  // Characters forced into the vocabulary; each must occur in the sentences (SentencePiece
  // aborts otherwise).
  std::string required_chars;
  bool split_digits = true;
  bool byte_fallback = false;
  bool hard_vocab_limit = true;
  bool verbose = false;
  // Special pieces and their ids: pad, unk, bos are SentencePiece's meta pieces; the
  // control symbols follow them.
  int pad_id = 0;
  int unk_id = 1;
  int bos_id = 2;
  std::string pad_piece;
  std::string unk_piece;
  std::string bos_piece;
  std::vector<std::string> control_symbols;
};

// Trains a model on all of `sentences` (one training sentence each, already normalized) and
// stores the serialized ModelProto in `*serialized_model`. Returns "" on success, else the
// trainer's error message. Serialized internally: SentencePiece's random seed is global.
std::string TrainSentencePiece(const SpTrainConfig& config,
                               const std::vector<std::string>& sentences,
                               std::string* serialized_model);

// An immutable, loaded SentencePiece model. All const methods are safe to call
// concurrently.
class SpModel {
 public:
  virtual ~SpModel() = default;

  // Parses a serialized ModelProto. Returns "" on success, else the reason.
  virtual std::string LoadFromSerialized(std::string_view serialized) = 0;

  virtual int PieceSize() const = 0;
  // Requires 0 <= id < PieceSize().
  virtual std::string IdToPiece(int id) const = 0;
  virtual int PieceToId(std::string_view piece) const = 0;
  // Requires 0 <= id < PieceSize().
  virtual float Score(int id) const = 0;
  virtual bool IsControl(int id) const = 0;
  virtual bool IsUnknown(int id) const = 0;
  virtual bool IsByte(int id) const = 0;

  // Replace *ids / *pieces / *text; return "" on success, else the reason.
  virtual std::string Encode(std::string_view text, std::vector<int>* ids) const = 0;
  virtual std::string EncodeAsPieces(std::string_view text,
                                     std::vector<std::string>* pieces) const = 0;
  // Requires every id in range.
  virtual std::string Decode(const std::vector<int>& ids, std::string* text) const = 0;
};

// A new, empty model; nullptr with the reason in *error if SentencePiece cannot be loaded.
std::unique_ptr<SpModel> NewSpModel(std::string* error);

// What the SentencePiece module exports (sentencepiece_adapter.cc).
class SpBackend {
 public:
  virtual ~SpBackend() = default;
  virtual std::string Train(const SpTrainConfig& config, const std::vector<std::string>& sentences,
                            std::string* serialized_model) const = 0;
  virtual std::unique_ptr<SpModel> NewModel() const = 0;
};

}  // namespace matalign::text::internal

// The module's one exported symbol.
extern "C" const matalign::text::internal::SpBackend* matalign_sentencepiece_backend_v1();

#endif  // MATALIGN_TEXT_INTERNAL_SENTENCEPIECE_ADAPTER_H_
