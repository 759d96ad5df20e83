// SentencePiece subword tokenizer for synthesis texts: training and encoding with
// [CLS]/[PAD]/[UNK], fixed maximum length and reported truncation.
//
// Special pieces have fixed ids in every model trained by TrainTokenizer:
//   [PAD] = 0   padding after the last real token (mask 0)
//   [UNK] = 1   any character not covered by the vocabulary (see below)
//   [CLS] = 2   first token of every Encoding
//   [SEP] = 3   reserved (never produced by Encode)
//   [MASK] = 4  reserved for masked-language-model training (never produced by Encode)
// All other pieces (with byte_fallback, first the 256 byte pieces) start at id 5.
//
// Unknown characters: by default (TokenizerTrainOptions::byte_fallback = false) characters
// outside the trained character set map to [UNK]; consecutive unknown characters form a
// single [UNK]. With byte_fallback = true the model gets 256 byte pieces "<0x00>".."<0xFF>"
// and unknown characters are spelled as their UTF-8 bytes instead.
//
// All texts are passed through NormalizeText (text/normalize.h) before training and
// encoding, so "800 degC" and "800 ℃" encode identically.
#ifndef MATALIGN_TEXT_TOKENIZER_H_
#define MATALIGN_TEXT_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace matalign::text {

namespace internal {
class SpModel;
}  // namespace internal

inline constexpr int32_t kPadId = 0;
inline constexpr int32_t kUnkId = 1;
inline constexpr int32_t kClsId = 2;
inline constexpr int32_t kSepId = 3;
inline constexpr int32_t kMaskId = 4;
inline constexpr int32_t kNumSpecialPieces = 5;
inline constexpr char kPadPiece[] = "[PAD]";
inline constexpr char kUnkPiece[] = "[UNK]";
inline constexpr char kClsPiece[] = "[CLS]";
inline constexpr char kSepPiece[] = "[SEP]";
inline constexpr char kMaskPiece[] = "[MASK]";

// Printable ASCII, the Greek alphabet and symbols common in synthesis texts.
inline constexpr char kDefaultRequiredChars[] =
    "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`"
    "abcdefghijklmnopqrstuvwxyz{|}~"
    "\u0391\u0392\u0393\u0394\u0395\u0396\u0397\u0398\u0399\u039A\u039B\u039C"
    "\u039D\u039E\u039F\u03A0\u03A1\u03A3\u03A4\u03A5\u03A6\u03A7\u03A8\u03A9"
    "\u03B1\u03B2\u03B3\u03B4\u03B5\u03B6\u03B7\u03B8\u03B9\u03BA\u03BB\u03BC"
    "\u03BD\u03BE\u03BF\u03C0\u03C1\u03C2\u03C3\u03C4\u03C5\u03C6\u03C7\u03C8"
    "\u03C9"
    "\u00B0\u00C5\u00B1\u00D7\u00B7\u2264\u2265\u223C\u2248\u2192\u2190\u2191"
    "\u2193\u2212\u2013\u2014\u2018\u2019\u201C\u201D\u2032\u2033\u2022\u00F6"
    "\u00E9\u00FC";

struct TokenizerTrainOptions {
  // Number of pieces in the vocabulary, the 5 special pieces included.
  // Default: 8000.
  int vocab_size = 8000;
  // SentencePiece model type: "bpe" or "unigram".
  // Default: "bpe".
  std::string model_type = "bpe";
  // Fraction of the corpus characters that get their own piece; the rarest characters
  // beyond it become [UNK] (or bytes with byte_fallback). In (0, 1].
  // Default: 0.9995.
  double character_coverage = 0.9995;
  // Longest training sentence in bytes; longer normalized texts are split at spaces into
  // pieces of at most this length (SentencePiece would otherwise skip them).
  // Default: 16384.
  int max_sentence_length = 16384;
  // Number of training sentences (texts, or pieces of long texts) sampled uniformly,
  // seeded by `seed`, when the corpus has more; 0 uses every sentence.
  // Default: 1000000.
  int input_sentence_size = 1000000;
  // Characters that get their own piece whenever they occur in the corpus at least once,
  // whatever character_coverage says (SentencePiece aborts on required characters that
  // do not occur, so the absent ones are dropped first). UTF-8, NFKC-normalized.
  // Default: kDefaultRequiredChars (printable ASCII, Greek letters, common science
  // symbols such as ° Å ± × · ≤ ≥ ∼ →).
  std::string required_chars = kDefaultRequiredChars;
  // Trainer threads; 0 means one per hardware thread.
  // Default: 0.
  int num_threads = 0;
  // Seed of the sentence sampling and of SentencePiece's random generator. Must not be
  // 2^32 - 1.
  // Default: 42.
  uint32_t seed = 42;
  // Split numbers into single digits ("800" -> "8" "0" "0") so that every number is
  // representable and temperatures share pieces.
  // Default: true.
  bool split_digits = true;
  // Spell characters outside the vocabulary as UTF-8 byte pieces instead of [UNK].
  // Default: false.
  bool byte_fallback = false;
  // If true, training fails when the corpus cannot support `vocab_size` pieces (the
  // message says the largest possible size); if false, a smaller vocabulary is accepted.
  // Default: true.
  bool hard_vocab_limit = true;
  // Let SentencePiece log its progress to stderr. SentencePiece's log level is
  // process-wide: training sets it for every later SentencePiece call.
  // Default: false.
  bool verbose = false;

