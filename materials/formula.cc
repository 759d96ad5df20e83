#include "materials/formula.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "materials/element.h"

namespace matalign::materials {
namespace {

// Largest amount or multiplier a formula may state.
constexpr double kMaxAmount = 1e6;
// How close a count must be to an integer to count as one (as in Structure::ReducedFormula).
constexpr double kIntegerTolerance = 1e-6;
// Longest prefix of a formula quoted in an error message, in bytes.
constexpr size_t kMaxQuotedBytes = 200;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool IsOpen(char c) { return c == '(' || c == '['; }
bool IsClose(char c) { return c == ')' || c == ']'; }
char Closing(char open) { return open == '(' ? ')' : ']'; }

// True if `text` continues at `p` with water "H2O" or ammonia "NH3" that is not itself
// continued by a digit or lowercase letter ("H2O2", "H2Os" are not water).
bool AdductAt(absl::string_view text, size_t p) {
  for (absl::string_view adduct : {"H2O", "NH3"}) {
    if (text.substr(p, adduct.size()) != adduct) continue;
    const size_t after = p + adduct.size();
    if (after == text.size() || !(IsDigit(text[after]) || IsLower(text[after]))) return true;
  }
  return false;
}

// Recursive-descent parser over one formula; see ParseFormula in formula.h for the grammar.
class FormulaParser {
 public:
  explicit FormulaParser(absl::string_view text) : text_(text) {}

  absl::StatusOr<Composition> Parse() {
    SkipSpace();
    if (pos_ == text_.size()) return Error("empty formula", 0);
    auto result = ParseSequence(/*open=*/'\0', /*open_pos=*/0, /*depth=*/0);
    if (!result.ok()) return result.status();
    for (const auto& [symbol, amount] : *result) {
      if (!(amount <= kMaxAmount)) {  // also catches overflow to inf
        return Error(absl::StrCat("amount of ", symbol, " adds up to ", amount, ", more than ",
                                  static_cast<int64_t>(kMaxAmount)),
                     std::string::npos);
      }
    }
    return result;
  }

 private:
  // Parses parts separated by separators up to the end of the text (open == '\0') or up to
  // and including the bracket that closes `open` (at `open_pos`).
  absl::StatusOr<Composition> ParseSequence(char open, size_t open_pos, int depth) {
    Composition total;
    size_t last_separator = std::string::npos;  // position of the separator before this part
    while (true) {
      SkipSpace();
      // Optional multiplier of the whole part ("5" in "CuSO4·5H2O").
      double multiplier = 1;
      const size_t multiplier_pos = pos_;
      const bool has_multiplier = AtNumber(pos_);
      if (has_multiplier) {
        auto m = ParseNumber(/*allow_adduct_split=*/false);
        if (!m.ok()) return m.status();
        multiplier = *m;
      }
      Composition part;
      int items = 0;
      while (true) {
        SkipSpace();
        if (pos_ == text_.size() || IsClose(text_[pos_]) || SeparatorLength(pos_) > 0) break;
        const char c = text_[pos_];
        if (IsOpen(c)) {
          const size_t group_pos = pos_;
          if (depth + 1 > kMaxFormulaNesting) {
            return Error(absl::StrCat("groups nested deeper than ", kMaxFormulaNesting), group_pos);
          }
          ++pos_;
          auto group = ParseSequence(c, group_pos, depth + 1);
          if (!group.ok()) return group.status();
          auto amount = ParseAmount();
          if (!amount.ok()) return amount.status();
          for (const auto& [symbol, n] : *group) part[symbol] += n * *amount;
        } else if (IsUpper(c)) {
          const size_t symbol_pos = pos_;
          ++pos_;
          while (pos_ < text_.size() && IsLower(text_[pos_])) ++pos_;
          const absl::string_view symbol = text_.substr(symbol_pos, pos_ - symbol_pos);
          const ElementInfo* element = ElementBySymbol(symbol);
          if (element == nullptr) {
            return Error(absl::StrCat("unknown element '", symbol, "'"), symbol_pos);
          }
          auto amount = ParseAmount();
          if (!amount.ok()) return amount.status();
          part[element->symbol] += *amount;
        } else if (IsLower(c)) {
          return Error(absl::StrCat("unexpected '", CharAt(pos_),
                                    "' (element symbols start with an uppercase letter)"),
                       pos_);
        } else if (AtNumber(pos_)) {
          return Error("unexpected number (an amount must directly follow an element or group)",
                       pos_);
        } else {
          return Error(absl::StrCat("unexpected character '", CharAt(pos_), "'"), pos_);
        }
        ++items;
      }
      if (items == 0) {
        if (has_multiplier) {
          return Error(absl::StrCat("number '", Slice(multiplier_pos), "' multiplies nothing"),
                       multiplier_pos);
        }
        if (last_separator != std::string::npos) {
          return Error(absl::StrCat("nothing after separator '", CharAt(last_separator), "'"),
                       last_separator);
        }
        if (pos_ < text_.size() && SeparatorLength(pos_) > 0) {
          return Error(absl::StrCat("nothing before separator '", CharAt(pos_), "'"), pos_);
        }
        if (pos_ == text_.size()) {
          return open != '\0' ? UnbalancedOpen(open, open_pos) : Error("empty formula", 0);
        }
        if (open == '\0') return Error(absl::StrCat("unbalanced '", CharAt(pos_), "'"), pos_);
        if (text_[pos_] != Closing(open)) return Mismatched(open, open_pos);
        return Error(absl::StrCat("empty group '", std::string(1, open), CharAt(pos_), "'"),
                     open_pos);
      }
      for (const auto& [symbol, n] : part) total[symbol] += n * multiplier;

      SkipSpace();
      if (const size_t n = SeparatorLength(pos_); n > 0) {
        last_separator = pos_;
        pos_ += n;
        continue;
      }
      if (pos_ == text_.size()) {
        if (open != '\0') return UnbalancedOpen(open, open_pos);
        return total;
      }
      // The item loop stops only at the end, a separator or a closing bracket.
      if (open == '\0') return Error(absl::StrCat("unbalanced '", CharAt(pos_), "'"), pos_);
      if (text_[pos_] != Closing(open)) return Mismatched(open, open_pos);
      ++pos_;
      return total;
    }
  }

