#include "xrd/pattern.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/file.h"
#include "tests/test_util.h"

namespace matalign::xrd {
namespace {

using ::matalign::testing::TempDir;

// n points "2theta intensity" from `start` in `step` steps, separated by `sep`.
std::string MakeXy(int n, double start = 10, double step = 0.5, const std::string& sep = " ",
                   const std::string& eol = "\n") {
  std::string out;
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&out, start + i * step, sep, 100 + i, eol);
  }
  return out;
}

void ExpectInvalid(const absl::Status& status, const std::string& source,
                   const std::string& fragment) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.message().find(source), absl::string_view::npos) << status;
  EXPECT_NE(status.message().find(fragment), absl::string_view::npos)
      << "expected '" << fragment << "' in: " << status;
}

TEST(ParseXyTest, WhitespaceSeparated) {
  ASSERT_OK_AND_ASSIGN(XrdPattern p, ParseXy(MakeXy(20), "a.xy"));
  ASSERT_EQ(p.two_theta.size(), 20u);
  EXPECT_DOUBLE_EQ(p.two_theta[0], 10.0);
  EXPECT_DOUBLE_EQ(p.two_theta[19], 19.5);
  EXPECT_DOUBLE_EQ(p.intensity[3], 103.0);
  EXPECT_EQ(p.wavelength, 0.0);
  EXPECT_EQ(p.source, "a.xy");
}

TEST(ParseXyTest, SeparatorsAndLineEndings) {
  for (const std::string sep : {"\t", ",", ", ", " ; ", ";", "   "}) {
    for (const std::string eol : {"\n", "\r\n", "\r"}) {
      ASSERT_OK_AND_ASSIGN(XrdPattern p, ParseXy(MakeXy(20, 10, 0.5, sep, eol), "s.xy"));
      EXPECT_EQ(p.two_theta.size(), 20u) << "sep '" << sep << "'";
      EXPECT_DOUBLE_EQ(p.two_theta[1], 10.5);
      EXPECT_DOUBLE_EQ(p.intensity[1], 101.0);
    }
  }
}

TEST(ParseXyTest, SemicolonWithDecimalComma) {
  std::string text = "2theta;counts\n";
  for (int i = 0; i < 20; ++i) absl::StrAppend(&text, 10 + i, ",5;", 100 + i, ",25\n");
  ASSERT_OK_AND_ASSIGN(XrdPattern p, ParseXy(text, "eu.csv"));
  ASSERT_EQ(p.two_theta.size(), 20u);
  EXPECT_DOUBLE_EQ(p.two_theta[0], 10.5);
  EXPECT_DOUBLE_EQ(p.intensity[0], 100.25);
}

TEST(ParseXyTest, CommentsHeadersExtraColumnsAndWavelength) {
  std::string text =
      "Sample: LaB6 standard\n"
      "'Anode: \"Cu\" Wavelength: \"1.5406\"\n"
      "2Theta Intensity ESD\n"
      "\n";
  for (int i = 0; i < 20; ++i) {
    absl::StrAppend(&text, 20 + 0.02 * i, " ", 5 + i, " 0.3  # inline comment\n");
    if (i == 5) text += "# a comment between data lines\n! another\n; and another\n\n";
  }
  ASSERT_OK_AND_ASSIGN(XrdPattern p, ParseXy(text, "c.dat"));
  EXPECT_EQ(p.two_theta.size(), 20u);
  EXPECT_DOUBLE_EQ(p.wavelength, 1.5406);
  EXPECT_DOUBLE_EQ(p.intensity[19], 24.0);
}

TEST(ParseXyTest, DescendingScanIsReversed) {
  ASSERT_OK_AND_ASSIGN(XrdPattern p, ParseXy(MakeXy(20, 80, -0.5), "d.xy"));
  EXPECT_DOUBLE_EQ(p.two_theta.front(), 70.5);
  EXPECT_DOUBLE_EQ(p.two_theta.back(), 80.0);
  EXPECT_DOUBLE_EQ(p.intensity.back(), 100.0);
  EXPECT_OK(ValidatePattern(p));
}

