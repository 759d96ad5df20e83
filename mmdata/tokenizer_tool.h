// `mmdata tokenizer train|encode`: BPE tokenizer training on synthesis-text corpora.
#ifndef MATALIGN_MMDATA_TOKENIZER_TOOL_H_
#define MATALIGN_MMDATA_TOKENIZER_TOOL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "text/tokenizer.h"

namespace matalign::mmdata {

// Reads every corpus path (directories of paragraph .txt files, recipe .jsonl/.json[.xz],
// plain .txt with one text per line; see text::ReadCorpus), at most `limit_per_path` texts
// from each (0 = all), and trains a tokenizer written to <out_prefix>.model/.vocab.
// Returns {texts, corpus_bytes, vocab_size, model, seconds}.
absl::StatusOr<nlohmann::json> TrainTokenizerFromCorpus(
    const std::vector<std::string>& corpus_paths, size_t limit_per_path,
    const std::string& out_prefix, const text::TokenizerTrainOptions& options);

// Encodes `text` with the model at `model_path`; returns {ids, pieces, num_tokens,
// truncated, max_length}.
absl::StatusOr<nlohmann::json> EncodeWithModel(const std::string& model_path,
                                               const std::string& text,
                                               const text::EncodeOptions& options);

}  // namespace matalign::mmdata

#endif  // MATALIGN_MMDATA_TOKENIZER_TOOL_H_