  // Returns InvalidArgument naming the first field out of range.
  absl::Status Validate() const;
};

// Normalizes `texts` (each one paragraph or sentence, UTF-8) and trains a SentencePiece
// model on them. Returns the serialized model (the bytes of a ".model" file).
// Errors: InvalidArgument for invalid options, no texts, a text that fails NormalizeText
// (the message names "texts[i]"), or a corpus that cannot support the vocabulary size.
// Thread-safe: concurrent calls are serialized internally (SentencePiece's random seed and
// log level are process-wide).
absl::StatusOr<std::string> TrainTokenizerModel(const std::vector<std::string>& texts,
                                                const TokenizerTrainOptions& options);

// Like TrainTokenizerModel, and writes `<model_path_prefix>.model` and
// `<model_path_prefix>.vocab` (one "piece<TAB>score" line per id, as spm_train writes it)
// atomically, creating parent directories.
absl::Status TrainTokenizer(const std::vector<std::string>& texts,
                            const std::string& model_path_prefix,
                            const TokenizerTrainOptions& options);

struct EncodeOptions {
  // Length of Encoding::ids, [CLS] included. Texts with more tokens are truncated (the
  // first max_length - 1 pieces are kept). In [1, 1 << 20].
  // Default: 512.
  int max_length = 512;
  // Pad every Encoding with [PAD] to exactly max_length; if false, ids has
  // min(num_tokens, max_length) entries.
  // Default: true.
  bool pad_to_max_length = true;

  absl::Status Validate() const;
};

struct Encoding {
  // Token ids; ids[0] is [CLS]. Size max_length (padded) or the truncated token count.
  std::vector<int32_t> ids;
  // Same size as ids: 1 for a real token ([CLS] included), 0 for [PAD].
  std::vector<uint8_t> mask;
  // Tokens of the whole text before truncation, [CLS] included.
  int num_tokens = 0;
  // True if num_tokens > max_length and pieces were dropped.
  bool truncated = false;
};

struct BatchEncoding {
  int batch_size = 0;
  // max_length if pad_to_max_length, else the longest (truncated) row of the batch.
  int seq_len = 0;
  // [batch_size, seq_len] row-major; rows shorter than seq_len are padded with [PAD].
  std::vector<int32_t> ids;
  // [batch_size, seq_len] row-major; 1 = real token.
  std::vector<uint8_t> mask;
  // [batch_size]: tokens of each text before truncation, [CLS] included.
  std::vector<int> num_tokens;
  // [batch_size]: 1 if that text was truncated.
  std::vector<uint8_t> truncated;
};

// A loaded tokenizer model. Immutable after Load; every const method is safe to call
// from many threads at once.
class Tokenizer {
 public:
  // Reads a ".model" file written by TrainTokenizer.
  // Errors: NotFound if the file is missing; InvalidArgument "<path>: ..." if it is not a
  // SentencePiece model or lacks the special pieces at their fixed ids.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> Load(const std::string& model_path);

  // Same as Load, from the bytes of a ".model" file (e.g. embedded in a model bundle).
  // `source` names the bytes in error messages.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> LoadFromSerialized(
      std::string bytes, absl::string_view source = "<serialized tokenizer model>");

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Normalizes `text`, splits it into pieces and returns [CLS] + pieces, truncated and
  // padded as `options` say. `source` names the text in error messages.
  // Errors: InvalidArgument for invalid options, malformed UTF-8 or an empty text.
  absl::StatusOr<Encoding> Encode(absl::string_view text, const EncodeOptions& options = {},
                                  absl::string_view source = "<text>") const;

  // Encodes every text (errors name "texts[i]"); see BatchEncoding for the layout.
  absl::StatusOr<BatchEncoding> EncodeBatch(const std::vector<std::string>& texts,
                                            const EncodeOptions& options = {}) const;

  // The pieces of the normalized text, without [CLS], padding or truncation (for
  // inspection and debugging).
  absl::StatusOr<std::vector<std::string>> EncodeAsPieces(absl::string_view text) const;

  // Turns ids back into text. [PAD], [CLS] and the other control pieces are skipped;
  // [UNK] becomes " ⁇ ". Errors: InvalidArgument for an id outside [0, vocab_size()).
  absl::StatusOr<std::string> Decode(const std::vector<int32_t>& ids) const;

  // Returns the piece of `id`; InvalidArgument if out of range.
  absl::StatusOr<std::string> IdToPiece(int32_t id) const;
  // Returns the id of `piece`, or unk_id() if the vocabulary lacks it.
  int32_t PieceToId(absl::string_view piece) const;

  int vocab_size() const { return vocab_size_; }
  int32_t pad_id() const { return kPadId; }
  int32_t unk_id() const { return kUnkId; }
  int32_t cls_id() const { return kClsId; }
  int32_t sep_id() const { return kSepId; }
  int32_t mask_id() const { return kMaskId; }
  // The bytes of the ".model" file this tokenizer was loaded from.
  const std::string& serialized_model() const { return serialized_model_; }

 private:
  Tokenizer(std::unique_ptr<internal::SpModel> model, std::string serialized_model);

  std::unique_ptr<internal::SpModel> model_;
  std::string serialized_model_;
  int vocab_size_ = 0;
};

}  // namespace matalign::text

#endif  // MATALIGN_TEXT_TOKENIZER_H_
