// Text normalization for synthesis paragraphs: UTF-8 validation, Unicode NFKC, whitespace
// and the spelling of temperatures and times.
//
// NormalizeText applies these steps, in this order:
//
//  1. UTF-8 validation. Malformed sequences (stray continuation bytes, truncated or
//     overlong sequences, UTF-16 surrogates, code points above U+10FFFF) are rejected
//     with InvalidArgument "<source>: invalid UTF-8 at byte <offset>: <reason>".
//  2. Degree look-alikes. U+00BA "º", U+02DA "˚", U+2218 "∘" and U+25E6 "◦" become
//     U+00B0 "°" when they follow a digit ("800˚", "800 ºC", spaces allowed in between) or
//     precede C, F or K that ends a word ("ºC"). "º" and "˚" are mapped before NFKC,
//     which would turn them into "o" and " ̊" and lose the degree; "∘" and "◦" are mapped
//     after step 4. Elsewhere they are left to NFKC ("nº" -> "no").
//  3. Unicode NFKC (ICU): full-width digits and letters become ASCII ("８００" ->
//     "800"), ligatures are split ("ﬁ" -> "fi"), "℃" -> "°C", "℉" -> "°F", "µ" -> "μ",
//     superscripts become plain digits ("m²" -> "m2"), no-break and other Unicode spaces
//     become U+0020.
//  4. Whitespace. Every Unicode White_Space character and every control character (Cc:
//     tabs, newlines, NUL, ...) counts as whitespace; runs of whitespace become one
//     ASCII space and the text is trimmed. Invisible format characters U+00AD (soft
//     hyphen), U+200B (zero-width space), U+2060 (word joiner) and U+FEFF (BOM) are
//     removed.
//  5. Temperatures. After a number (a run of digits, "." and "," not preceded by an
//     ASCII letter, so "TiO2" or "Mo2C" are not numbers), these spellings, with or
//     without a space before them, become " °C" (one space, then "°C"):
//       "°C", "° C", "oC", "degC", "deg C", "deg. C", "degree C", "degrees C",
//       "degree Celsius", "degrees Celsius", "deg Celsius" (and "℃", "ºC", "˚C" via
//       steps 2-3);
//     the same with F / Fahrenheit become " °F"; "°K", "degK", "degrees K"/"Kelvin"
//     become " K". Plain " K" is kept as it is. A bare "C" attached to an integer of at
//     least 100 ("800C") becomes " °C"; smaller or decimal numbers are left alone because
//     "0.5C" and "10C" are C-rates in battery papers. "800 C" (with a space) is left
//     alone: it may be carbon. Anywhere in the text (no number needed) the whole words
//     "degC"/"degF" become "°C"/"°F" and "° C"/"° F" become "°C"/"°F".
//  6. Times. After a number, the whole words "h", "hr", "hrs", "hour", "hours" become
//     " h" and "min", "mins", "minute", "minutes" become " min" ("12hrs" -> "12 h",
//     "30 minutes" -> "30 min"). Units are matched case-sensitively and only as whole
//     words (followed by a character that is not an ASCII letter or digit).
//
// The result is non-empty, has no leading, trailing or doubled spaces, and is a fixed
// point: NormalizeText(NormalizeText(x)) == NormalizeText(x).
#ifndef MATALIGN_TEXT_NORMALIZE_H_
#define MATALIGN_TEXT_NORMALIZE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace matalign::text {

// Returns OK if `bytes` is well-formed UTF-8, else InvalidArgument
// "<source>: invalid UTF-8 at byte <offset>: <reason>" where offset is the 0-based
// position of the first byte of the offending sequence.
absl::Status ValidateUtf8(absl::string_view bytes, absl::string_view source = "<text>");

// Normalizes `utf8` as described at the top of this file. `source` names the text in
// error messages (a file name, "file:line", "texts[3]").
// Returns InvalidArgument for malformed UTF-8 and "<source>: text is empty" when nothing
// but whitespace remains. Thread-safe.
absl::StatusOr<std::string> NormalizeText(absl::string_view utf8,
                                          absl::string_view source = "<text>");

}  // namespace matalign::text

#endif  // MATALIGN_TEXT_NORMALIZE_H_