TEST(ParseXyTest, NegativeIntensitiesAreAccepted) {
  std::string text = MakeXy(20);
  text += "30 -5\n";
  ASSERT_OK_AND_ASSIGN(XrdPattern p, ParseXy(text, "bg.xy"));
  EXPECT_DOUBLE_EQ(p.intensity.back(), -5.0);
}

TEST(ParseXyTest, BadInputsAreInvalidArgumentNamingTheSource) {
  const std::string src = "bad.xy";
  ExpectInvalid(ParseXy("", src).status(), src, "empty");
  ExpectInvalid(ParseXy(" \n\t\n", src).status(), src, "empty");
  ExpectInvalid(ParseXy(std::string("\x89PNG\r\n\x1a\n\0\0\xff\xfe garbage", 20), src).status(),
                src, "no data lines");
  ExpectInvalid(ParseXy("10\n11\n12\n13\n", src).status(), src, "single column");
  ExpectInvalid(ParseXy(MakeXy(20) + "30 nan\n", src).status(), src, "line 21: non-finite");
  ExpectInvalid(ParseXy(MakeXy(20) + "30 inf\n", src).status(), src, "non-finite");
  ExpectInvalid(ParseXy(MakeXy(20) + "30 1e999\n", src).status(), src, "non-finite");
  ExpectInvalid(ParseXy(MakeXy(20) + "30.2", src).status(), src, "line 21: expected two columns");
  ExpectInvalid(ParseXy(MakeXy(20) + "30.2 12x\n", src).status(), src,
                "line 21: expected two numbers");
  ExpectInvalid(ParseXy(MakeXy(20) + "Footer text\n", src).status(), src, "line 21");
  ExpectInvalid(ParseXy(MakeXy(5), src).status(), src, "only 5 data points");
  ExpectInvalid(ParseXy(MakeXy(20) + "12 5\n", src).status(), src,
                "not strictly increasing at line 21");
  ExpectInvalid(ParseXy(MakeXy(20) + "19.5 5\n", src).status(), src, "not strictly increasing");
  ExpectInvalid(ParseXy(MakeXy(20, 170, 1), src).status(), src, "outside [0, 180]");
  PatternLimits small;
  small.max_points = 50;
  ExpectInvalid(ParseXy(MakeXy(51, 10, 0.1), src, small).status(), src, "more than 50");
  PatternLimits bad_limits;
  bad_limits.min_points = 1;
  EXPECT_EQ(ParseXy(MakeXy(20), src, bad_limits).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ParseXyTest, RealBiFeO3AndLaB6) {
  MATALIGN_REAL_DATA_OR_SKIP(bfo, "xrd/BiFeO3.xy");
  ASSERT_OK_AND_ASSIGN(XrdPattern p, ReadPatternFile(bfo));
  EXPECT_EQ(p.two_theta.size(), 23928u);
  EXPECT_NEAR(p.two_theta.front(), 10.002717, 1e-9);
  EXPECT_NEAR(p.two_theta.back(), 140.003372, 1e-9);
  EXPECT_EQ(p.wavelength, 0.0);  // the file has no header

  MATALIGN_REAL_DATA_OR_SKIP(lab6, "xrd/LaB6.dat");
  ASSERT_OK_AND_ASSIGN(XrdPattern q, ReadPatternFile(lab6));
  EXPECT_EQ(q.two_theta.size(), 3751u);
  EXPECT_NEAR(q.two_theta.front(), 20.0, 1e-9);
  EXPECT_NEAR(q.two_theta.back(), 95.0, 1e-9);
  EXPECT_DOUBLE_EQ(q.wavelength, 1.5406);  // from its "Wavelength: "1.5406"" header
}

// A minimal XRDML document; `data_points` is the content of <dataPoints>.
std::string MakeXrdml(const std::string& data_points,
                      const std::string& ns = "http://www.xrdml.com/XRDMeasurement/2.2") {
  return absl::StrCat("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<xrdMeasurements xmlns=\"", ns,
                      "\">\n <xrdMeasurement measurementType=\"Scan\">\n  <usedWavelength>\n"
                      "   <kAlpha1 unit=\"Angstrom\">1.5405980</kAlpha1>\n  </usedWavelength>\n"
                      "  <scan><dataPoints>\n",
                      data_points,
                      "\n  </dataPoints></scan>\n </xrdMeasurement>\n</xrdMeasurements>\n");
}

std::string Counts(int n, const std::string& tag = "counts", int first = 10) {
  std::string out = absl::StrCat("<", tag, " unit=\"counts\">");
  for (int i = 0; i < n; ++i) absl::StrAppend(&out, i ? " " : "", first + i);
  return absl::StrCat(out, "</", tag, ">");
}

const std::string kStartEnd =
    "<positions axis=\"2Theta\" unit=\"deg\"><startPosition>10</startPosition>"
    "<endPosition>29</endPosition></positions>"
    "<positions axis=\"Omega\" unit=\"deg\"><startPosition>5</startPosition>"
    "<endPosition>14.5</endPosition></positions>";

TEST(ParseXrdmlTest, EquidistantCounts) {
  ASSERT_OK_AND_ASSIGN(XrdPattern p, ParseXrdml(MakeXrdml(kStartEnd + Counts(20)), "a.xrdml"));
  ASSERT_EQ(p.two_theta.size(), 20u);
  EXPECT_DOUBLE_EQ(p.two_theta[0], 10.0);
  EXPECT_DOUBLE_EQ(p.two_theta[1], 11.0);
  EXPECT_DOUBLE_EQ(p.two_theta[19], 29.0);
  EXPECT_DOUBLE_EQ(p.intensity[19], 29.0);
  EXPECT_DOUBLE_EQ(p.wavelength, 1.540598);
}

TEST(ParseXrdmlTest, OldVersionIntensitiesListPositionsAndPrefixes) {
  std::string list = "<positions axis=\"2Theta\"><listPositions>";
  for (int i = 0; i < 20; ++i) absl::StrAppend(&list, " ", 5 + 0.25 * i);
  list += "</listPositions></positions>";
  ASSERT_OK_AND_ASSIGN(XrdPattern p,
                       ParseXrdml(MakeXrdml(list + Counts(20, "intensities"),
                                            "http://www.xrdml.com/XRDMeasurement/1.0"),
                                  "old.xrdml"));
  EXPECT_DOUBLE_EQ(p.two_theta[4], 6.0);
  EXPECT_DOUBLE_EQ(p.intensity[4], 14.0);

  // The same document with every element in a prefixed namespace ("<x:counts>").
  const std::string plain = MakeXrdml(kStartEnd + Counts(20));
  std::string prefixed;
  for (size_t i = 0; i < plain.size(); ++i) {
    prefixed += plain[i];
    if (plain[i] != '<' || i + 1 >= plain.size()) continue;
    if (plain[i + 1] == '/') {
      prefixed += "/x:";
      ++i;
    } else if (std::isalpha(static_cast<unsigned char>(plain[i + 1]))) {
      prefixed += "x:";
    }
  }
  prefixed = absl::StrReplaceAll(prefixed, {{"xmlns=", "xmlns:x="}});
  ASSERT_OK_AND_ASSIGN(XrdPattern q, ParseXrdml(prefixed, "prefixed.xrdml"));
  EXPECT_EQ(q.two_theta.size(), 20u);
}

TEST(ParseXrdmlTest, DescendingAttenuationAndCountingTimes) {
  const std::string positions =
      "<positions axis=\"2Theta\"><startPosition>29</startPosition>"
      "<endPosition>10</endPosition></positions>";
  std::string att = "<beamAttenuationFactors>";
  std::string times = "<countingTimes>";
  for (int i = 0; i < 20; ++i) {
    absl::StrAppend(&att, " ", i == 0 ? 10 : 1);
    absl::StrAppend(&times, " ", 2);
  }
  att += "</beamAttenuationFactors>";
  times += "</countingTimes>";
  ASSERT_OK_AND_ASSIGN(XrdPattern p,
                       ParseXrdml(MakeXrdml(positions + att + times + Counts(20)), "d.xrdml"));
  EXPECT_DOUBLE_EQ(p.two_theta.front(), 10.0);
  EXPECT_DOUBLE_EQ(p.two_theta.back(), 29.0);
  // The first stored point (2theta 29) is attenuated by 10 and counted for 2 s.
  EXPECT_DOUBLE_EQ(p.intensity.back(), 10 * 10 / 2.0);
  EXPECT_DOUBLE_EQ(p.intensity.front(), 29 / 2.0);
}

TEST(ParseXrdmlTest, BadInputsAreInvalidArgumentNamingTheSource) {
  const std::string src = "bad.xrdml";
  ExpectInvalid(ParseXrdml("", src).status(), src, "empty");
  ExpectInvalid(ParseXrdml("not xml at all \xff\xfe", src).status(), src, "");
  ExpectInvalid(ParseXrdml("<a><b></a>", src).status(), src, "malformed XML");
  ExpectInvalid(ParseXrdml("<html><body/></html>", src).status(), src, "not an XRDML");
  ExpectInvalid(ParseXrdml(MakeXrdml(Counts(20)), src).status(), src, "2Theta");
  ExpectInvalid(ParseXrdml(MakeXrdml(kStartEnd), src).status(), src, "no <counts>");
  ExpectInvalid(ParseXrdml(MakeXrdml(kStartEnd + Counts(5)), src).status(), src, "has 5 values");
  ExpectInvalid(ParseXrdml(MakeXrdml(kStartEnd + "<counts>1 2 three 4</counts>"), src).status(),
                src, "value #3 'three' is not a number");
  ExpectInvalid(ParseXrdml(MakeXrdml(kStartEnd + Counts(20, "counts", -3)), src).status(), src,
                "negative");
  ExpectInvalid(
      ParseXrdml(MakeXrdml(kStartEnd + "<counts>" + std::string(40, '1') + " nan</counts>"), src)
          .status(),
      src, "not finite");
  ExpectInvalid(ParseXrdml(MakeXrdml("<positions axis=\"2Theta\"><startPosition>10</startPosition>"
                                     "<endPosition>10</endPosition></positions>" +
                                     Counts(20)),
                           src)
                    .status(),
                src, "equals");
  ExpectInvalid(
      ParseXrdml(MakeXrdml("<positions axis=\"2Theta\"><listPositions>1 2 3</listPositions>"
                           "</positions>" +
                           Counts(20)),
                 src)
          .status(),
      src, "<listPositions> has 3 values");
  ExpectInvalid(
      ParseXrdml(MakeXrdml("<positions axis=\"2Theta\"><commonPosition>20</commonPosition>"
                           "</positions>" +
                           Counts(20)),
                 src)
          .status(),
      src, "commonPosition");
  ExpectInvalid(ParseXrdml(MakeXrdml("<positions axis=\"2Theta\"><startPosition>170</startPosition>"
                                     "<endPosition>190</endPosition></positions>" +
                                     Counts(20)),
                           src)
                    .status(),
                src, "outside [0, 180]");
  PatternLimits small;
  small.min_points = 2;
  small.max_points = 10;
  ExpectInvalid(ParseXrdml(MakeXrdml(kStartEnd + Counts(20)), src, small).status(), src,
                "more than 10 values");
}

TEST(ParseXrdmlTest, AllRealScans) {
  MATALIGN_REAL_DATA_OR_SKIP(dir, "xrd");
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".xrdml") continue;
    ++files;
    const std::string path = entry.path().string();
    ASSERT_OK_AND_ASSIGN(XrdPattern p, ReadPatternFile(path));
    EXPECT_EQ(p.two_theta.size(), 8301u) << path;
    EXPECT_NEAR(p.two_theta.front(), 9.90343322, 1e-8) << path;
    EXPECT_NEAR(p.two_theta.back(), 100.09488522, 1e-8) << path;
    EXPECT_NEAR(p.two_theta[1] - p.two_theta[0], (100.09488522 - 9.90343322) / 8300, 1e-9);
    EXPECT_DOUBLE_EQ(p.wavelength, 1.540598) << path;
    double max_intensity = 0;
    for (double v : p.intensity) {
      EXPECT_GE(v, 0) << path;
      max_intensity = std::max(max_intensity, v);
    }
    EXPECT_GT(max_intensity, 1000) << path;
    EXPECT_OK(ValidatePattern(p));
  }
  EXPECT_EQ(files, 11);
}

