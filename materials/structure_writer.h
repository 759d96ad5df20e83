// Writers for structure files: CIF (P1), VASP 5 POSCAR and (extended) XYZ. Each output
// parses back with materials/structure_io.h to the same lattice, species and positions
// (to better than 1e-6 Angstrom).
#ifndef MATALIGN_MATERIALS_STRUCTURE_WRITER_H_
#define MATALIGN_MATERIALS_STRUCTURE_WRITER_H_

#include <string>

#include "absl/status/statusor.h"
#include "materials/structure.h"

namespace matalign::materials {

// Returns a CIF of a periodic structure in space group P1: one data block named after
// st.name (characters other than letters, digits and "-_.()+" become '_'; empty -> the
// reduced formula), cell lengths and angles from the lattice, and every site with label,
// type symbol, fractional coordinates and occupancy. Fractional coordinates carry 10 and
// cell parameters 8 decimals.
// The CIF cell is in the standard orientation (a along x, b in the xy plane), so a reader
// recovers the lattice up to a rotation; lengths, angles and fractional coordinates are kept.
// InvalidArgument (naming st.source) for a molecule (st.periodic == false: write it with
// WriteXyz), a structure without sites, an unknown element or a degenerate lattice.
absl::StatusOr<std::string> WriteCif(const Structure& st);

// Returns a VASP 5 POSCAR of a periodic structure: comment line = st.name (or the reduced
// formula), scale 1, the lattice vectors as given, species grouped in order of their first
// appearance in st.sites (sites keep their order within a species), "Direct" coordinates.
// POSCAR has no occupancies: partially occupied sites are written as full atoms.
// InvalidArgument for a molecule, no sites, an unknown element or a zero-volume lattice.
absl::StatusOr<std::string> WritePoscar(const Structure& st);

// Returns an XYZ file: the number of atoms, a comment line, then "symbol x y z" (Cartesian,
// Angstrom) per site. For a periodic structure the comment is extended-XYZ
// (Lattice="ax ay az bx by bz cx cy cz" Properties=species:S:1:pos:R:3 pbc="T T T") so the
// cell survives a round trip; for a molecule it is st.name (or the reduced formula).
// InvalidArgument for no sites or an unknown element.
absl::StatusOr<std::string> WriteXyz(const Structure& st);

}  // namespace matalign::materials

#endif  // MATALIGN_MATERIALS_STRUCTURE_WRITER_H_