  absl::Status UnbalancedOpen(char open, size_t open_pos) const {
    return Error(absl::StrCat("unbalanced '", std::string(1, open), "': no matching '",
                              std::string(1, Closing(open)), "'"),
                 open_pos);
  }

  // The bracket at pos_ does not match `open`.
  absl::Status Mismatched(char open, size_t open_pos) const {
    return Error(absl::StrCat("'", std::string(1, open), "' at position ", open_pos, " closed by '",
                              CharAt(pos_), "'"),
                 pos_);
  }

  // Parses the optional amount after an element or group; 1 if there is none.
  absl::StatusOr<double> ParseAmount() {
    const size_t before = pos_;
    SkipSpace();
    if (pos_ < text_.size() && IsDigit(text_[pos_])) {
      return ParseNumber(/*allow_adduct_split=*/true);
    }
    // ".5" directly after the symbol or bracket, unless it is "·5H2O".
    if (pos_ == before && DecimalPointAt(pos_, "")) return ParseNumber(/*allow_adduct_split=*/true);
    pos_ = before;
    return 1.0;
  }

  // Parses digits ['.' digits] | '.' digits at pos_ and checks its range. With
  // allow_adduct_split, a '.' that DecimalPointAt calls a separator ends the number instead
  // (the '.' rule of formula.h).
  absl::StatusOr<double> ParseNumber(bool allow_adduct_split) {
    const size_t start = pos_;
    while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
    const absl::string_view integer_part = text_.substr(start, pos_ - start);
    const bool decimal = allow_adduct_split ? DecimalPointAt(pos_, integer_part)
                                            : (AtDot(pos_) && DigitAt(pos_ + 1));
    if (decimal) {
      ++pos_;
      while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
    }
    const absl::string_view digits = text_.substr(start, pos_ - start);
    double value = 0;
    if (!absl::SimpleAtod(digits, &value)) {
      return Error(absl::StrCat("malformed number '", digits, "'"), start);
    }
    if (value <= 0) return Error(absl::StrCat("zero amount '", digits, "'"), start);
    if (value > kMaxAmount) {
      return Error(
          absl::StrCat("amount '", digits, "' is larger than ", static_cast<int64_t>(kMaxAmount)),
          start);
    }
    return value;
  }

  // True if the '.' at `p` (if any) is a decimal point: it is followed by a digit, and
  // either the digits before it (`integer_part`, may be empty) are all zeros or the number
  // after it is not followed by water or ammonia.
  bool DecimalPointAt(size_t p, absl::string_view integer_part) const {
    if (!AtDot(p) || !DigitAt(p + 1)) return false;
    if (!integer_part.empty() && integer_part.find_first_not_of('0') == absl::string_view::npos) {
      return true;
    }
    size_t q = p + 1;
    while (DigitAt(q)) ++q;
    if (AtDot(q) && DigitAt(q + 1)) {
      ++q;
      while (DigitAt(q)) ++q;
    }
    return !AdductAt(text_, q);
  }

  bool AtNumber(size_t p) const { return DigitAt(p) || (AtDot(p) && DigitAt(p + 1)); }
  bool AtDot(size_t p) const { return p < text_.size() && text_[p] == '.'; }
  bool DigitAt(size_t p) const { return p < text_.size() && IsDigit(text_[p]); }

  // Length in bytes of the separator at `p`, 0 if there is none.
  size_t SeparatorLength(size_t p) const {
    if (p >= text_.size()) return 0;
    if (text_[p] == '*' || text_[p] == '.') return 1;
    const absl::string_view rest = text_.substr(p);
    for (absl::string_view dot : {"\xC2\xB7", "\xE2\x80\xA2", "\xE2\x8B\x85", "\xE2\x88\x99"}) {
      if (rest.substr(0, dot.size()) == dot) return dot.size();
    }
    return 0;
  }