TEST(ParseXrdmlTest, TruncatedRealScanIsInvalidArgument) {
  MATALIGN_REAL_DATA_OR_SKIP(path, "xrd/Fe3O4-3ZnO_1000C_60min.xrdml");
  ASSERT_OK_AND_ASSIGN(std::string content, ReadFile(path));
  for (size_t cut : {size_t{10}, size_t{500}, content.size() / 2, content.size() - 40}) {
    auto result = ParseXrdml(content.substr(0, cut), "cut.xrdml");
    ExpectInvalid(result.status(), "cut.xrdml", "");
  }
}

TEST(ReadPatternFileTest, DispatchAndErrors) {
  TempDir dir;
  ASSERT_OK(WriteFileAtomic(dir.Join("a.txt"), MakeXy(20)));
  ASSERT_OK(WriteFileAtomic(dir.Join("a.XRDML"), MakeXrdml(kStartEnd + Counts(20))));
  ASSERT_OK(WriteFileAtomic(dir.Join("a.png"), "x"));
  EXPECT_OK(ReadPatternFile(dir.Join("a.txt")).status());
  EXPECT_OK(ReadPatternFile(dir.Join("a.XRDML")).status());
  ExpectInvalid(ReadPatternFile(dir.Join("a.png")).status(), "a.png", "unsupported");
  EXPECT_EQ(ReadPatternFile(dir.Join("missing.xy")).status().code(), absl::StatusCode::kNotFound);
}

