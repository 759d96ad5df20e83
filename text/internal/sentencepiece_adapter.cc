// Includes SentencePiece and, on purpose, no abseil header (see the header comment).
#include "text/internal/sentencepiece_adapter.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <exception>
#include <mutex>
#include <unordered_map>

namespace matalign::text::internal {
namespace {

// Feeds the training sentences from memory, so that no temporary corpus file is needed.
class VectorSentenceIterator : public sentencepiece::SentenceIterator {
 public:
  explicit VectorSentenceIterator(const std::vector<std::string>& sentences)
      : sentences_(sentences) {}
  bool done() const override { return index_ >= sentences_.size(); }
  void Next() override { ++index_; }
  const std::string& value() const override { return sentences_[index_]; }
  sentencepiece::util::Status status() const override { return sentencepiece::util::Status(); }

 private:
  const std::vector<std::string>& sentences_;
  std::size_t index_ = 0;
};

std::string ToMessage(const sentencepiece::util::Status& status) {
  std::string message = status.ToString();
  return message.empty() ? "unknown SentencePiece error" : message;
}

std::mutex& TrainMutex() {
  static std::mutex* mu = new std::mutex;
  return *mu;
}

class SpModelImpl : public SpModel {
 public:
  SpModelImpl() : sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {}
  std::string LoadFromSerialized(std::string_view serialized) override;
  int PieceSize() const override;
  std::string IdToPiece(int id) const override;
  int PieceToId(std::string_view piece) const override;
  float Score(int id) const override;
  bool IsControl(int id) const override;
  bool IsUnknown(int id) const override;
  bool IsByte(int id) const override;
  std::string Encode(std::string_view text, std::vector<int>* ids) const override;
  std::string EncodeAsPieces(std::string_view text,
                             std::vector<std::string>* pieces) const override;
  std::string Decode(const std::vector<int>& ids, std::string* text) const override;

 private:
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
};

}  // namespace

std::string TrainImpl(const SpTrainConfig& config, const std::vector<std::string>& sentences,
                      std::string* serialized_model) {
  std::string control_symbols;
  for (const std::string& symbol : config.control_symbols) {
    if (!control_symbols.empty()) control_symbols += ',';
    control_symbols += symbol;
  }
  const std::unordered_map<std::string, std::string> flags = {
      {"model_type", config.model_type},
      {"vocab_size", std::to_string(config.vocab_size)},
      {"character_coverage", std::to_string(config.character_coverage)},
      {"max_sentence_length", std::to_string(config.max_sentence_length)},
      {"input_sentence_size", "0"},  // every sentence; the caller samples
      {"num_threads", std::to_string(config.num_threads)},
      {"split_digits", config.split_digits ? "true" : "false"},
      {"byte_fallback", config.byte_fallback ? "true" : "false"},
      {"hard_vocab_limit", config.hard_vocab_limit ? "true" : "false"},
      {"required_chars", config.required_chars},
      // Texts are normalized by NormalizeText before they reach SentencePiece.
      {"normalization_rule_name", "identity"},
      {"pad_id", std::to_string(config.pad_id)},
      {"unk_id", std::to_string(config.unk_id)},
      {"bos_id", std::to_string(config.bos_id)},
      {"eos_id", "-1"},
      {"pad_piece", config.pad_piece},
      {"unk_piece", config.unk_piece},
      {"bos_piece", config.bos_piece},
      {"control_symbols", control_symbols},
      {"minloglevel", config.verbose ? "0" : "2"},
  };
  try {
    std::lock_guard<std::mutex> lock(TrainMutex());
    sentencepiece::SetRandomGeneratorSeed(config.seed);
    VectorSentenceIterator iterator(sentences);
    serialized_model->clear();
    const sentencepiece::util::Status status =
        sentencepiece::SentencePieceTrainer::Train(flags, &iterator, serialized_model);
    if (!status.ok()) return ToMessage(status);
  } catch (const std::exception& e) {
    return std::string("SentencePiece trainer threw: ") + e.what();
  } catch (...) {
    return "SentencePiece trainer threw an unknown exception";
  }
  if (serialized_model->empty()) return "SentencePiece trainer produced no model";
  return "";
}

std::string SpModelImpl::LoadFromSerialized(std::string_view serialized) {
  try {
    const sentencepiece::util::Status status = sp_->LoadFromSerializedProto(serialized);
    if (!status.ok()) return ToMessage(status);
  } catch (const std::exception& e) {
    return std::string("SentencePiece threw: ") + e.what();
  } catch (...) {
    return "SentencePiece threw an unknown exception";
  }
  return "";
}

int SpModelImpl::PieceSize() const { return sp_->GetPieceSize(); }
std::string SpModelImpl::IdToPiece(int id) const { return sp_->IdToPiece(id); }
int SpModelImpl::PieceToId(std::string_view piece) const { return sp_->PieceToId(piece); }
float SpModelImpl::Score(int id) const { return sp_->GetScore(id); }
bool SpModelImpl::IsControl(int id) const { return sp_->IsControl(id); }
bool SpModelImpl::IsUnknown(int id) const { return sp_->IsUnknown(id); }
bool SpModelImpl::IsByte(int id) const { return sp_->IsByte(id); }

std::string SpModelImpl::Encode(std::string_view text, std::vector<int>* ids) const {
  try {
    const sentencepiece::util::Status status = sp_->Encode(text, ids);
    if (!status.ok()) return ToMessage(status);
  } catch (const std::exception& e) {
    return std::string("SentencePiece threw: ") + e.what();
  }
  return "";
}

std::string SpModelImpl::EncodeAsPieces(std::string_view text,
                                        std::vector<std::string>* pieces) const {
  try {
    const sentencepiece::util::Status status = sp_->Encode(text, pieces);
    if (!status.ok()) return ToMessage(status);
  } catch (const std::exception& e) {
    return std::string("SentencePiece threw: ") + e.what();
  }
  return "";
}

std::string SpModelImpl::Decode(const std::vector<int>& ids, std::string* text) const {
  try {
    const sentencepiece::util::Status status = sp_->Decode(ids, text);
    if (!status.ok()) return ToMessage(status);
  } catch (const std::exception& e) {
    return std::string("SentencePiece threw: ") + e.what();
  }
  return "";
}

namespace {

class Backend : public SpBackend {
 public:
  std::string Train(const SpTrainConfig& config, const std::vector<std::string>& sentences,
                    std::string* serialized_model) const override {
    return TrainImpl(config, sentences, serialized_model);
  }
  std::unique_ptr<SpModel> NewModel() const override { return std::make_unique<SpModelImpl>(); }
};

}  // namespace
}  // namespace matalign::text::internal

extern "C" __attribute__((visibility("default"))) const matalign::text::internal::SpBackend*
matalign_sentencepiece_backend_v1() {
  static const matalign::text::internal::Backend* backend = new matalign::text::internal::Backend;
  return backend;
}