  // The (UTF-8) character at `p`, escaped for a message.
  std::string CharAt(size_t p) const {
    if (p >= text_.size()) return "";
    const auto lead = static_cast<uint8_t>(text_[p]);
    size_t n = 1;
    if (lead >= 0xF0) {
      n = 4;
    } else if (lead >= 0xE0) {
      n = 3;
    } else if (lead >= 0xC0) {
      n = 2;
    }
    return absl::Utf8SafeCEscape(text_.substr(p, n));
  }

  // The number starting at `p` (for messages).
  std::string Slice(size_t p) const {
    size_t q = p;
    while (q < text_.size() && (IsDigit(text_[q]) || text_[q] == '.')) ++q;
    return std::string(text_.substr(p, q - p));
  }

  void SkipSpace() {
    while (pos_ < text_.size() && IsSpace(text_[pos_])) ++pos_;
  }

  // `position` npos: the problem has no single position.
  absl::Status Error(absl::string_view what, size_t position) const {
    absl::string_view shown = text_;
    const char* ellipsis = "";
    if (shown.size() > kMaxQuotedBytes) {
      size_t cut = kMaxQuotedBytes;
      while (cut > 0 && (static_cast<uint8_t>(shown[cut]) & 0xC0) == 0x80) --cut;
      shown = shown.substr(0, cut);
      ellipsis = "...";
    }
    const std::string where =
        position == std::string::npos ? "" : absl::StrCat(" at position ", position);
    return absl::InvalidArgumentError(
        absl::StrCat(what, where, " in formula \"", absl::Utf8SafeCEscape(shown), ellipsis, "\""));
  }

  absl::string_view text_;
  size_t pos_ = 0;
};

bool NearInteger(double x) { return std::fabs(x - std::round(x)) <= kIntegerTolerance; }

// `x` rounded to 4 significant digits (never fewer than its integer digits), without
// exponent or trailing zeros; "" for 1.
std::string FormatAmount(double x) {
  if (!std::isfinite(x)) return absl::StrCat(x);
  if (x == 0) return "0";
  const int integer_digits = static_cast<int>(std::floor(std::log10(std::fabs(x)))) + 1;
  const int decimals = std::max(0, 4 - integer_digits);
  std::string s = absl::StrFormat("%.*f", decimals, x);
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s == "1" ? "" : s;
}

}  // namespace

absl::StatusOr<Composition> ParseFormula(absl::string_view formula) {
  return FormulaParser(formula).Parse();
}

Composition CompositionOf(const Structure& structure) {
  Composition counts;
  for (const Site& site : structure.sites) {
    const ElementInfo* element = ElementByNumber(site.atomic_number);
    counts[element != nullptr ? element->symbol : "X"] += site.occupancy;
  }
  if (counts.empty()) return counts;

  bool all_integer = true;
  long gcd = 0;
  double smallest = counts.begin()->second;
  for (const auto& [symbol, n] : counts) {
    smallest = std::min(smallest, n);
    if (!NearInteger(n) || std::lround(n) < 1) {
      all_integer = false;
      continue;
    }
    long a = gcd, b = std::lround(n);
    while (b != 0) a = std::exchange(b, a % b);
    gcd = a;
  }
  if (all_integer) {
    for (auto& [symbol, n] : counts) n = static_cast<double>(std::lround(n) / gcd);
    return counts;
  }
  if (!(smallest > 0)) return counts;
  for (const auto& [symbol, n] : counts) {
    if (!NearInteger(n / smallest)) return counts;
  }
  for (auto& [symbol, n] : counts) n = std::round(n / smallest);
  return counts;
}

std::string FormatComposition(const Composition& composition) {
  std::vector<std::pair<std::string, double>> ordered;
  const auto carbon = composition.find("C");
  if (carbon != composition.end()) {
    ordered.push_back(*carbon);
    const auto hydrogen = composition.find("H");
    if (hydrogen != composition.end()) ordered.push_back(*hydrogen);
  }
  for (const auto& entry : composition) {
    if (carbon != composition.end() && (entry.first == "C" || entry.first == "H")) continue;
    ordered.push_back(entry);
  }
  std::string out;
  std::vector<size_t> after_decimal;  // where an element follows an amount with a '.'
  for (const auto& [symbol, n] : ordered) {
    const std::string amount = FormatAmount(n);
    absl::StrAppend(&out, symbol, amount);
    if (amount.find('.') != std::string::npos) after_decimal.push_back(out.size());
  }
  // "C2.5" + "H2O" would read back as C2 + 5 H2O (the '.' rule): keep them apart, "C2.5 H2O".
  for (auto it = after_decimal.rbegin(); it != after_decimal.rend(); ++it) {
    if (AdductAt(out, *it)) out.insert(*it, " ");
  }
  return out;
}

}  // namespace matalign::materials
