#include "text/tokenizer.h"

#include <algorithm>
#include <random>
#include <string_view>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/file.h"
#include "common/status_macros.h"
#include "text/internal/sentencepiece_adapter.h"
#include "text/normalize.h"

namespace matalign::text {
namespace {

constexpr int kMaxVocabSize = 1 << 20;
constexpr int kMaxEncodeLength = 1 << 20;

struct SpecialPiece {
  int32_t id;
  const char* piece;
};
constexpr SpecialPiece kSpecialPieces[] = {
    {kPadId, kPadPiece}, {kUnkId, kUnkPiece},   {kClsId, kClsPiece},
    {kSepId, kSepPiece}, {kMaskId, kMaskPiece},
};

// Splits a normalized text (single spaces) into pieces of at most `max_bytes` bytes,
// cutting at the last space that fits, or at a UTF-8 character boundary when a single
// word is longer than the limit.
void AppendChunks(const std::string& text, std::size_t max_bytes, std::vector<std::string>* out) {
  std::size_t begin = 0;
  while (text.size() - begin > max_bytes) {
    std::size_t cut = text.rfind(' ', begin + max_bytes);
    if (cut == std::string::npos || cut <= begin) {
      cut = begin + max_bytes;
      while (cut > begin + 1 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
      out->push_back(text.substr(begin, cut - begin));
      begin = cut;
    } else {
      out->push_back(text.substr(begin, cut - begin));
      begin = cut + 1;  // drop the space
    }
  }
  if (begin < text.size()) out->push_back(text.substr(begin));
}

// Returns the characters of `required` (UTF-8) that occur somewhere in `sentences`.
// Requires valid UTF-8.
std::string PresentRequiredChars(const std::string& required,
                                 const std::vector<std::string>& sentences) {
  auto char_length = [](unsigned char lead) -> std::size_t {
    return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
  };
  std::vector<std::string> wanted;
  for (std::size_t i = 0; i < required.size();) {
    const std::size_t n =
        std::min(char_length(static_cast<unsigned char>(required[i])), required.size() - i);
    wanted.push_back(required.substr(i, n));
    i += n;
  }
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  std::vector<bool> present(wanted.size(), false);
  std::size_t remaining = wanted.size();
  for (const std::string& sentence : sentences) {
    for (std::size_t i = 0; i < sentence.size() && remaining > 0;) {
      const std::size_t n =
          std::min(char_length(static_cast<unsigned char>(sentence[i])), sentence.size() - i);
      const absl::string_view c(sentence.data() + i, n);
      const auto it = std::lower_bound(wanted.begin(), wanted.end(), c);
      if (it != wanted.end() && *it == c) {
        const std::size_t k = static_cast<std::size_t>(it - wanted.begin());
        if (!present[k]) {
          present[k] = true;
          --remaining;
        }
      }
      i += n;
    }
    if (remaining == 0) break;
  }
  std::string out;
  for (std::size_t k = 0; k < wanted.size(); ++k) {
    if (present[k]) out += wanted[k];
  }
  return out;
}

int DefaultThreads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(std::min(n, 256u));
}

}  // namespace

absl::Status TokenizerTrainOptions::Validate() const {
  if (vocab_size <= kNumSpecialPieces || vocab_size > kMaxVocabSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("TokenizerTrainOptions.vocab_size = ", vocab_size, ": must be in [",
                     kNumSpecialPieces + 1, ", ", kMaxVocabSize, "]"));
  }
  if (model_type != "bpe" && model_type != "unigram") {
    return absl::InvalidArgumentError(absl::StrCat(
        "TokenizerTrainOptions.model_type = \"", model_type, "\": must be \"bpe\" or \"unigram\""));
  }
  if (!(character_coverage > 0.0 && character_coverage <= 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "TokenizerTrainOptions.character_coverage = ", character_coverage, ": must be in (0, 1]"));
  }
  if (max_sentence_length < 64 || max_sentence_length > (1 << 24)) {
    return absl::InvalidArgumentError(
        absl::StrCat("TokenizerTrainOptions.max_sentence_length = ", max_sentence_length,
                     ": must be in [64, 16777216]"));
  }
  if (input_sentence_size < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "TokenizerTrainOptions.input_sentence_size = ", input_sentence_size, ": must be >= 0"));
  }
  if (num_threads < 0 || num_threads > 1024) {
    return absl::InvalidArgumentError(absl::StrCat(
        "TokenizerTrainOptions.num_threads = ", num_threads, ": must be in [0, 1024]"));
  }
  if (absl::Status s = ValidateUtf8(required_chars, "TokenizerTrainOptions.required_chars");
      !s.ok()) {
    return s;
  }
  if (seed == UINT32_MAX) {
    return absl::InvalidArgumentError(
        "TokenizerTrainOptions.seed = 4294967295: reserved by SentencePiece");
  }
  return absl::OkStatus();
}

