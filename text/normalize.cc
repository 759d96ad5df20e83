#include "text/normalize.h"

#include <unicode/normalizer2.h>
#include <unicode/stringpiece.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utypes.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"

namespace matalign::text {
namespace {

// Texts are handed to ICU, which indexes with int32_t.
constexpr std::size_t kMaxTextBytes = 64u << 20;  // 64 MiB

constexpr absl::string_view kDegree = "\u00B0";  // U+00B0 DEGREE SIGN

bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAsciiAlnum(char c) { return IsAsciiDigit(c) || IsAsciiLetter(c); }
bool IsContinuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// Decodes the UTF-8 sequence starting at s[i]. On success stores the code point and its
// length and returns nullptr; on failure returns the reason.
const char* DecodeUtf8(absl::string_view s, std::size_t i, char32_t* cp, int* len) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    *cp = b0;
    *len = 1;
    return nullptr;
  }
  if (b0 < 0xC0) return "unexpected continuation byte";
  if (b0 < 0xC2) return "overlong encoding";
  int n;
  char32_t value;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 < 0xE0) {
    n = 2;
    value = b0 & 0x1F;
  } else if (b0 < 0xF0) {
    n = 3;
    value = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;  // below: overlong
    if (b0 == 0xED) hi = 0x9F;  // above: UTF-16 surrogate
  } else if (b0 < 0xF5) {
    n = 4;
    value = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;  // below: overlong
    if (b0 == 0xF4) hi = 0x8F;  // above: beyond U+10FFFF
  } else {
    return "invalid lead byte";
  }
  if (i + static_cast<std::size_t>(n) > s.size()) return "truncated sequence at end of text";
  for (int k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (!IsContinuation(b)) return "truncated sequence (expected a continuation byte)";
    if (k == 1 && (b < lo || b > hi)) {
      if (b0 == 0xED) return "UTF-16 surrogate code point";
      if (b0 == 0xF4) return "code point above U+10FFFF";
      return "overlong encoding";
    }
    value = (value << 6) | (b & 0x3F);
  }
  *cp = value;
  *len = n;
  return nullptr;
}

bool IsAscii(absl::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Decodes valid UTF-8 into code points.
std::vector<char32_t> CodePoints(absl::string_view s) {
  std::vector<char32_t> cps;
  cps.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    char32_t cp;
    int len;
    if (DecodeUtf8(s, i, &cp, &len) != nullptr) {  // cannot happen on validated input
      cp = 0xFFFD;
      len = 1;
    }
    cps.push_back(cp);
    i += static_cast<std::size_t>(len);
  }
  return cps;
}

// Steps 2 and 4b: degree look-alikes become U+00B0 when they follow a digit or precede
// C, F or K that ends a word (spaces allowed in between). Requires valid UTF-8.
//
// Before NFKC (`before_nfkc`), U+00BA and U+02DA are mapped, since NFKC would turn them
// into "o" and " \u030A"; the context is judged on raw text (any Unicode digit, space or
// control; full-width C/F/K and the Kelvin sign count). U+2218 and U+25E6 survive NFKC and
// are mapped after whitespace has been collapsed, on ASCII context, so that the decision
// is the same when the output is normalized again (idempotence).
std::string MapDegreeLookalikes(absl::string_view s, bool before_nfkc) {
  const char32_t first = before_nfkc ? 0x00BA : 0x2218;
  const char32_t second = before_nfkc ? 0x02DA : 0x25E6;
  if (s.find(before_nfkc ? "\xC2\xBA" : "\xE2\x88\x98") == absl::string_view::npos &&
      s.find(before_nfkc ? "\xCB\x9A" : "\xE2\x97\xA6") == absl::string_view::npos) {
    return std::string(s);
  }
  auto is_space = [before_nfkc](char32_t cp) {
    if (!before_nfkc) return cp == ' ';
    return u_isUWhiteSpace(static_cast<UChar32>(cp)) ||
           u_charType(static_cast<UChar32>(cp)) == U_CONTROL_CHAR;
  };
  auto is_digit = [before_nfkc](char32_t cp) {
    return before_nfkc ? u_isdigit(static_cast<UChar32>(cp)) != 0 : (cp >= '0' && cp <= '9');
  };
  auto is_unit = [before_nfkc](char32_t cp) {
    if (cp == 'C' || cp == 'F' || cp == 'K') return true;
    return before_nfkc && (cp == 0xFF23 || cp == 0xFF26 || cp == 0xFF2B || cp == 0x212A);
  };
  auto is_word_char = [before_nfkc](char32_t cp) {
    if (!before_nfkc) return cp < 0x80 && IsAsciiAlnum(static_cast<char>(cp));
    return u_isalnum(static_cast<UChar32>(cp)) != 0;
  };
  const std::vector<char32_t> cps = CodePoints(s);
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < cps.size(); ++i) {
    const char32_t cp = cps[i];
    if (cp != first && cp != second) {
      AppendUtf8(cp, &out);
      continue;
    }
    std::size_t p = i;
    while (p > 0 && is_space(cps[p - 1])) --p;
    bool degree = p > 0 && is_digit(cps[p - 1]);
    if (!degree) {
      std::size_t q = i + 1;
      while (q < cps.size() && is_space(cps[q])) ++q;
      degree =
          q < cps.size() && is_unit(cps[q]) && (q + 1 == cps.size() || !is_word_char(cps[q + 1]));
    }
    AppendUtf8(degree ? 0x00B0 : cp, &out);
  }
  return out;
}