TEST(WriteXyTest, RoundTrips) {
  TempDir dir;
  XrdPattern p;
  p.source = "sim\nwith newline";
  p.wavelength = 1.5405929;
  for (int i = 0; i < 100; ++i) {
    p.two_theta.push_back(5 + 0.0137 * i);
    p.intensity.push_back(std::sin(i) * 1e3 + 1e3 / 3);
  }
  ASSERT_OK(WriteXy(p, dir.Join("out/p.xy")));
  ASSERT_OK_AND_ASSIGN(XrdPattern q, ReadPatternFile(dir.Join("out/p.xy")));
  ASSERT_EQ(q.two_theta.size(), p.two_theta.size());
  EXPECT_DOUBLE_EQ(q.wavelength, 1.5405929);
  for (size_t i = 0; i < p.two_theta.size(); ++i) {
    EXPECT_NEAR(q.two_theta[i], p.two_theta[i], 1e-9);
    EXPECT_NEAR(q.intensity[i], p.intensity[i], 1e-8 * std::fabs(p.intensity[i]));
  }
  XrdPattern bad = p;
  bad.intensity.pop_back();
  EXPECT_EQ(WriteXy(bad, dir.Join("bad.xy")).code(), absl::StatusCode::kInvalidArgument);
}

// Deterministic mutation fuzzing: whatever the bytes, the parsers return a valid pattern or
// InvalidArgument naming the source; they never crash.
TEST(PatternParsersTest, MutatedInputsNeverCrash) {
  const std::string seeds[] = {
      "# wavelength 1.54\n" + MakeXy(24),
      MakeXrdml(kStartEnd + Counts(20)),
  };
  std::mt19937 rng(12345);
  const std::string alphabet = "0123456789.-+eE,; \t\n\r#<>/=\"'naif\xff";
  for (int seed_index = 0; seed_index < 2; ++seed_index) {
    for (int iteration = 0; iteration < 1500; ++iteration) {
      std::string data = seeds[seed_index];
      const int edits = 1 + static_cast<int>(rng() % 6);
      for (int e = 0; e < edits && !data.empty(); ++e) {
        const size_t at = rng() % data.size();
        switch (rng() % 4) {
          case 0:
            data[at] = alphabet[rng() % alphabet.size()];
            break;
          case 1:
            data.erase(at, 1 + rng() % 8);
            break;
          case 2:
            data.insert(at, 1, alphabet[rng() % alphabet.size()]);
            break;
          case 3:
            data.resize(at);
            break;
        }
      }
      for (bool xml : {false, true}) {
        auto result = xml ? ParseXrdml(data, "fuzz") : ParseXy(data, "fuzz");
        if (result.ok()) {
          EXPECT_OK(ValidatePattern(*result));
        } else {
          EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
          EXPECT_EQ(result.status().message().substr(0, 4), "fuzz");
        }
      }
    }
  }
}

}  // namespace
}  // namespace matalign::xrd