absl::Status EncodeOptions::Validate() const {
  if (max_length < 1 || max_length > kMaxEncodeLength) {
    return absl::InvalidArgumentError(absl::StrCat("EncodeOptions.max_length = ", max_length,
                                                   ": must be in [1, ", kMaxEncodeLength, "]"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> TrainTokenizerModel(const std::vector<std::string>& texts,
                                                const TokenizerTrainOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  if (texts.empty()) {
    return absl::InvalidArgumentError("train tokenizer: no training texts");
  }
  std::vector<std::string> sentences;
  sentences.reserve(texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    MATALIGN_ASSIGN_OR_RETURN(std::string normalized,
                              NormalizeText(texts[i], absl::StrCat("texts[", i, "]")));
    AppendChunks(normalized, static_cast<std::size_t>(options.max_sentence_length), &sentences);
  }

  // Sample here rather than in SentencePiece, so that the required characters are
  // counted on exactly the sentences the trainer sees.
  if (options.input_sentence_size > 0 &&
      sentences.size() > static_cast<std::size_t>(options.input_sentence_size)) {
    std::mt19937 rng(options.seed);
    for (std::size_t i = sentences.size() - 1; i > 0; --i) {
      std::swap(sentences[i], sentences[rng() % (i + 1)]);
    }
    sentences.resize(static_cast<std::size_t>(options.input_sentence_size));
  }

  internal::SpTrainConfig config;
  config.model_type = options.model_type;
  config.vocab_size = options.vocab_size;
  config.character_coverage = options.character_coverage;
  config.max_sentence_length = options.max_sentence_length;
  config.num_threads = options.num_threads == 0 ? DefaultThreads() : options.num_threads;
  config.seed = options.seed;
  config.required_chars = PresentRequiredChars(options.required_chars, sentences);
  config.split_digits = options.split_digits;
  config.byte_fallback = options.byte_fallback;
  config.hard_vocab_limit = options.hard_vocab_limit;
  config.verbose = options.verbose;
  config.pad_id = kPadId;
  config.unk_id = kUnkId;
  config.bos_id = kClsId;
  config.pad_piece = kPadPiece;
  config.unk_piece = kUnkPiece;
  config.bos_piece = kClsPiece;
  config.control_symbols = {kSepPiece, kMaskPiece};

  std::string model;
  if (std::string error = internal::TrainSentencePiece(config, sentences, &model); !error.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("train tokenizer on ", texts.size(), " texts: ", error));
  }
  // Checks the special ids; a failure here is a bug, not bad input.
  auto check = Tokenizer::LoadFromSerialized(model, "<trained model>");
  if (!check.ok()) return absl::InternalError(check.status().message());
  return model;
}

absl::Status TrainTokenizer(const std::vector<std::string>& texts,
                            const std::string& model_path_prefix,
                            const TokenizerTrainOptions& options) {
  if (model_path_prefix.empty()) {
    return absl::InvalidArgumentError("train tokenizer: model_path_prefix is empty");
  }
  MATALIGN_ASSIGN_OR_RETURN(std::string model, TrainTokenizerModel(texts, options));
  std::string error;
  std::unique_ptr<internal::SpModel> sp = internal::NewSpModel(&error);
  if (sp == nullptr) return absl::InternalError(absl::StrCat("train tokenizer: ", error));
  if (error = sp->LoadFromSerialized(model); !error.empty()) {
    return absl::InternalError(absl::StrCat("train tokenizer: cannot reload model: ", error));
  }
  std::string vocab;
  for (int id = 0; id < sp->PieceSize(); ++id) {
    absl::StrAppend(&vocab, sp->IdToPiece(id), "\t", sp->Score(id), "\n");
  }
  MATALIGN_RETURN_IF_ERROR(WriteFileAtomic(model_path_prefix + ".model", model));
  MATALIGN_RETURN_IF_ERROR(WriteFileAtomic(model_path_prefix + ".vocab", vocab));
  return absl::OkStatus();
}

Tokenizer::Tokenizer(std::unique_ptr<internal::SpModel> model, std::string serialized_model)
    : model_(std::move(model)),
      serialized_model_(std::move(serialized_model)),
      vocab_size_(model_->PieceSize()) {}

Tokenizer::~Tokenizer() = default;

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::Load(const std::string& model_path) {
  MATALIGN_ASSIGN_OR_RETURN(std::string bytes, ReadFile(model_path));
  return LoadFromSerialized(std::move(bytes), model_path);
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::LoadFromSerialized(std::string bytes,
                                                                         absl::string_view source) {
  if (bytes.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": tokenizer model is empty"));
  }
  std::string error;
  std::unique_ptr<internal::SpModel> model = internal::NewSpModel(&error);
  if (model == nullptr) return absl::InternalError(absl::StrCat(source, ": ", error));
  if (error = model->LoadFromSerialized(bytes); !error.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not a SentencePiece model: ", error));
  }
  if (model->PieceSize() <= kNumSpecialPieces) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": tokenizer model has only ", model->PieceSize(), " pieces"));
  }
  for (const SpecialPiece& special : kSpecialPieces) {
    const std::string piece = model->IdToPiece(special.id);
    const bool kind_ok =
        special.id == kUnkId ? model->IsUnknown(special.id) : model->IsControl(special.id);
    if (piece != special.piece || !kind_ok) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": not a MatAlign tokenizer model: id ", special.id, " is \"", piece,
                       "\", expected the ", special.id == kUnkId ? "unknown" : "control",
                       " piece \"", special.piece, "\""));
    }
  }
  return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(model), std::move(bytes)));
}

