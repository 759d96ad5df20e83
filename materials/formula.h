// Chemical compositions: parsing formula strings ("BaTiO3", "Li(Ni0.8Co0.1Mn0.1)O2",
// "CuSO4·5H2O"), deriving the composition of a Structure, and printing a composition back
// as a formula. A composition maps an element symbol ("Fe") to its amount per formula unit.
#ifndef MATALIGN_MATERIALS_FORMULA_H_
#define MATALIGN_MATERIALS_FORMULA_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "materials/structure.h"

namespace matalign::materials {

// Element symbol (as in ElementInfo::symbol) -> amount per formula unit.
using Composition = std::map<std::string, double>;

// Deepest nesting of () and [] groups that ParseFormula accepts.
inline constexpr int kMaxFormulaNesting = 16;

// Parses a chemical formula into element -> amount per formula unit. Amounts of an element
// that appears more than once add up ("CH3COOH" -> C 2, H 4, O 2).
//
// Grammar (whitespace between tokens is ignored; an element symbol or a number must not be
// split by whitespace):
//   formula  := part (separator part)*
//   part     := [number] item+            the leading number multiplies the whole part
//   item     := element [number] | '(' formula ')' [number] | '[' formula ']' [number]
//   element  := an uppercase letter followed by any lowercase letters, which must name an
//               element known to ElementBySymbol ("D" is read as hydrogen)
//   number   := digits ['.' digits] | '.' digits;  must be > 0 and at most 1e6
//   separator:= '·' (U+00B7), '•' (U+2022), '⋅' (U+22C5), '∙' (U+2219), '*' or '.'
// so "CaCl2·2H2O", "CaCl2*2H2O" and "CaCl2.2H2O" all mean CaCl2 + 2 H2O, and separators
// may appear inside groups ("[CuSO4·5H2O]2").
//
// The '.' rule. A '.' is ambiguous between a decimal point ("La0.7Sr0.3MnO3") and a
// hydrate separator ("CuSO4.5H2O"). A '.' that directly follows an element symbol, a
// closing bracket or the digits of an amount, and is directly followed by a digit, is a
// decimal point, except when both (a) the number that starts after it is directly followed
// by water "H2O" or ammonia "NH3" (not itself continued by a digit or lowercase letter) and
// (b) the digits before the '.', if any, are not all zeros (a count of 0 cannot end a
// part). Then, like every other '.', it is a separator. Hence "La0.7",
// "Li6.4La3Zr1.4Ta0.6O12", "YBa2Cu3O6.95", "Ge1.5(PO4)3", "C0.5H2O" and "C2.5 H2O" hold
// decimals, while "CuSO4.5H2O", "CaCl2.8NH3", "CaSO4.0.5H2O", "LiOH.2H2O" and "LiOH.H2O"
// are adducts. To make any other adduct explicit, write '·' or '*' ("Fe2O3*2SiO2").
//
// Returns InvalidArgument naming the problem, its 0-based byte position and the formula
// (e.g. `unknown element 'Xx' at position 0 in formula "XxO2"`) for: an empty formula, an
// unknown element, a character that cannot start a token (lowercase letter, '+', ...), an
// unbalanced or mismatched bracket, an empty group or part, a number that is zero, too
// large or not followed by anything it could multiply, nesting deeper than
// kMaxFormulaNesting, or an element whose total amount exceeds 1e6 (that message has no
// position), so that every accepted composition can be formatted and parsed again.
absl::StatusOr<Composition> ParseFormula(absl::string_view formula);

// Returns the composition of `structure` per formula unit:
//  1. Sums site occupancies per element over all sites (sites with an unknown atomic
//     number count as "X", as in Structure::CellFormula).
//  2. If every sum is within 1e-6 of an integer >= 1, rounds them and divides by their
//     greatest common divisor: 4 Na + 4 Cl -> Na 1, Cl 1; Ba 1 Ti 1 O 3 stays. This is
//     exactly the reduction of Structure::ReducedFormula.
//  3. Otherwise (fractional occupancies), divides by the smallest sum if every quotient is
//     then within 1e-6 of an integer (Na 0.5 + Cl 0.5 -> Na 1, Cl 1; Fe 0.75 + O 1.5 ->
//     Fe 1, O 2), and keeps the cell sums as they are if not (La 0.7, Sr 0.3, Mn 1, O 3;
//     also Fe 1.5, O 2.25: no multiples of the smallest sum other than 1 are tried).
//     Structure::ReducedFormula keeps the cell sums in both fractional cases.
// Applies the same rule to molecules. Returns an empty map for a structure without sites.
Composition CompositionOf(const Structure& structure);

// Formats a composition as a formula string in Hill order (C, then H, then the rest
// alphabetically; without carbon, everything alphabetically: {Ba 1, Ti 1, O 3} -> "BaO3Ti",
// as Structure::ReducedFormula does). An amount that rounds to 1 is omitted; others are
// rounded to 4 significant digits (never fewer than the integer part: 12345.6 -> "12346")
// and printed without exponent or trailing zeros ("Fe2O3", "La0.7MnO3Sr0.3"). A decimal
// amount that would be followed by "H2O" is separated from it by a space ("C2.5 H2O"), so
// that ParseFormula reads the output back as the same composition. Entries with
// zero, negative or non-finite amounts are printed as they are ("Fe0", "Fenan"), not
// dropped. Returns "" for an empty composition.
std::string FormatComposition(const Composition& composition);

}  // namespace matalign::materials

#endif  // MATALIGN_MATERIALS_FORMULA_H_
