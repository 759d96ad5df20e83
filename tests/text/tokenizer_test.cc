#include "text/tokenizer.h"

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file.h"
#include "tests/test_util.h"
#include "text/internal/sentencepiece_adapter.h"
#include "text/normalize.h"

namespace matalign::text {
namespace {

using ::matalign::testing::TempDir;

// A small synthetic corpus of synthesis sentences, generated with a fixed seed.
std::vector<std::string> SmallCorpus() {
  static const char* kPrecursors[] = {"Li2CO3", "Co3O4", "MnO2",  "NiO",  "TiO2",  "La2O3",
                                      "SrCO3",  "Fe2O3", "BaCO3", "ZrO2", "Nb2O5", "CaCO3"};
  static const char* kSolvents[] = {"ethanol", "water", "acetone", "isopropanol"};
  static const char* kAtmospheres[] = {"air", "argon", "oxygen", "nitrogen"};
  static const char* kUnits[] = {"degC", "\u00B0C", "oC", "\xE2\x84\x83"};
  static const char* kHours[] = {"h", "hours", "hrs"};
  std::mt19937 rng(12345);
  auto pick = [&rng](auto& array) { return array[rng() % (sizeof(array) / sizeof(array[0]))]; };
  std::vector<std::string> texts;
  for (int i = 0; i < 400; ++i) {
    texts.push_back(
        absl::StrCat("Stoichiometric amounts of ", pick(kPrecursors), " and ", pick(kPrecursors),
                     " were mixed in ", pick(kSolvents), ", dried at ", 60 + rng() % 60, " ",
                     pick(kUnits), " and calcined at ", 500 + 50 * (rng() % 16), " ", pick(kUnits),
                     " for ", 1 + rng() % 24, " ", pick(kHours), " in ", pick(kAtmospheres),
                     ". The powder was pressed into pellets and sintered."));
  }
  return texts;
}

TokenizerTrainOptions SmallOptions() {
  TokenizerTrainOptions options;
  options.vocab_size = 200;
  options.num_threads = 1;
  options.character_coverage = 1.0;
  return options;
}

// The model trained on SmallCorpus() with SmallOptions(), trained once per process.
const std::string& SmallModel() {
  static const std::string* model = [] {
    absl::StatusOr<std::string> bytes = TrainTokenizerModel(SmallCorpus(), SmallOptions());
    if (!bytes.ok()) {
      ADD_FAILURE() << bytes.status();
      return new std::string();
    }
    return new std::string(*std::move(bytes));
  }();
  return *model;
}

std::unique_ptr<Tokenizer> SmallTokenizer() {
  auto tokenizer = Tokenizer::LoadFromSerialized(SmallModel());
  EXPECT_OK(tokenizer);
  return tokenizer.ok() ? *std::move(tokenizer) : nullptr;
}

TEST(TokenizerTest, TrainWritesModelAndVocabFiles) {
  TempDir dir;
  const std::string prefix = dir.Join("sub/tok");
  ASSERT_OK(TrainTokenizer(SmallCorpus(), prefix, SmallOptions()));
  ASSERT_OK_AND_ASSIGN(auto tokenizer, Tokenizer::Load(prefix + ".model"));
  EXPECT_EQ(tokenizer->vocab_size(), 200);
  ASSERT_OK_AND_ASSIGN(std::string model_bytes, ReadFile(prefix + ".model"));
  EXPECT_EQ(tokenizer->serialized_model(), model_bytes);

  ASSERT_OK_AND_ASSIGN(std::string vocab, ReadFile(prefix + ".vocab"));
  std::vector<std::string> lines = absl::StrSplit(vocab, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 200u);
  EXPECT_EQ(lines[0], "[PAD]\t0");
  EXPECT_EQ(lines[1], "[UNK]\t0");
  EXPECT_EQ(lines[2], "[CLS]\t0");
  EXPECT_EQ(lines[3], "[SEP]\t0");
  EXPECT_EQ(lines[4], "[MASK]\t0");
}

TEST(TokenizerTest, SpecialIdsAreFixed) {
  auto tokenizer = SmallTokenizer();
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->pad_id(), 0);
  EXPECT_EQ(tokenizer->unk_id(), 1);
  EXPECT_EQ(tokenizer->cls_id(), 2);
  EXPECT_EQ(tokenizer->sep_id(), 3);
  EXPECT_EQ(tokenizer->mask_id(), 4);
  const char* pieces[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  for (int32_t id = 0; id < 5; ++id) {
    ASSERT_OK_AND_ASSIGN(std::string piece, tokenizer->IdToPiece(id));
    EXPECT_EQ(piece, pieces[id]);
    EXPECT_EQ(tokenizer->PieceToId(pieces[id]), id);
  }
  EXPECT_EQ(tokenizer->PieceToId("no-such-piece"), kUnkId);
  EXPECT_EQ(tokenizer->IdToPiece(-1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tokenizer->IdToPiece(200).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TokenizerTest, EncodeStartsWithClsAndPadsWithMask) {
  auto tokenizer = SmallTokenizer();
  ASSERT_NE(tokenizer, nullptr);
  EncodeOptions options;
  options.max_length = 64;
  ASSERT_OK_AND_ASSIGN(Encoding e,
                       tokenizer->Encode("NiO and TiO2 were mixed in water and calcined at 800 "
                                         "degC for 12 h in air.",
                                         options));
  ASSERT_EQ(e.ids.size(), 64u);
  ASSERT_EQ(e.mask.size(), 64u);
  EXPECT_FALSE(e.truncated);
  EXPECT_GT(e.num_tokens, 10);
  EXPECT_LT(e.num_tokens, 64);
  EXPECT_EQ(e.ids[0], kClsId);
  for (int i = 0; i < 64; ++i) {
    if (i < e.num_tokens) {
      EXPECT_EQ(e.mask[i], 1) << i;
      if (i > 0) {
        EXPECT_GE(e.ids[i], kNumSpecialPieces) << i;  // no [UNK], no specials
      }
    } else {
      EXPECT_EQ(e.mask[i], 0) << i;
      EXPECT_EQ(e.ids[i], kPadId) << i;
    }
  }
}

TEST(TokenizerTest, DecodeRoundTripsTheNormalizedText) {
  auto tokenizer = SmallTokenizer();
  ASSERT_NE(tokenizer, nullptr);
  for (const std::string& text : SmallCorpus()) {
    ASSERT_OK_AND_ASSIGN(Encoding e, tokenizer->Encode(text));
    ASSERT_FALSE(e.truncated);
    ASSERT_OK_AND_ASSIGN(std::string decoded, tokenizer->Decode(e.ids));
    ASSERT_OK_AND_ASSIGN(std::string normalized, NormalizeText(text));
    EXPECT_EQ(decoded, normalized);
  }
}

TEST(TokenizerTest, EquivalentSpellingsEncodeIdentically) {
  auto tokenizer = SmallTokenizer();
  ASSERT_NE(tokenizer, nullptr);
  ASSERT_OK_AND_ASSIGN(Encoding a, tokenizer->Encode("calcined at 800 degC for 12 hours"));
  ASSERT_OK_AND_ASSIGN(Encoding b, tokenizer->Encode("calcined at 800\xE2\x84\x83 for 12 hrs"));
  ASSERT_OK_AND_ASSIGN(Encoding c,
                       tokenizer->Encode("calcined\tat \xEF\xBC\x98\xEF\xBC\x90\xEF\xBC\x90 oC "
                                         "for 12h"));
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.ids, c.ids);
}

TEST(TokenizerTest, TruncationIsReported) {
  auto tokenizer = SmallTokenizer();
  ASSERT_NE(tokenizer, nullptr);
  const std::string text = SmallCorpus()[0];
  ASSERT_OK_AND_ASSIGN(Encoding full, tokenizer->Encode(text));
  ASSERT_GT(full.num_tokens, 8);

  EncodeOptions short_options;
  short_options.max_length = 8;
  ASSERT_OK_AND_ASSIGN(Encoding cut, tokenizer->Encode(text, short_options));
  EXPECT_TRUE(cut.truncated);
  EXPECT_EQ(cut.num_tokens, full.num_tokens);
  ASSERT_EQ(cut.ids.size(), 8u);
  EXPECT_EQ(cut.ids, std::vector<int32_t>(full.ids.begin(), full.ids.begin() + 8));
  EXPECT_EQ(cut.mask, std::vector<uint8_t>(8, 1));

  // Exactly max_length tokens is not a truncation.
  EncodeOptions exact;
  exact.max_length = full.num_tokens;
  ASSERT_OK_AND_ASSIGN(Encoding fits, tokenizer->Encode(text, exact));
  EXPECT_FALSE(fits.truncated);

  // Without padding the row is as long as the kept tokens.
  EncodeOptions unpadded;
  unpadded.max_length = 512;
  unpadded.pad_to_max_length = false;
  ASSERT_OK_AND_ASSIGN(Encoding tight, tokenizer->Encode(text, unpadded));
  EXPECT_EQ(static_cast<int>(tight.ids.size()), full.num_tokens);
  EXPECT_EQ(tight.mask, std::vector<uint8_t>(tight.ids.size(), 1));

  // max_length = 1 keeps only [CLS].
  EncodeOptions one;
  one.max_length = 1;
  ASSERT_OK_AND_ASSIGN(Encoding cls_only, tokenizer->Encode(text, one));
  EXPECT_EQ(cls_only.ids, std::vector<int32_t>{kClsId});
  EXPECT_TRUE(cls_only.truncated);
}

TEST(TokenizerTest, UnknownCharactersMapToUnk) {
  auto tokenizer = SmallTokenizer();
  ASSERT_NE(tokenizer, nullptr);
  EncodeOptions options;
  options.pad_to_max_length = false;
  // U+2603 SNOWMAN and two CJK characters never occur in the corpus.
  ASSERT_OK_AND_ASSIGN(
      Encoding e,
      tokenizer->Encode("mixed \xE2\x98\x83 in \xE6\xBC\xA2\xE5\xAD\x97 water", options));
  const auto unknowns = std::count(e.ids.begin(), e.ids.end(), kUnkId);
  EXPECT_EQ(unknowns, 2);  // consecutive unknown characters form one [UNK]
  ASSERT_OK_AND_ASSIGN(std::string decoded, tokenizer->Decode(e.ids));
  EXPECT_TRUE(absl::StrContains(decoded, "\xE2\x81\x87")) << decoded;  // " ⁇ "
}

TEST(TokenizerTest, ByteFallbackSpellsUnknownCharacters) {
  TokenizerTrainOptions options = SmallOptions();
  options.byte_fallback = true;
  options.vocab_size = 500;  // room for the 256 byte pieces
  ASSERT_OK_AND_ASSIGN(std::string model, TrainTokenizerModel(SmallCorpus(), options));
  ASSERT_OK_AND_ASSIGN(auto tokenizer, Tokenizer::LoadFromSerialized(model));
  ASSERT_OK_AND_ASSIGN(Encoding e, tokenizer->Encode("mixed \xE2\x98\x83 in water"));
  EXPECT_EQ(std::count(e.ids.begin(), e.ids.end(), kUnkId), 0);
  ASSERT_OK_AND_ASSIGN(std::string decoded, tokenizer->Decode(e.ids));
  EXPECT_EQ(decoded, "mixed \xE2\x98\x83 in water");
}

TEST(TokenizerTest, RequiredCharactersGetPiecesEvenWhenRare) {
  std::vector<std::string> corpus = SmallCorpus();
  corpus.push_back("A rare \xCE\xB2-phase (#3) formed.");  // β and # occur once
  TokenizerTrainOptions options = SmallOptions();
  options.character_coverage = 0.98;  // would drop characters seen once
  ASSERT_OK_AND_ASSIGN(std::string model, TrainTokenizerModel(corpus, options));
  ASSERT_OK_AND_ASSIGN(auto tokenizer, Tokenizer::LoadFromSerialized(model));
  ASSERT_OK_AND_ASSIGN(Encoding e, tokenizer->Encode("\xCE\xB2 #"));
  EXPECT_EQ(std::count(e.ids.begin(), e.ids.end(), kUnkId), 0);

  options.required_chars = "";
  ASSERT_OK_AND_ASSIGN(model, TrainTokenizerModel(corpus, options));
  ASSERT_OK_AND_ASSIGN(tokenizer, Tokenizer::LoadFromSerialized(model));
  ASSERT_OK_AND_ASSIGN(e, tokenizer->Encode("\xCE\xB2 #"));
  EXPECT_GT(std::count(e.ids.begin(), e.ids.end(), kUnkId), 0);
}

TEST(TokenizerTest, SamplingSentencesIsSafeAndDeterministic) {
  std::vector<std::string> corpus = SmallCorpus();
  corpus.push_back("A rare \xCE\xB2-phase formed.");  // likely not sampled
  TokenizerTrainOptions options = SmallOptions();
  options.input_sentence_size = 50;
  options.hard_vocab_limit = false;
  ASSERT_OK_AND_ASSIGN(std::string a, TrainTokenizerModel(corpus, options));
  ASSERT_OK_AND_ASSIGN(std::string b, TrainTokenizerModel(corpus, options));
  EXPECT_EQ(a, b);
  options.seed = 7;
  ASSERT_OK_AND_ASSIGN(std::string c, TrainTokenizerModel(corpus, options));
  EXPECT_NE(a, c);
}

TEST(TokenizerTest, EncodeBatchIsRowMajorAndMatchesEncode) {
  auto tokenizer = SmallTokenizer();
  ASSERT_NE(tokenizer, nullptr);
  const std::vector<std::string> texts = {"calcined at 900 degC", SmallCorpus()[1], "NiO"};
  EncodeOptions options;
  options.max_length = 16;
  ASSERT_OK_AND_ASSIGN(BatchEncoding batch, tokenizer->EncodeBatch(texts, options));
  EXPECT_EQ(batch.batch_size, 3);
  EXPECT_EQ(batch.seq_len, 16);
  ASSERT_EQ(batch.ids.size(), 48u);
  ASSERT_EQ(batch.mask.size(), 48u);
  for (int r = 0; r < 3; ++r) {
    ASSERT_OK_AND_ASSIGN(Encoding e, tokenizer->Encode(texts[r], options));
    EXPECT_EQ(std::vector<int32_t>(batch.ids.begin() + r * 16, batch.ids.begin() + (r + 1) * 16),
              e.ids);
    EXPECT_EQ(std::vector<uint8_t>(batch.mask.begin() + r * 16, batch.mask.begin() + (r + 1) * 16),
              e.mask);
    EXPECT_EQ(batch.num_tokens[r], e.num_tokens);
    EXPECT_EQ(batch.truncated[r] != 0, e.truncated);
  }
  EXPECT_EQ(batch.truncated[1], 1);

  // Without padding to max_length the batch is as wide as its longest row.
  options.pad_to_max_length = false;
  options.max_length = 512;
  ASSERT_OK_AND_ASSIGN(BatchEncoding tight, tokenizer->EncodeBatch(texts, options));
  EXPECT_EQ(tight.seq_len, *std::max_element(tight.num_tokens.begin(), tight.num_tokens.end()));

  // Errors name the text.
  auto bad = tokenizer->EncodeBatch({"ok", " \n "}, options);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "texts[1]: text is empty");
}

TEST(TokenizerTest, BadInputIsInvalidArgument) {
  auto tokenizer = SmallTokenizer();
  ASSERT_NE(tokenizer, nullptr);
  auto empty = tokenizer->Encode("   ", {}, "para.txt");
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(empty.status().message(), "para.txt: text is empty");

  auto bad_utf8 = tokenizer->Encode("800 \xC2 degC", {}, "para.txt");
  EXPECT_EQ(bad_utf8.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(bad_utf8.status().message(), "para.txt: invalid UTF-8 at byte 4"))
      << bad_utf8.status();

  EncodeOptions zero;
  zero.max_length = 0;
  EXPECT_EQ(tokenizer->Encode("text", zero).status().code(), absl::StatusCode::kInvalidArgument);

  auto bad_id = tokenizer->Decode({2, 5, 100000});
  EXPECT_EQ(bad_id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(bad_id.status().message(), "ids[2]")) << bad_id.status();
}

TEST(TokenizerTest, TrainOptionsAreValidated) {
  EXPECT_OK(TokenizerTrainOptions().Validate());
  auto invalid = [](auto mutate) {
    TokenizerTrainOptions options;
    mutate(options);
    return options.Validate().code() == absl::StatusCode::kInvalidArgument;
  };
  EXPECT_TRUE(invalid([](TokenizerTrainOptions& o) { o.vocab_size = 5; }));
  EXPECT_TRUE(invalid([](TokenizerTrainOptions& o) { o.model_type = "wordpiece"; }));
  EXPECT_TRUE(invalid([](TokenizerTrainOptions& o) { o.character_coverage = 0; }));
  EXPECT_TRUE(invalid([](TokenizerTrainOptions& o) { o.character_coverage = 1.5; }));
  EXPECT_TRUE(invalid([](TokenizerTrainOptions& o) { o.max_sentence_length = 10; }));
  EXPECT_TRUE(invalid([](TokenizerTrainOptions& o) { o.input_sentence_size = -1; }));
  EXPECT_TRUE(invalid([](TokenizerTrainOptions& o) { o.num_threads = -1; }));
  EXPECT_TRUE(invalid([](TokenizerTrainOptions& o) { o.seed = UINT32_MAX; }));
  EXPECT_TRUE(invalid([](TokenizerTrainOptions& o) { o.required_chars = "\xFF"; }));
}

TEST(TokenizerTest, TrainingRejectsBadCorpora) {
  auto no_texts = TrainTokenizerModel({}, SmallOptions());
  EXPECT_EQ(no_texts.status().code(), absl::StatusCode::kInvalidArgument);

  auto bad_text = TrainTokenizerModel({"fine", "bad \xFF byte"}, SmallOptions());
  EXPECT_EQ(bad_text.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(bad_text.status().message(), "texts[1]: invalid UTF-8 at byte 4"))
      << bad_text.status();

  // 8000 pieces cannot be learned from 20 sentences; the message says how many can.
  const std::vector<std::string> corpus = SmallCorpus();
  const std::vector<std::string> few(corpus.begin(), corpus.begin() + 20);
  TokenizerTrainOptions big = SmallOptions();
  big.vocab_size = 8000;
  auto too_big = TrainTokenizerModel(few, big);
  EXPECT_EQ(too_big.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(too_big.status().message(), "Vocabulary size too high"))
      << too_big.status();

  // hard_vocab_limit = false accepts the smaller vocabulary.
  big.hard_vocab_limit = false;
  ASSERT_OK_AND_ASSIGN(std::string model, TrainTokenizerModel(few, big));
  ASSERT_OK_AND_ASSIGN(auto tokenizer, Tokenizer::LoadFromSerialized(model));
  EXPECT_GT(tokenizer->vocab_size(), 100);
  EXPECT_LT(tokenizer->vocab_size(), 8000);

  EXPECT_EQ(TrainTokenizer(SmallCorpus(), "", SmallOptions()).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(TokenizerTest, LongTextsAreSplitForTraining) {
  // One text far longer than max_sentence_length must still be learned from.
  std::string long_text;
  for (const std::string& text : SmallCorpus()) absl::StrAppend(&long_text, text, " ");
  TokenizerTrainOptions options = SmallOptions();
  options.max_sentence_length = 256;
  ASSERT_OK_AND_ASSIGN(std::string model, TrainTokenizerModel({long_text}, options));
  ASSERT_OK_AND_ASSIGN(auto tokenizer, Tokenizer::LoadFromSerialized(model));
  ASSERT_OK_AND_ASSIGN(Encoding e, tokenizer->Encode("calcined at 800 degC"));
  EXPECT_EQ(std::count(e.ids.begin(), e.ids.end(), kUnkId), 0);
}

TEST(TokenizerTest, TrainingIsDeterministic) {
  ASSERT_OK_AND_ASSIGN(std::string again, TrainTokenizerModel(SmallCorpus(), SmallOptions()));
  EXPECT_EQ(again, SmallModel());
}

TEST(TokenizerTest, UnigramModelTypeWorks) {
  TokenizerTrainOptions options = SmallOptions();
  options.model_type = "unigram";
  options.hard_vocab_limit = false;
  ASSERT_OK_AND_ASSIGN(std::string model, TrainTokenizerModel(SmallCorpus(), options));
  ASSERT_OK_AND_ASSIGN(auto tokenizer, Tokenizer::LoadFromSerialized(model));
  ASSERT_OK_AND_ASSIGN(Encoding e, tokenizer->Encode("calcined at 800 degC"));
  EXPECT_EQ(e.ids[0], kClsId);
}

TEST(TokenizerTest, LoadRejectsBadModels) {
  TempDir dir;
  EXPECT_EQ(Tokenizer::Load(dir.Join("missing.model")).status().code(),
            absl::StatusCode::kNotFound);

  ASSERT_OK(WriteFileAtomic(dir.Join("garbage.model"), "this is not a protobuf \xFF\xFE"));
  auto garbage = Tokenizer::Load(dir.Join("garbage.model"));
  EXPECT_EQ(garbage.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(garbage.status().message(), dir.Join("garbage.model")))
      << garbage.status();

  ASSERT_OK(WriteFileAtomic(dir.Join("empty.model"), ""));
  EXPECT_EQ(Tokenizer::Load(dir.Join("empty.model")).status().code(),
            absl::StatusCode::kInvalidArgument);

  // Truncated model bytes.
  const std::string& good = SmallModel();
  auto truncated = Tokenizer::LoadFromSerialized(good.substr(0, good.size() / 2), "half.model");
  EXPECT_EQ(truncated.status().code(), absl::StatusCode::kInvalidArgument);

  // A valid SentencePiece model with SentencePiece's default special pieces.
  internal::SpTrainConfig config;
  config.model_type = "bpe";
  config.vocab_size = 100;
  config.character_coverage = 1.0;
  config.max_sentence_length = 4096;
  config.pad_id = -1;
  config.unk_id = 0;
  config.bos_id = 1;
  config.pad_piece = "<pad>";
  config.unk_piece = "<unk>";
  config.bos_piece = "<s>";
  std::string foreign;
  ASSERT_EQ(internal::TrainSentencePiece(config, SmallCorpus(), &foreign), "");
  auto not_ours = Tokenizer::LoadFromSerialized(foreign, "foreign.model");
  EXPECT_EQ(not_ours.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(
      absl::StrContains(not_ours.status().message(), "foreign.model: not a MatAlign tokenizer"))
      << not_ours.status();
}

TEST(TokenizerTest, ConcurrentEncodeMatchesSerial) {
  auto tokenizer = SmallTokenizer();
  ASSERT_NE(tokenizer, nullptr);
  const std::vector<std::string> texts = SmallCorpus();
  std::vector<std::vector<int32_t>> serial;
  for (const std::string& text : texts) {
    ASSERT_OK_AND_ASSIGN(Encoding e, tokenizer->Encode(text));
    serial.push_back(e.ids);
  }
  constexpr int kThreads = 4;
  std::vector<int> mismatches(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) {
        for (std::size_t i = t; i < texts.size(); i += 1) {
          auto e = tokenizer->Encode(texts[i]);
          if (!e.ok() || e->ids != serial[i]) ++mismatches[t];
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

}  // namespace
}  // namespace matalign::text