absl::StatusOr<Encoding> Tokenizer::Encode(absl::string_view text, const EncodeOptions& options,
                                           absl::string_view source) const {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  MATALIGN_ASSIGN_OR_RETURN(std::string normalized, NormalizeText(text, source));
  std::vector<int> pieces;
  if (std::string error = model_->Encode(normalized, &pieces); !error.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": encode failed: ", error));
  }
  Encoding encoding;
  encoding.num_tokens = static_cast<int>(std::min<std::size_t>(pieces.size() + 1, INT32_MAX));
  encoding.truncated = encoding.num_tokens > options.max_length;
  const int kept = std::min(encoding.num_tokens, options.max_length);
  const int length = options.pad_to_max_length ? options.max_length : kept;
  encoding.ids.assign(static_cast<std::size_t>(length), kPadId);
  encoding.mask.assign(static_cast<std::size_t>(length), 0);
  encoding.ids[0] = kClsId;
  encoding.mask[0] = 1;
  for (int i = 1; i < kept; ++i) {
    encoding.ids[i] = static_cast<int32_t>(pieces[static_cast<std::size_t>(i - 1)]);
    encoding.mask[i] = 1;
  }
  return encoding;
}

absl::StatusOr<BatchEncoding> Tokenizer::EncodeBatch(const std::vector<std::string>& texts,
                                                     const EncodeOptions& options) const {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  EncodeOptions unpadded = options;
  unpadded.pad_to_max_length = false;
  std::vector<Encoding> rows;
  rows.reserve(texts.size());
  int seq_len = options.pad_to_max_length ? options.max_length : 0;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    MATALIGN_ASSIGN_OR_RETURN(Encoding row,
                              Encode(texts[i], unpadded, absl::StrCat("texts[", i, "]")));
    seq_len = std::max(seq_len, static_cast<int>(row.ids.size()));
    rows.push_back(std::move(row));
  }
  BatchEncoding batch;
  batch.batch_size = static_cast<int>(texts.size());
  batch.seq_len = seq_len;
  batch.ids.assign(texts.size() * static_cast<std::size_t>(seq_len), kPadId);
  batch.mask.assign(texts.size() * static_cast<std::size_t>(seq_len), 0);
  batch.num_tokens.reserve(texts.size());
  batch.truncated.reserve(texts.size());
  for (std::size_t r = 0; r < rows.size(); ++r) {
    std::copy(rows[r].ids.begin(), rows[r].ids.end(),
              batch.ids.begin() + static_cast<std::ptrdiff_t>(r * seq_len));
    std::copy(rows[r].mask.begin(), rows[r].mask.end(),
              batch.mask.begin() + static_cast<std::ptrdiff_t>(r * seq_len));
    batch.num_tokens.push_back(rows[r].num_tokens);
    batch.truncated.push_back(rows[r].truncated ? 1 : 0);
  }
  return batch;
}

absl::StatusOr<std::vector<std::string>> Tokenizer::EncodeAsPieces(absl::string_view text) const {
  MATALIGN_ASSIGN_OR_RETURN(std::string normalized, NormalizeText(text));
  std::vector<std::string> pieces;
  if (std::string error = model_->EncodeAsPieces(normalized, &pieces); !error.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("<text>: encode failed: ", error));
  }
  return pieces;
}

absl::StatusOr<std::string> Tokenizer::Decode(const std::vector<int32_t>& ids) const {
  std::vector<int> kept;
  kept.reserve(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const int32_t id = ids[i];
    if (id < 0 || id >= vocab_size_) {
      return absl::InvalidArgumentError(
          absl::StrCat("decode: ids[", i, "] = ", id, " is outside [0, ", vocab_size_, ")"));
    }
    if (!model_->IsControl(id)) kept.push_back(id);
  }
  std::string text;
  if (std::string error = model_->Decode(kept, &text); !error.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("decode: ", error));
  }
  return text;
}

absl::StatusOr<std::string> Tokenizer::IdToPiece(int32_t id) const {
  if (id < 0 || id >= vocab_size_) {
    return absl::InvalidArgumentError(
        absl::StrCat("id ", id, " is outside [0, ", vocab_size_, ")"));
  }
  return model_->IdToPiece(id);
}

// The SentencePiece adapter takes std::string_view (see sentencepiece_adapter.h).
int32_t Tokenizer::PieceToId(absl::string_view piece) const {
  return model_->PieceToId(std::string_view(piece.data(), piece.size()));
}

}  // namespace matalign::text
