#include "text/normalize.h"

#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "tests/test_util.h"

namespace matalign::text {
namespace {

// Normalizes `in` and returns the result, or "ERROR: <status>".
std::string N(absl::string_view in) {
  absl::StatusOr<std::string> out = NormalizeText(in);
  if (!out.ok()) return "ERROR: " + std::string(out.status().ToString());
  return *out;
}

TEST(NormalizeTest, AsciiTextIsUnchanged) {
  EXPECT_EQ(N("The powder was calcined at 800 \u00B0C for 12 h in air."),
            "The powder was calcined at 800 \u00B0C for 12 h in air.");
}

TEST(NormalizeTest, NfkcFoldsFullWidthDigitsAndLatin) {
  // "８００" and "ＬｉＣｏＯ２" in full-width forms.
  EXPECT_EQ(N("\xEF\xBC\x98\xEF\xBC\x90\xEF\xBC\x90"), "800");
  EXPECT_EQ(N("\xEF\xBC\xAC\xEF\xBD\x89\xEF\xBC\xA3\xEF\xBD\x8F\xEF\xBC\xAF\xEF\xBC\x92"),
            "LiCoO2");
}

TEST(NormalizeTest, NfkcSplitsLigatures) {
  EXPECT_EQ(N("\xEF\xAC\x81ltered and \xEF\xAC\x82ushed"), "filtered and flushed");  // ﬁ ﬂ
}

TEST(NormalizeTest, NfkcFoldsSuperscriptsAndMicro) {
  EXPECT_EQ(N("5 m\xC2\xB2"), "5 m2");           // m²
  EXPECT_EQ(N("10 \xC2\xB5m"), "10 \xCE\xBCm");  // µ (micro) -> μ (Greek mu)
}

TEST(NormalizeTest, CollapsesAsciiAndUnicodeWhitespace) {
  EXPECT_EQ(N("  a\t\tb\n\nc\r\n d  "), "a b c d");
  // NO-BREAK SPACE, EM SPACE, IDEOGRAPHIC SPACE, LINE SEPARATOR, NEXT LINE.
  EXPECT_EQ(N("a\xC2\xA0"
              "b\xE2\x80\x83"
              "c\xE3\x80\x80"
              "d\xE2\x80\xA8"
              "e\xC2\x85"
              "f"),
            "a b c d e f");
  // Control characters count as whitespace.
  EXPECT_EQ(N(std::string("a\0b\x01"
                          "c",
                          5)),
            "a b c");
}

TEST(NormalizeTest, RemovesInvisibleFormatCharacters) {
  // SOFT HYPHEN, ZERO WIDTH SPACE, WORD JOINER, BOM.
  EXPECT_EQ(N("cal\xC2\xAD"
              "ci\xE2\x80\x8B"
              "ned\xE2\x81\xA0"),
            "calcined");
  EXPECT_EQ(N("\xEF\xBB\xBFtext"), "text");
}

TEST(NormalizeTest, DegreeCelsiusSpellingsAfterANumber) {
  const std::string want = "800 \u00B0C";
  for (const char* in : {
           "800 \u00B0C",   // 800 °C
           "800\u00B0C",    // 800°C
           "800 \u00B0 C",  // 800 ° C
           "800 oC",
           "800oC",
           "800 \xC2\xBA"
           "C",  // º (masculine ordinal)
           "800 \xCB\x9A"
           "C",                // ˚ (ring above)
           "800\xE2\x84\x83",  // ℃
           "800 \xE2\x84\x83",
           "800 \xE2\x88\x98"
           "C",  // ∘ (ring operator)
           "800\t\xE2\x97\xA6"
           "C",  // ◦ (white bullet) after a tab
           "\xEF\xBC\x98\xEF\xBC\x90\xEF\xBC\x90\xC2\xBA"
           "C",                                // full-width 800, º
           "800\xC2\xA0\xCB\x9A\xEF\xBC\xA3",  // 800, no-break space, ˚, full-width C
           "800 degC",
           "800degC",
           "800 deg C",
           "800 deg. C",
           "800 degree C",
           "800 degrees C",
           "800 degrees Celsius",
           "800C",
           "800  degC",
       }) {
    EXPECT_EQ(N(in), want) << "input: " << in;
  }
}

TEST(NormalizeTest, RealDataDegCSpelling) {
  EXPECT_EQ(N("heated between 1000 and 300 degC."), "heated between 1000 and 300 \u00B0C.");
  EXPECT_EQ(N("dried at 120 degC for 2 h"), "dried at 120 \u00B0C for 2 h");
  EXPECT_EQ(N("800-900oC"), "800-900 \u00B0C");
  EXPECT_EQ(N("1,000 degC"), "1,000 \u00B0C");
  EXPECT_EQ(N("12.5 degC/min"), "12.5 \u00B0C/min");
}

TEST(NormalizeTest, FahrenheitAndKelvin) {
  EXPECT_EQ(N("1500 degF"), "1500 \u00B0F");
  EXPECT_EQ(N("1500\xE2\x84\x89"),
            "1500 \u00B0F");  // ℉
  EXPECT_EQ(N("1500 degrees Fahrenheit"), "1500 \u00B0F");
  EXPECT_EQ(N("measured at 300 K"), "measured at 300 K");  // K is kept
  EXPECT_EQ(N("300 \u00B0K"), "300 K");
  EXPECT_EQ(N("300 degrees Kelvin"), "300 K");
}

TEST(NormalizeTest, DegreeWordsWithoutNumber) {
  EXPECT_EQ(N("temperature (degC)"), "temperature (\u00B0C)");
  EXPECT_EQ(N("T (\u00B0 C)"), "T (\u00B0C)");
  EXPECT_EQ(N("in \xE2\x84\x83"), "in \u00B0C");
}

TEST(NormalizeTest, LeavesLookalikesThatAreNotTemperatures) {
  EXPECT_EQ(N("cycled at 0.5C and 10C"), "cycled at 0.5C and 10C");  // C-rates
  EXPECT_EQ(N("Mo2C and Ti3C2 and TiO2 oC"), "Mo2C and Ti3C2 and TiO2 oC");
  EXPECT_EQ(N("800 C atoms"), "800 C atoms");  // may be carbon: kept
  EXPECT_EQ(N("800 oCH3"), "800 oCH3");        // not a whole word
  EXPECT_EQ(N("n\xC2\xBA 5"), "no 5");         // nº is an ordinal: plain NFKC
  EXPECT_EQ(N("a 45 deg angle"), "a 45 deg angle");
  EXPECT_EQ(N("30\u00B0 tilt"), "30\u00B0 tilt");  // angles keep the bare sign
  EXPECT_EQ(N("the degCx value"), "the degCx value");
}

TEST(NormalizeTest, TimeUnitsAfterANumber) {
  EXPECT_EQ(N("for 12 hours"), "for 12 h");
  EXPECT_EQ(N("for 1 hour"), "for 1 h");
  EXPECT_EQ(N("for 12hrs."), "for 12 h.");
  EXPECT_EQ(N("for 2 hr"), "for 2 h");
  EXPECT_EQ(N("for 5h"), "for 5 h");
  EXPECT_EQ(N("for 30 minutes"), "for 30 min");
  EXPECT_EQ(N("for 30 mins"), "for 30 min");
  EXPECT_EQ(N("for 1 minute"), "for 1 min");
  EXPECT_EQ(N("for 0.5 hours"), "for 0.5 h");
  EXPECT_EQ(N("5 \u00B0C/min for 2 h"), "5 \u00B0C/min for 2 h");
}

TEST(NormalizeTest, TimeWordsNotAfterANumberAreKept) {
  EXPECT_EQ(N("several hours and minutes"), "several hours and minutes");
  EXPECT_EQ(N("at 5 hPa for 2 Hours"), "at 5 hPa for 2 Hours");  // case-sensitive, whole words
  EXPECT_EQ(N("H2O hours"), "H2O hours");
  EXPECT_EQ(N("1 minerals"), "1 minerals");
}

TEST(NormalizeTest, IsIdempotent) {
  for (const char* in : {
           "Heated at 800oC for 12hrs, then 5 degF\xE2\x80\x83 ...",
           "\xEF\xBC\x98\xEF\xBC\x90\xEF\xBC\x90 \xCB\x9A"
           "C and n\xC2\xBA 5",
           "T (\u00B0 C) at 300 \u00B0K in 1 hour",
       }) {
    const std::string once = N(in);
    EXPECT_EQ(N(once), once) << "input: " << in;
  }
}

// Random concatenations of the fragments the rules look at: the result is always either
// InvalidArgument (empty) or a fixed point without doubled or edge spaces.
TEST(NormalizeTest, RandomFragmentsAreIdempotent) {
  const std::vector<std::string> fragments = {"0",
                                              "1",
                                              "5",
                                              "80",
                                              "800",
                                              "0.5",
                                              "1,000",
                                              " ",
                                              "  ",
                                              "\t",
                                              "\n",
                                              "\xC2\xA0",
                                              "\xE2\x80\x8B",
                                              "\xC2\xAD",
                                              "deg",
                                              "degC",
                                              "degF",
                                              "degK",
                                              "deg.",
                                              "degree",
                                              "degrees",
                                              "Celsius",
                                              "Kelvin",
                                              "C",
                                              "F",
                                              "K",
                                              "o",
                                              "oC",
                                              "\u00B0",
                                              "\xC2\xBA",
                                              "\xCB\x9A",
                                              "\xE2\x88\x98",
                                              "\xE2\x84\x83",
                                              "\xE2\x84\x89",
                                              "h",
                                              "hr",
                                              "hrs",
                                              "hour",
                                              "hours",
                                              "min",
                                              "mins",
                                              "minute",
                                              "minutes",
                                              "s",
                                              "Ti",
                                              "O2",
                                              "x",
                                              "(",
                                              ")",
                                              "/",
                                              "-",
                                              ".",
                                              ",",
                                              "\xEF\xBC\x98",
                                              "\xEF\xAC\x81",
                                              "n",
                                              "\xCC\x8A"};
  std::mt19937 rng(2024);
  for (int i = 0; i < 50000; ++i) {
    std::string in;
    const int n = 1 + static_cast<int>(rng() % 12);
    for (int k = 0; k < n; ++k) in += fragments[rng() % fragments.size()];
    absl::StatusOr<std::string> once = NormalizeText(in);
    if (!once.ok()) {
      ASSERT_EQ(once.status().code(), absl::StatusCode::kInvalidArgument) << in;
      continue;
    }
    ASSERT_FALSE(once->empty());
    ASSERT_NE(once->front(), ' ') << in;
    ASSERT_NE(once->back(), ' ') << in;
    ASSERT_FALSE(absl::StrContains(*once, "  ")) << in;
    ASSERT_OK_AND_ASSIGN(std::string twice, NormalizeText(*once));
    ASSERT_EQ(twice, *once) << "input: \"" << in << "\"";
  }
}

// Arbitrary bytes never crash: the result is OK or InvalidArgument.
TEST(NormalizeTest, RandomBytesNeverCrash) {
  std::mt19937 rng(99);
  for (int i = 0; i < 20000; ++i) {
    std::string in(rng() % 24, '\0');
    for (char& c : in) c = static_cast<char>(rng() & 0xFF);
    absl::StatusOr<std::string> out = NormalizeText(in);
    if (!out.ok()) {
      ASSERT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
    } else {
      ASSERT_OK(ValidateUtf8(*out));
    }
  }
}

TEST(NormalizeTest, LongInputsStayLinear) {
  // Quadratic rescanning of the number before each character would not finish.
  std::string digits(1u << 20, '7');
  ASSERT_OK_AND_ASSIGN(std::string out, NormalizeText(digits + " degC"));
  EXPECT_EQ(out.size(), digits.size() + 4);  // " °C" is 4 bytes
  std::string spaced;
  for (int i = 0; i < (1 << 18); ++i) spaced += "1 \xE2\x88\x98";
  ASSERT_OK(NormalizeText(spaced));

  std::string too_long((64u << 20) + 1, 'a');
  auto rejected = NormalizeText(too_long, "huge.txt");
  EXPECT_EQ(rejected.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(rejected.status().message(), "huge.txt: text is"));
}

TEST(NormalizeTest, EmptyTextIsInvalidArgument) {
  for (const std::string& in :
       {std::string(""), std::string(" \t\n "), std::string("\xC2\xA0\xE2\x80\x8B")}) {
    absl::StatusOr<std::string> out = NormalizeText(in, "para.txt");
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(out.status().message(), "para.txt: text is empty");
  }
}

TEST(NormalizeTest, InvalidUtf8NamesSourceAndOffset) {
  struct Case {
    std::string bytes;
    std::string offset;
    std::string reason;
  };
  const Case cases[] = {
      {"ab\xFF"
       "cd",
       "byte 2", "invalid lead byte"},
      {"abc\x80", "byte 3", "unexpected continuation byte"},
      {"a\xC3", "byte 1", "truncated"},
      {"a\xE2\x82"
       "b",
       "byte 1", "truncated"},
      {"\xC0\xAF", "byte 0", "overlong"},
      {"xx\xE0\x80\xAF", "byte 2", "overlong"},
      {"\xED\xA0\x80", "byte 0", "surrogate"},
      {"\xF4\x90\x80\x80", "byte 0", "above U+10FFFF"},
      {"ok \u00B0C \xF8", "byte 7", "invalid lead byte"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::string> out = NormalizeText(c.bytes, "file.txt");
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
    const std::string message(out.status().message());
    EXPECT_TRUE(absl::StrContains(message, "file.txt: invalid UTF-8 at " + c.offset)) << message;
    EXPECT_TRUE(absl::StrContains(message, c.reason)) << message;
  }
}

TEST(NormalizeTest, ValidateUtf8AcceptsAllPlanes) {
  EXPECT_OK(ValidateUtf8("a\u00B0\xE2\x84\x83\xF0\x9F\x94\xA5\xF4\x8F\xBF\xBF"));
  EXPECT_OK(ValidateUtf8(""));
}

}  // namespace
}  // namespace matalign::text