// Step 3: NFKC through ICU. Requires valid UTF-8.
absl::StatusOr<std::string> Nfkc(absl::string_view s, absl::string_view source) {
  if (IsAscii(s)) return std::string(s);  // NFKC is the identity on ASCII
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfkc = icu::Normalizer2::getNFKCInstance(status);
  if (U_FAILURE(status) || nfkc == nullptr) {
    return absl::InternalError(
        absl::StrCat(source, ": ICU NFKC normalizer unavailable: ", u_errorName(status)));
  }
  const icu::UnicodeString in =
      icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())));
  const icu::UnicodeString normalized = nfkc->normalize(in, status);
  if (U_FAILURE(status)) {
    return absl::InternalError(
        absl::StrCat(source, ": ICU NFKC normalization failed: ", u_errorName(status)));
  }
  std::string out;
  normalized.toUTF8String(out);
  return out;
}

// Step 4: whitespace and invisible characters. Requires valid UTF-8.
std::string CollapseWhitespace(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool pending_space = false;
  std::size_t i = 0;
  while (i < s.size()) {
    char32_t cp;
    int len;
    if (DecodeUtf8(s, i, &cp, &len) != nullptr) {  // cannot happen on validated input
      cp = 0xFFFD;
      len = 1;
    }
    bool space;
    bool drop = false;
    if (cp < 0x80) {
      space = cp <= 0x20 || cp == 0x7F;  // ASCII controls and space
    } else {
      drop = cp == 0x00AD || cp == 0x200B || cp == 0x2060 || cp == 0xFEFF;
      space = u_isUWhiteSpace(static_cast<UChar32>(cp)) ||
              u_charType(static_cast<UChar32>(cp)) == U_CONTROL_CHAR;
    }
    if (space) {
      pending_space = !out.empty();
    } else if (!drop) {
      if (pending_space) out.push_back(' ');
      pending_space = false;
      out.append(s.data() + i, static_cast<std::size_t>(len));
    }
    i += static_cast<std::size_t>(len);
  }
  return out;
}

struct UnitRule {
  absl::string_view spelling;
  absl::string_view replacement;
};

// Steps 5-6: spellings recognized right after a number (optionally after one space).
// Each must end a word; the replacement includes the single separating space.
constexpr UnitRule kAfterNumberRules[] = {
    {"\u00B0C", " \u00B0C"},
    {"\u00B0 C", " \u00B0C"},
    {"oC", " \u00B0C"},
    {"degC", " \u00B0C"},
    {"deg C", " \u00B0C"},
    {"deg.C", " \u00B0C"},
    {"deg. C", " \u00B0C"},
    {"degree C", " \u00B0C"},
    {"degrees C", " \u00B0C"},
    {"deg Celsius", " \u00B0C"},
    {"degree Celsius", " \u00B0C"},
    {"degrees Celsius", " \u00B0C"},
    {"\u00B0F", " \u00B0F"},
    {"\u00B0 F", " \u00B0F"},
    {"oF", " \u00B0F"},
    {"degF", " \u00B0F"},
    {"deg F", " \u00B0F"},
    {"deg.F", " \u00B0F"},
    {"deg. F", " \u00B0F"},
    {"degree F", " \u00B0F"},
    {"degrees F", " \u00B0F"},
    {"deg Fahrenheit", " \u00B0F"},
    {"degree Fahrenheit", " \u00B0F"},
    {"degrees Fahrenheit", " \u00B0F"},
    {"\u00B0K", " K"},
    {"\u00B0 K", " K"},
    {"degK", " K"},
    {"deg K", " K"},
    {"degree K", " K"},
    {"degrees K", " K"},
    {"degree Kelvin", " K"},
    {"degrees Kelvin", " K"},
    {"h", " h"},
    {"hr", " h"},
    {"hrs", " h"},
    {"hour", " h"},
    {"hours", " h"},
    {"min", " min"},
    {"mins", " min"},
    {"minute", " min"},
    {"minutes", " min"},
};

