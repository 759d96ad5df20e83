#include "mmdata/tokenizer_tool.h"

#include <chrono>

#include "common/status_macros.h"
#include "text/corpus.h"

namespace matalign::mmdata {

absl::StatusOr<nlohmann::json> TrainTokenizerFromCorpus(
    const std::vector<std::string>& corpus_paths, size_t limit_per_path,
    const std::string& out_prefix, const text::TokenizerTrainOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::string> texts;
  size_t bytes = 0;
  for (const std::string& path : corpus_paths) {
    MATALIGN_ASSIGN_OR_RETURN(std::vector<text::SynthesisText> corpus,
                              text::ReadCorpus(path, limit_per_path));
    for (text::SynthesisText& t : corpus) {
      bytes += t.text.size();
      texts.push_back(std::move(t.text));
    }
  }
  MATALIGN_RETURN_IF_ERROR(text::TrainTokenizer(texts, out_prefix, options));
  MATALIGN_ASSIGN_OR_RETURN(auto tokenizer, text::Tokenizer::Load(out_prefix + ".model"));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return nlohmann::json{{"texts", texts.size()},
                        {"corpus_bytes", bytes},
                        {"vocab_size", tokenizer->vocab_size()},
                        {"model", out_prefix + ".model"},
                        {"seconds", seconds}};
}

absl::StatusOr<nlohmann::json> EncodeWithModel(const std::string& model_path,
                                               const std::string& input,
                                               const text::EncodeOptions& options) {
  MATALIGN_ASSIGN_OR_RETURN(auto tokenizer, text::Tokenizer::Load(model_path));
  text::EncodeOptions no_pad = options;
  no_pad.pad_to_max_length = false;
  MATALIGN_ASSIGN_OR_RETURN(text::Encoding enc, tokenizer->Encode(input, no_pad));
  std::vector<std::string> pieces;
  for (int32_t id : enc.ids) {
    MATALIGN_ASSIGN_OR_RETURN(std::string piece, tokenizer->IdToPiece(id));
    pieces.push_back(std::move(piece));
  }
  return nlohmann::json{{"ids", enc.ids},
                        {"pieces", pieces},
                        {"num_tokens", enc.num_tokens},
                        {"truncated", enc.truncated},
                        {"max_length", options.max_length}};
}

}  // namespace matalign::mmdata
