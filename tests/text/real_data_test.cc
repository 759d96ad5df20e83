// Reads the real synthesis texts (../shared/data/real) and trains the tokenizer on them.
// Skipped when the real data is absent. Figures (timings, tokens per paragraph) are
// printed, never asserted on.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "tests/test_util.h"
#include "text/corpus.h"
#include "text/normalize.h"
#include "text/tokenizer.h"

namespace matalign::text {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST(TextRealDataTest, ReadsAndNormalizesTheSynthesisParagraphs) {
  MATALIGN_REAL_DATA_OR_SKIP(dir, "synthesis_text");
  ASSERT_OK_AND_ASSIGN(std::vector<SynthesisText> paragraphs, ReadSynthesisParagraphs(dir));
  EXPECT_EQ(paragraphs.size(), 215u);
  std::size_t degc_spellings = 0, untitled = 0;
  for (const SynthesisText& p : paragraphs) {
    EXPECT_TRUE(absl::StartsWith(p.doi, "10.")) << p.source;
    untitled += p.title.empty() ? 1 : 0;  // line 2 is blank in a few files
    ASSERT_OK_AND_ASSIGN(std::string normalized, NormalizeText(p.text, p.source));
    EXPECT_FALSE(absl::StrContains(normalized, "  ")) << p.source;
    EXPECT_FALSE(absl::StrContains(normalized, "\n")) << p.source;
    ASSERT_OK_AND_ASSIGN(std::string again, NormalizeText(normalized, p.source));
    EXPECT_EQ(again, normalized) << p.source;
    if (absl::StrContains(p.text, " degC")) {
      ++degc_spellings;
      EXPECT_FALSE(absl::StrContains(normalized, " degC")) << p.source;
      EXPECT_TRUE(absl::StrContains(normalized, " \u00B0C")) << p.source;
    }
  }
  EXPECT_GT(degc_spellings, 50u);  // the files spell Celsius "degC"
  EXPECT_LT(untitled, 20u);
}

TEST(TextRealDataTest, ReadsTheRecipeFiles) {
  MATALIGN_REAL_DATA_OR_SKIP(solid_state, "recipes/solid_state_recipes.jsonl.xz");
  MATALIGN_REAL_DATA_OR_SKIP(sol_gel, "recipes/sol_gel_recipes.json.xz");
  auto start = std::chrono::steady_clock::now();
  ASSERT_OK_AND_ASSIGN(std::vector<SynthesisText> solid, ReadRecipeParagraphs(solid_state));
  const double solid_s = SecondsSince(start);
  start = std::chrono::steady_clock::now();
  ASSERT_OK_AND_ASSIGN(std::vector<SynthesisText> gel, ReadRecipeParagraphs(sol_gel));
  const double gel_s = SecondsSince(start);
  std::printf(
      "[ figures  ] solid-state: %zu distinct paragraphs in %.2f s; sol-gel: %zu in "
      "%.2f s\n",
      solid.size(), solid_s, gel.size(), gel_s);
  // 27162 records hold 20049 distinct paragraphs; 9518 sol-gel records hold 7124.
  EXPECT_EQ(solid.size(), 20049u);
  EXPECT_EQ(gel.size(), 7124u);
  for (const auto* set : {&solid, &gel}) {
    for (const SynthesisText& r : *set) {
      ASSERT_FALSE(absl::StrContains(r.text, "<...>")) << r.source;
      ASSERT_FALSE(r.doi.empty()) << r.source;
      ASSERT_OK_AND_ASSIGN(std::string normalized, NormalizeText(r.text, r.source));
      ASSERT_OK_AND_ASSIGN(std::string again, NormalizeText(normalized, r.source));
      ASSERT_EQ(again, normalized) << r.source;
    }
  }
  EXPECT_TRUE(absl::EndsWith(solid[0].source, "solid_state_recipes.jsonl.xz:1"));
  EXPECT_TRUE(absl::EndsWith(gel[0].source, "sol_gel_recipes.json.xz: reactions[0]"));
}

// Trains an 8000-piece BPE model on the synthesis paragraphs (minus held-out ones) and a
// few thousand recipe paragraphs, then encodes the held-out paragraphs.
TEST(TextRealDataTest, TrainsBpeAndEncodesHeldOutParagraphs) {
  MATALIGN_REAL_DATA_OR_SKIP(dir, "synthesis_text");
  MATALIGN_REAL_DATA_OR_SKIP(solid_state, "recipes/solid_state_recipes.jsonl.xz");
  MATALIGN_REAL_DATA_OR_SKIP(sol_gel, "recipes/sol_gel_recipes.json.xz");
  auto start = std::chrono::steady_clock::now();
  ASSERT_OK_AND_ASSIGN(std::vector<SynthesisText> paragraphs, ReadSynthesisParagraphs(dir));
  RecipeReaderOptions solid_options;
  solid_options.limit = 4000;
  ASSERT_OK_AND_ASSIGN(std::vector<SynthesisText> solid,
                       ReadRecipeParagraphs(solid_state, solid_options));
  RecipeReaderOptions gel_options;
  gel_options.limit = 2000;
  ASSERT_OK_AND_ASSIGN(std::vector<SynthesisText> gel, ReadRecipeParagraphs(sol_gel, gel_options));
  const double read_s = SecondsSince(start);

  // Every 20th paragraph is held out.
  std::vector<std::string> train;
  std::vector<const SynthesisText*> held_out;
  for (std::size_t i = 0; i < paragraphs.size(); ++i) {
    if (i % 20 == 7) {
      held_out.push_back(&paragraphs[i]);
    } else {
      train.push_back(paragraphs[i].text);
    }
  }
  for (const auto* set : {&solid, &gel}) {
    for (const SynthesisText& r : *set) train.push_back(r.text);
  }

  TokenizerTrainOptions options;  // vocab 8000, BPE
  options.num_threads = 2;
  start = std::chrono::steady_clock::now();
  ASSERT_OK_AND_ASSIGN(std::string model, TrainTokenizerModel(train, options));
  const double train_s = SecondsSince(start);
  ASSERT_OK_AND_ASSIGN(auto tokenizer, Tokenizer::LoadFromSerialized(model));
  EXPECT_EQ(tokenizer->vocab_size(), 8000);

  std::size_t held_tokens = 0, held_unknown = 0, held_truncated = 0;
  for (const SynthesisText* p : held_out) {
    ASSERT_OK_AND_ASSIGN(Encoding e, tokenizer->Encode(p->text, {}, p->source));
    EXPECT_EQ(e.ids[0], kClsId);
    held_tokens += static_cast<std::size_t>(e.num_tokens);
    held_unknown += static_cast<std::size_t>(std::count(e.ids.begin(), e.ids.end(), kUnkId));
    held_truncated += e.truncated ? 1 : 0;
  }
  // Few [UNK]s: rare symbols only (the model covers 99.95% of the characters).
  EXPECT_LT(static_cast<double>(held_unknown), 0.01 * static_cast<double>(held_tokens));

  std::size_t all_tokens = 0, all_truncated = 0;
  EncodeOptions unlimited;
  unlimited.max_length = 1 << 16;
  unlimited.pad_to_max_length = false;
  for (const SynthesisText& p : paragraphs) {
    ASSERT_OK_AND_ASSIGN(Encoding e, tokenizer->Encode(p.text, unlimited, p.source));
    all_tokens += static_cast<std::size_t>(e.num_tokens);
    all_truncated += e.num_tokens > 512 ? 1 : 0;
  }
  std::size_t recipe_tokens = 0;
  for (const SynthesisText& r : solid) {
    ASSERT_OK_AND_ASSIGN(Encoding e, tokenizer->Encode(r.text, unlimited, r.source));
    recipe_tokens += static_cast<std::size_t>(e.num_tokens);
  }
  std::printf(
      "[ figures  ] read %.2f s; trained vocab %d on %zu texts in %.2f s\n"
      "[ figures  ] held-out: %zu paragraphs, %.1f tokens/paragraph, %zu [UNK] of %zu tokens, "
      "%zu truncated at 512\n"
      "[ figures  ] all %zu paragraphs: %.1f tokens/paragraph, %zu longer than 512; "
      "recipe excerpts: %.1f tokens each\n",
      read_s, tokenizer->vocab_size(), train.size(), train_s, held_out.size(),
      static_cast<double>(held_tokens) / static_cast<double>(held_out.size()), held_unknown,
      held_tokens, held_truncated, paragraphs.size(),
      static_cast<double>(all_tokens) / static_cast<double>(paragraphs.size()), all_truncated,
      static_cast<double>(recipe_tokens) / static_cast<double>(solid.size()));
}

}  // namespace
}  // namespace matalign::text