// Spellings rewritten anywhere. `word_start` rules need a non-alphanumeric character (or
// the start of the text) before them.
struct AnywhereRule {
  absl::string_view spelling;
  absl::string_view replacement;
  bool word_start;
};
constexpr AnywhereRule kAnywhereRules[] = {
    {"degC", "\u00B0C", true},
    {"degF", "\u00B0F", true},
    {"\u00B0 C", "\u00B0C", false},
    {"\u00B0 F", "\u00B0F", false},
};

// True if s[pos] ends a word: end of text or not an ASCII letter or digit.
bool WordEndsAt(absl::string_view s, std::size_t pos) {
  return pos >= s.size() || !IsAsciiAlnum(s[pos]);
}

bool MatchesAt(absl::string_view s, std::size_t pos, absl::string_view spelling) {
  return s.compare(pos, spelling.size(), spelling) == 0 && WordEndsAt(s, pos + spelling.size());
}

// If `out` ends with a number (digits, "." and ","; not preceded by an ASCII letter),
// returns the length of that trailing run; else 0.
std::size_t TrailingNumberLength(const std::string& out) {
  if (out.empty() || !IsAsciiDigit(out.back())) return 0;
  std::size_t p = out.size();
  while (p > 0 && (IsAsciiDigit(out[p - 1]) || out[p - 1] == '.' || out[p - 1] == ',')) --p;
  if (p > 0 && IsAsciiLetter(out[p - 1])) return 0;
  return out.size() - p;
}

// True if the trailing number is an integer >= 100 ("800", not "0.5" or "10").
bool TrailingIntegerAtLeast100(const std::string& out, std::size_t number_len) {
  absl::string_view number(out.data() + out.size() - number_len, number_len);
  if (number.find_first_of(".,") != absl::string_view::npos) return false;
  const std::size_t first_nonzero = number.find_first_not_of('0');
  return first_nonzero != absl::string_view::npos && number.size() - first_nonzero >= 3;
}

std::string RewriteUnits(absl::string_view s) {
  std::string out;
  out.reserve(s.size() + 16);
  std::size_t i = 0;
  while (i < s.size()) {
    // Only the first characters of the rules can start a unit; checking them first keeps
    // the scan over the trailing number linear overall.
    const char c = s[i];
    const bool may_start_unit =
        c == ' ' || c == 'o' || c == 'd' || c == 'h' || c == 'm' || c == 'C' || c == kDegree[0];
    const std::size_t number_len = may_start_unit ? TrailingNumberLength(out) : 0;
    if (number_len > 0) {
      bool matched = false;
      const std::size_t start = (s[i] == ' ') ? i + 1 : i;
      for (const UnitRule& rule : kAfterNumberRules) {
        if (MatchesAt(s, start, rule.spelling)) {
          out.append(rule.replacement.data(), rule.replacement.size());
          i = start + rule.spelling.size();
          matched = true;
          break;
        }
      }
      if (matched) continue;
      if (s[i] == 'C' && WordEndsAt(s, i + 1) && TrailingIntegerAtLeast100(out, number_len)) {
        out.append(" ");
        out.append(kDegree.data(), kDegree.size());
        out.append("C");
        ++i;
        continue;
      }
    }
    bool matched = false;
    for (const AnywhereRule& rule : kAnywhereRules) {
      if (rule.word_start && !out.empty() && IsAsciiAlnum(out.back())) continue;
      if (MatchesAt(s, i, rule.spelling)) {
        out.append(rule.replacement.data(), rule.replacement.size());
        i += rule.spelling.size();
        matched = true;
        break;
      }
    }
    if (matched) continue;
    out.push_back(s[i++]);
  }
  return out;
}

}  // namespace

absl::Status ValidateUtf8(absl::string_view bytes, absl::string_view source) {
  std::size_t i = 0;
  while (i < bytes.size()) {
    // Fast path over ASCII.
    if (static_cast<unsigned char>(bytes[i]) < 0x80) {
      ++i;
      continue;
    }
    char32_t cp;
    int len;
    if (const char* reason = DecodeUtf8(bytes, i, &cp, &len); reason != nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": invalid UTF-8 at byte ", i, ": ", reason));
    }
    i += static_cast<std::size_t>(len);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> NormalizeText(absl::string_view utf8, absl::string_view source) {
  if (utf8.size() > kMaxTextBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": text is ", utf8.size(), " bytes, more than the limit of ", kMaxTextBytes));
  }
  MATALIGN_RETURN_IF_ERROR(ValidateUtf8(utf8, source));
  MATALIGN_ASSIGN_OR_RETURN(std::string nfkc,
                            Nfkc(MapDegreeLookalikes(utf8, /*before_nfkc=*/true), source));
  std::string out =
      RewriteUnits(MapDegreeLookalikes(CollapseWhitespace(nfkc), /*before_nfkc=*/false));
  if (out.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": text is empty"));
  }
  return out;
}

}  // namespace matalign::text
