#include "corpus/prototypes.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "materials/element.h"

namespace matalign::corpus {
namespace {

using materials::Lattice;
using materials::Structure;
using materials::Vec3;

constexpr double kSqrt2 = 1.4142135623730951;
constexpr double kSqrt3 = 1.7320508075688772;

// ---- Ion tables -------------------------------------------------------------------------

// Shannon (1976) effective ionic radii, Angstrom; 0 = not tabulated (estimated from r6).
struct Cation {
  const char* symbol;
  int charge;
  double r4, r6, r8, r12;
};

// Order matters: for an element with several charges the first is its "usual" one.
constexpr Cation kCations[] = {
    {"Li", 1, 0.59, 0.76, 0.92, 0},    {"Na", 1, 0.99, 1.02, 1.18, 1.39},
    {"K", 1, 1.37, 1.38, 1.51, 1.64},  {"Rb", 1, 0, 1.52, 1.61, 1.72},
    {"Cs", 1, 0, 1.67, 1.74, 1.88},    {"Cu", 1, 0.60, 0.77, 0, 0},
    {"Ag", 1, 1.00, 1.15, 1.28, 0},    {"Be", 2, 0.27, 0.45, 0, 0},
    {"Mg", 2, 0.57, 0.72, 0.89, 0},    {"Ca", 2, 0, 1.00, 1.12, 1.34},
    {"Sr", 2, 0, 1.18, 1.26, 1.44},    {"Ba", 2, 0, 1.35, 1.42, 1.61},
    {"Mn", 2, 0.66, 0.83, 0.96, 0},    {"Fe", 2, 0.63, 0.78, 0.92, 0},
    {"Co", 2, 0.58, 0.745, 0.90, 0},   {"Ni", 2, 0.55, 0.69, 0, 0},
    {"Cu", 2, 0.57, 0.73, 0, 0},       {"Zn", 2, 0.60, 0.74, 0.90, 0},
    {"Cd", 2, 0.78, 0.95, 1.10, 1.31}, {"Pb", 2, 0.98, 1.19, 1.29, 1.49},
    {"Al", 3, 0.39, 0.535, 0, 0},      {"Ga", 3, 0.47, 0.62, 0, 0},
    {"In", 3, 0.62, 0.80, 0.92, 0},    {"Sc", 3, 0, 0.745, 0.87, 0},
    {"Y", 3, 0, 0.90, 1.019, 0},       {"La", 3, 0, 1.032, 1.16, 1.36},
    {"Nd", 3, 0, 0.983, 1.109, 1.27},  {"Gd", 3, 0, 0.938, 1.053, 0},
    {"Bi", 3, 0, 1.03, 1.17, 0},       {"Cr", 3, 0, 0.615, 0, 0},
    {"Fe", 3, 0.49, 0.645, 0.78, 0},   {"Co", 3, 0, 0.545, 0, 0},
    {"Ni", 3, 0, 0.56, 0, 0},          {"Mn", 3, 0, 0.645, 0, 0},
    {"V", 3, 0, 0.64, 0, 0},           {"Ti", 3, 0, 0.67, 0, 0},
    {"Ti", 4, 0.42, 0.605, 0.74, 0},   {"Zr", 4, 0.59, 0.72, 0.84, 0},
    {"Hf", 4, 0.58, 0.71, 0.83, 0},    {"Sn", 4, 0.55, 0.69, 0.81, 0},
    {"Ce", 4, 0, 0.87, 0.97, 1.14},    {"Si", 4, 0.26, 0.40, 0, 0},
    {"Ge", 4, 0.39, 0.53, 0, 0},       {"Mn", 4, 0.39, 0.53, 0, 0},
    {"V", 4, 0, 0.58, 0.72, 0},        {"Mo", 4, 0, 0.65, 0, 0},
    {"Th", 4, 0, 0.94, 1.05, 1.21},    {"U", 4, 0, 0.89, 1.00, 1.17},
    {"Pb", 4, 0.65, 0.775, 0.94, 0},   {"Nb", 5, 0.48, 0.64, 0.74, 0},
    {"Ta", 5, 0, 0.64, 0.74, 0},       {"Sb", 5, 0, 0.60, 0, 0},
};

struct Anion {
  const char* symbol;
  int charge;
  double r2, r3, r4, r6, r8;  // 0 = use r6
};

constexpr Anion kAnions[] = {
    {"O", -2, 1.35, 1.36, 1.38, 1.40, 1.42},
    {"F", -1, 1.285, 1.30, 1.31, 1.33, 0},
    {"S", -2, 0, 0, 0, 1.84, 0},
    {"Se", -2, 0, 0, 0, 1.98, 0},
    {"Te", -2, 0, 0, 0, 2.21, 0},
    {"N", -3, 0, 0, 1.46, 1.46, 0},
    {"Cl", -1, 0, 0, 0, 1.81, 0},
    {"Br", -1, 0, 0, 0, 1.96, 0},
    {"I", -1, 0, 0, 0, 2.20, 0},
};

const Anion* FindAnion(absl::string_view symbol) {
  for (const Anion& a : kAnions) {
    if (symbol == a.symbol) return &a;
  }
  return nullptr;
}

const Cation* FindCation(absl::string_view symbol, int charge) {
  for (const Cation& c : kCations) {
    if (symbol == c.symbol && c.charge == charge) return &c;
  }
  return nullptr;
}

double CationRadius(const Cation& c, int cn) {
  switch (cn) {
    case 4:
      return c.r4 > 0 ? c.r4 : 0.85 * c.r6;
    case 8:
      return c.r8 > 0 ? c.r8 : 1.12 * c.r6;
    case 12:
      return c.r12 > 0 ? c.r12 : (c.r8 > 0 ? c.r8 * 1.25 / 1.12 : 1.25 * c.r6);
    default:
      return c.r6;
  }
}

double AnionRadius(const Anion& a, int cn) {
  double r = 0;
  switch (cn) {
    case 2:
      r = a.r2;
      break;
    case 3:
      r = a.r3;
      break;
    case 4:
      r = a.r4;
      break;
    case 8:
      r = a.r8;
      break;
    default:
      break;
  }
  return r > 0 ? r : a.r6;
}

double CovalentRadius(absl::string_view symbol) {
  const materials::ElementInfo* e = materials::ElementBySymbol(symbol);
  return e == nullptr ? 0 : e->covalent_radius;
}

int AtomicNumber(absl::string_view symbol) {
  const materials::ElementInfo* e = materials::ElementBySymbol(symbol);
  return e == nullptr ? 0 : e->atomic_number;
}

// ---- Prototype descriptions --------------------------------------------------------------

const std::vector<PrototypeInfo>& Infos() {
  static const std::vector<PrototypeInfo>* infos = new std::vector<PrototypeInfo>{
      {PrototypeKind::kRocksalt,
       "rocksalt",
       "AX",
       "Fm-3m",
       "NaCl",
       {{Role::kA, 1, 6}, {Role::kX, 1, 6}},
       "a = 2 d, d = r(A,VI) + r(X,VI)"},
      {PrototypeKind::kCesiumChloride,
       "cesium-chloride",
       "AX",
       "Pm-3m",
       "CsCl",
       {{Role::kA, 1, 8}, {Role::kX, 1, 8}},
       "a = 2 d / sqrt(3), d = r(A,VIII) + r(X,VIII)"},
      {PrototypeKind::kZincblende,
       "zincblende",
       "AX",
       "F-43m",
       "ZnS",
       {{Role::kA, 1, 4}, {Role::kX, 1, 4}},
       "a = 4 d / sqrt(3), d = mean of the ionic sum r(A,IV) + r(X,IV) and the covalent sum "
       "(tetrahedral bonds are half covalent)"},
      {PrototypeKind::kWurtzite,
       "wurtzite",
       "AX",
       "P6_3mc",
       "ZnO",
       {{Role::kA, 1, 4}, {Role::kX, 1, 4}},
       "ideal: c = 8 d / 3, a = c / sqrt(8/3), u = 3/8, d as for zincblende"},
      {PrototypeKind::kFluorite,
       "fluorite",
       "AX2",
       "Fm-3m",
       "CaF2",
       {{Role::kA, 1, 8}, {Role::kX, 2, 4}},
       "a = 4 d / sqrt(3), d = r(A,VIII) + r(X,IV)"},
      {PrototypeKind::kAntifluorite,
       "antifluorite",
       "A2X",
       "Fm-3m",
       "Li2O",
       {{Role::kA, 2, 4}, {Role::kX, 1, 8}},
       "a = 4 d / sqrt(3), d = r(A,IV) + r(X,VIII)"},
      {PrototypeKind::kRutile,
       "rutile",
       "AX2",
       "P4_2/mnm",
       "TiO2",
       {{Role::kA, 1, 6}, {Role::kX, 2, 3}},
       "c/a = 0.644, u = 1/4 + (c/a)^2/8 (equal apical and equatorial bonds), "
       "a = d / (sqrt(2) u), d = r(A,VI) + r(X,III)"},
      {PrototypeKind::kCdI2,
       "cdi2",
       "AX2",
       "P-3m1",
       "TiS2",
       {{Role::kA, 1, 6}, {Role::kX, 2, 3}},
       "regular octahedra: a = sqrt(2) d, layer half-height a / sqrt(6), c = 1.62 a, "
       "d = r(A,VI) + r(X,III)"},
      {PrototypeKind::kPerovskite,
       "perovskite",
       "ABX3",
       "Pm-3m",
       "SrTiO3",
       {{Role::kA, 1, 12}, {Role::kB, 1, 6}, {Role::kX, 3, 6}},
       "a = 2 (r(B,VI) + r(X,VI)) (the BX6 octahedra set the cell)"},
      {PrototypeKind::kSpinel,
       "spinel",
       "AB2X4",
       "Fd-3m",
       "MgAl2O4",
       {{Role::kA, 1, 4}, {Role::kB, 2, 6}, {Role::kX, 4, 4}},
       "u (origin 2) solves sqrt(3)(u - 1/8) / sqrt(3u^2 - 2u + 3/8) = d_A / d_B, then "
       "a = d_B / sqrt(3u^2 - 2u + 3/8); d_A = r(A,IV) + r(X,IV), d_B = r(B,VI) + r(X,IV)"},
      {PrototypeKind::kCorundum,
       "corundum",
       "A2X3",
       "R-3c",
       "Al2O3",
       {{Role::kA, 2, 6}, {Role::kX, 3, 4}},
       "Al2O3 geometry (z = 0.3523, x = 0.3064, c/a = 2.730) scaled so the mean of the six "
       "A-X bonds is d = r(A,VI) + r(X,IV): a = 2.485 d"},
      {PrototypeKind::kLayeredAbx2,
       "layered-abx2",
       "ABX2",
       "R-3m",
       "LiCoO2",
       {{Role::kA, 1, 6}, {Role::kB, 1, 6}, {Role::kX, 2, 6}},
       "a = 1.463 d_B (LiCoO2's a / d_B), layer heights h = sqrt(d^2 - a^2/3) for A and B, "
       "c = 6 (h_A + h_B), z(X) = 1/3 - h_B / c; d = r(cation,VI) + r(X,VI)"},
  };
  return *infos;
}

// ---- Geometry helpers -------------------------------------------------------------------

const std::array<Vec3, 4> kFcc = {Vec3{0, 0, 0}, Vec3{0, 0.5, 0.5}, Vec3{0.5, 0, 0.5},
                                  Vec3{0.5, 0.5, 0}};
const std::array<Vec3, 3> kRhombohedral = {Vec3{0, 0, 0}, Vec3{2.0 / 3, 1.0 / 3, 1.0 / 3},
                                           Vec3{1.0 / 3, 2.0 / 3, 2.0 / 3}};

Vec3 Add(const Vec3& a, const Vec3& b) { return {a[0] + b[0], a[1] + b[1], a[2] + b[2]}; }

// Adds `base` + every centring translation.
template <size_t N>
void AddCentred(Structure* st, int z, const Vec3& base, const std::array<Vec3, N>& centring) {
  for (const Vec3& t : centring) st->AddFractional(z, Add(base, t));
}

// Mean over sites with atomic number `center_z` of the distance to their `cn` nearest
// sites with atomic number `neighbor_z` (images -1..1): used to scale fixed geometries.
double MeanFirstShell(const Structure& st, int center_z, int neighbor_z, int cn) {
  double sum = 0;
  int n = 0;
  for (const auto& s : st.sites) {
    if (s.atomic_number != center_z) continue;
    std::vector<double> d;
    for (const auto& t : st.sites) {
      if (t.atomic_number != neighbor_z) continue;
      for (int i = -1; i <= 1; ++i) {
        for (int j = -1; j <= 1; ++j) {
          for (int k = -1; k <= 1; ++k) {
            const Vec3 c = st.lattice.ToCartesian(
                {t.frac[0] - s.frac[0] + i, t.frac[1] - s.frac[1] + j, t.frac[2] - s.frac[2] + k});
            const double r = std::sqrt(c[0] * c[0] + c[1] * c[1] + c[2] * c[2]);
            if (r > 1e-9) d.push_back(r);
          }
        }
      }
    }
    std::sort(d.begin(), d.end());
    for (int m = 0; m < cn && m < static_cast<int>(d.size()); ++m) {
      sum += d[m];
      ++n;
    }
  }
  return n == 0 ? 0 : sum / n;
}

void ScaleLattice(Structure* st, double f) {
  auto rows = st->lattice.vectors();
  for (auto& r : rows) {
    for (double& x : r) x *= f;
  }
  st->lattice = Lattice::FromVectors(rows);
  for (auto& s : st->sites) s.cart = st->lattice.ToCartesian(s.frac);
}

// The resolved ions of one prototype instance.
struct Ions {
  std::map<Role, std::string> symbol;
  std::map<Role, int> charge;
};

double RoleRadius(const Ions& ions, Role role, int cn) {
  const std::string& s = ions.symbol.at(role);
  if (role == Role::kX) {
    const Anion* a = FindAnion(s);
    return a == nullptr ? 0 : AnionRadius(*a, cn);
  }
  const Cation* c = FindCation(s, ions.charge.at(role));
  return c == nullptr ? 0 : CationRadius(*c, cn);
}

int RoleCn(const PrototypeInfo& info, Role role) {
  for (const RoleInfo& r : info.roles) {
    if (r.role == role) return r.coordination;
  }
  return 6;
}

// Bond length cation(role) - X for the prototype's coordinations.
double BondLength(const PrototypeInfo& info, const Ions& ions, Role role) {
  return RoleRadius(ions, role, RoleCn(info, role)) +
         RoleRadius(ions, Role::kX, RoleCn(info, Role::kX));
}

absl::StatusOr<Structure> Build(PrototypeKind kind, const Ions& ions, double lattice_scale) {
  const PrototypeInfo& info = GetPrototypeInfo(kind);
  const int za = AtomicNumber(ions.symbol.at(Role::kA));
  const int zx = AtomicNumber(ions.symbol.at(Role::kX));
  const int zb = ions.symbol.count(Role::kB) ? AtomicNumber(ions.symbol.at(Role::kB)) : 0;
  const double d = BondLength(info, ions, Role::kA);
  Structure st;
  st.periodic = true;
  switch (kind) {
    case PrototypeKind::kRocksalt: {
      const double a = 2 * d;
      st.lattice = Lattice::FromParameters(a, a, a, 90, 90, 90);
      for (const Vec3& t : kFcc) {
        st.AddFractional(za, t);
        st.AddFractional(zx, Add(t, {0.5, 0.5, 0.5}));
      }
      break;
    }
    case PrototypeKind::kCesiumChloride: {
      const double a = 2 * d / kSqrt3;
      st.lattice = Lattice::FromParameters(a, a, a, 90, 90, 90);
      st.AddFractional(za, {0, 0, 0});
      st.AddFractional(zx, {0.5, 0.5, 0.5});
      break;
    }
    case PrototypeKind::kZincblende:
    case PrototypeKind::kWurtzite: {
      const double dc =
          CovalentRadius(ions.symbol.at(Role::kA)) + CovalentRadius(ions.symbol.at(Role::kX));
      const double deff = 0.5 * (d + dc);
      if (kind == PrototypeKind::kZincblende) {
        const double a = 4 * deff / kSqrt3;
        st.lattice = Lattice::FromParameters(a, a, a, 90, 90, 90);
        for (const Vec3& t : kFcc) {
          st.AddFractional(za, t);
          st.AddFractional(zx, Add(t, {0.25, 0.25, 0.25}));
        }
      } else {
        const double c = 8 * deff / 3, a = c / std::sqrt(8.0 / 3.0), u = 3.0 / 8.0;
        st.lattice = Lattice::FromParameters(a, a, c, 90, 90, 120);
        st.AddFractional(za, {1.0 / 3, 2.0 / 3, 0});
        st.AddFractional(za, {2.0 / 3, 1.0 / 3, 0.5});
        st.AddFractional(zx, {1.0 / 3, 2.0 / 3, u});
        st.AddFractional(zx, {2.0 / 3, 1.0 / 3, 0.5 + u});
      }
      break;
    }
    case PrototypeKind::kFluorite:
    case PrototypeKind::kAntifluorite: {
      const double a = 4 * d / kSqrt3;
      st.lattice = Lattice::FromParameters(a, a, a, 90, 90, 90);
      // Fluorite: A on the fcc sites, X in all eight tetrahedral holes; antifluorite swaps.
      const int z_fcc = kind == PrototypeKind::kFluorite ? za : zx;
      const int z_tet = kind == PrototypeKind::kFluorite ? zx : za;
      for (const Vec3& t : kFcc) st.AddFractional(z_fcc, t);
      for (double x : {0.25, 0.75}) {
        for (double y : {0.25, 0.75}) {
          for (double z : {0.25, 0.75}) st.AddFractional(z_tet, {x, y, z});
        }
      }
      break;
    }
    case PrototypeKind::kRutile: {
      const double ca = 0.644, u = 0.25 + ca * ca / 8;
      const double a = d / (kSqrt2 * u), c = ca * a;
      st.lattice = Lattice::FromParameters(a, a, c, 90, 90, 90);
      st.AddFractional(za, {0, 0, 0});
      st.AddFractional(za, {0.5, 0.5, 0.5});
      st.AddFractional(zx, {u, u, 0});
      st.AddFractional(zx, {1 - u, 1 - u, 0});
      st.AddFractional(zx, {0.5 + u, 0.5 - u, 0.5});
      st.AddFractional(zx, {0.5 - u, 0.5 + u, 0.5});
      break;
    }
    case PrototypeKind::kCdI2: {
      const double a = kSqrt2 * d, h = a / std::sqrt(6.0), c = 1.62 * a, z = h / c;
      st.lattice = Lattice::FromParameters(a, a, c, 90, 90, 120);
      st.AddFractional(za, {0, 0, 0});
      st.AddFractional(zx, {1.0 / 3, 2.0 / 3, z});
      st.AddFractional(zx, {2.0 / 3, 1.0 / 3, -z});
      break;
    }
    case PrototypeKind::kPerovskite: {
      const double a = 2 * BondLength(info, ions, Role::kB);
      st.lattice = Lattice::FromParameters(a, a, a, 90, 90, 90);
      st.AddFractional(za, {0.5, 0.5, 0.5});
      st.AddFractional(zb, {0, 0, 0});
      st.AddFractional(zx, {0.5, 0, 0});
      st.AddFractional(zx, {0, 0.5, 0});
      st.AddFractional(zx, {0, 0, 0.5});
      break;
    }
    case PrototypeKind::kSpinel: {
      const double da = d, db = BondLength(info, ions, Role::kB);
      auto oct = [](double u) { return std::sqrt(3 * u * u - 2 * u + 0.375); };
      auto ratio = [&](double u) { return kSqrt3 * (u - 0.125) / oct(u); };
      double lo = 0.23, hi = 0.30;
      const double target = std::clamp(da / db, ratio(lo), ratio(hi));
      for (int it = 0; it < 60; ++it) {
        const double mid = 0.5 * (lo + hi);
        (ratio(mid) < target ? lo : hi) = mid;
      }
      const double u = 0.5 * (lo + hi), a = db / oct(u);
      st.lattice = Lattice::FromParameters(a, a, a, 90, 90, 90);
      // Fd-3m origin choice 2: 8a, 16d, 32e, each with the four F-centring translations.
      for (const Vec3& p : {Vec3{0.125, 0.125, 0.125}, Vec3{0.875, 0.375, 0.375}}) {
        AddCentred(&st, za, p, kFcc);
      }
      for (const Vec3& p :
           {Vec3{0.5, 0.5, 0.5}, Vec3{0.25, 0.75, 0}, Vec3{0.75, 0, 0.25}, Vec3{0, 0.25, 0.75}}) {
        AddCentred(&st, zb, p, kFcc);
      }
      const double x = u;
      for (const Vec3& p :
           {Vec3{x, x, x}, Vec3{-x + 0.75, -x + 0.25, x + 0.5}, Vec3{-x + 0.25, x + 0.5, -x + 0.75},
            Vec3{x + 0.5, -x + 0.75, -x + 0.25}, Vec3{x + 0.75, x + 0.25, -x + 0.5},
            Vec3{-x, -x, -x}, Vec3{x + 0.25, -x + 0.5, x + 0.75},
            Vec3{-x + 0.5, x + 0.75, x + 0.25}}) {
        AddCentred(&st, zx, p, kFcc);
      }
      break;
    }
    case PrototypeKind::kCorundum: {
      const double z = 0.3523, x = 0.3064;
      st.lattice = Lattice::FromParameters(4.759, 4.759, 4.759 * 2.730, 90, 90, 120);
      for (double zz : {z, 0.5 - z, -z, z + 0.5})
        AddCentred(&st, za, Vec3{0, 0, zz}, kRhombohedral);
      for (const Vec3& p : {Vec3{x, 0, 0.25}, Vec3{0, x, 0.25}, Vec3{-x, -x, 0.25},
                            Vec3{-x, 0, 0.75}, Vec3{0, -x, 0.75}, Vec3{x, x, 0.75}}) {
        AddCentred(&st, zx, p, kRhombohedral);
      }
      ScaleLattice(&st, d / MeanFirstShell(st, za, zx, 6));
      break;
    }
    case PrototypeKind::kLayeredAbx2: {
      const double db = BondLength(info, ions, Role::kB);
      const double a = 1.463 * db;
      const double ha2 = d * d - a * a / 3, hb2 = db * db - a * a / 3;
      if (ha2 < 0.25 || hb2 < 0.25) {
        return absl::InvalidArgumentError(absl::StrCat(
            "layered-abx2 ", ions.symbol.at(Role::kA), ions.symbol.at(Role::kB),
            ions.symbol.at(Role::kX), "2: the A ion is too small for the layered structure"));
      }
      const double ha = std::sqrt(ha2), hb = std::sqrt(hb2), c = 6 * (ha + hb);
      const double z = 1.0 / 3 - hb / c;
      st.lattice = Lattice::FromParameters(a, a, c, 90, 90, 120);
      AddCentred(&st, zb, Vec3{0, 0, 0}, kRhombohedral);
      AddCentred(&st, za, Vec3{0, 0, 0.5}, kRhombohedral);
      AddCentred(&st, zx, Vec3{0, 0, z}, kRhombohedral);
      AddCentred(&st, zx, Vec3{0, 0, -z}, kRhombohedral);
      break;
    }
  }
  ScaleLattice(&st, lattice_scale);
  std::string formula;
  for (const RoleInfo& r : info.roles) {
    absl::StrAppend(&formula, ions.symbol.at(r.role), r.count > 1 ? absl::StrCat(r.count) : "");
  }
  st.name = absl::StrCat(formula, " ", info.name);
  st.source = absl::StrCat("synthetic ", info.name, " ", formula);
  MATALIGN_RETURN_IF_ERROR(materials::ValidateStructure(st, {}));
  return st;
}

// ---- Screening ----------------------------------------------------------------------------

struct Pattern {
  int qa;
  int qb;  // 0 = no B role
  std::vector<const char*> anions;
};

std::vector<Pattern> PatternsOf(PrototypeKind kind) {
  switch (kind) {
    case PrototypeKind::kRocksalt:
      return {{1, 0, {"F", "Cl", "Br", "I"}}, {2, 0, {"O", "S", "Se"}}, {3, 0, {"N"}}};
    case PrototypeKind::kCesiumChloride:
      return {{1, 0, {"Cl", "Br", "I"}}};
    case PrototypeKind::kZincblende:
    case PrototypeKind::kWurtzite:
      return {{1, 0, {"Cl", "Br", "I"}}, {2, 0, {"O", "S", "Se", "Te"}}, {3, 0, {"N"}}};
    case PrototypeKind::kFluorite:
      return {{2, 0, {"F", "Cl"}}, {4, 0, {"O"}}};
    case PrototypeKind::kAntifluorite:
      return {{1, 0, {"O", "S", "Se", "Te"}}};
    case PrototypeKind::kRutile:
      return {{4, 0, {"O"}}, {2, 0, {"F"}}};
    case PrototypeKind::kCdI2:
      return {{2, 0, {"Cl", "Br", "I"}}, {4, 0, {"S", "Se", "Te"}}};
    case PrototypeKind::kPerovskite:
      return {{1, 2, {"F", "Cl", "Br", "I"}}, {2, 4, {"O"}}, {3, 3, {"O"}}, {1, 5, {"O"}}};
    case PrototypeKind::kSpinel:
      return {{2, 3, {"O", "S", "Se"}}, {4, 2, {"O"}}};
    case PrototypeKind::kCorundum:
      return {{3, 0, {"O"}}};
    case PrototypeKind::kLayeredAbx2:
      return {{1, 3, {"O", "S"}}};
  }
  return {};
}

double IdealRatio(int cn) {
  switch (cn) {
    case 4:
      return 0.32;
    case 8:
      return 0.87;
    case 12:
      return 1.0;
    default:
      return 0.57;
  }
}

struct Screen {
  bool pass = false;
  double value = 0;     // tolerance factor or radius ratio
  double mismatch = 0;  // see Crystal::size_mismatch
};

bool In(double v, double lo, double hi) { return v >= lo && v <= hi; }

Screen ScreenIons(PrototypeKind kind, const Ions& ions) {
  const PrototypeInfo& info = GetPrototypeInfo(kind);
  const double rx6 = RoleRadius(ions, Role::kX, 6);
  const double rx = RoleRadius(ions, Role::kX, RoleCn(info, Role::kX));
  const double ra = RoleRadius(ions, Role::kA, RoleCn(info, Role::kA));
  const double rb = ions.symbol.count(Role::kB) ? RoleRadius(ions, Role::kB, 6) : 0;
  Screen s;
  const double rho_a = ra / rx;
  s.value = rho_a;
  s.mismatch =
      std::fabs(rho_a - IdealRatio(RoleCn(info, Role::kA))) / IdealRatio(RoleCn(info, Role::kA));
  switch (kind) {
    case PrototypeKind::kRocksalt:
      s.pass = In(rho_a, 0.35, 1.0);
      break;
    case PrototypeKind::kCesiumChloride:
      s.pass = In(rho_a, 0.70, 1.2);
      break;
    case PrototypeKind::kZincblende:
    case PrototypeKind::kWurtzite:
      s.pass = In(rho_a, 0.2, 0.5);
      break;
    case PrototypeKind::kFluorite:
      s.pass = In(rho_a, 0.6, 1.2);
      break;
    case PrototypeKind::kAntifluorite:
      s.pass = In(rho_a, 0.3, 1.0);
      break;
    case PrototypeKind::kRutile:
      s.pass = In(rho_a, 0.35, 0.75);
      break;
    case PrototypeKind::kCdI2:
      s.pass = In(rho_a, 0.25, 0.6);
      break;
    case PrototypeKind::kPerovskite: {
      const double ra12 = RoleRadius(ions, Role::kA, 12);
      const double t = (ra12 + rx6) / (kSqrt2 * (rb + rx6));
      s.value = t;
      s.mismatch = std::fabs(t - 1);
      s.pass = In(t, 0.85, 1.06) && In(rb / rx6, 0.41, 0.9);
      break;
    }
    case PrototypeKind::kSpinel: {
      const double rho_b = rb / rx;
      s.mismatch = 0.5 * (s.mismatch + std::fabs(rho_b - IdealRatio(6)) / IdealRatio(6));
      s.pass = In(rho_a, 0.18, 0.6) && In(rho_b, 0.3, 0.75);
      break;
    }
    case PrototypeKind::kCorundum:
      s.pass = In(rho_a, 0.35, 0.62);
      break;
    case PrototypeKind::kLayeredAbx2: {
      const double rho_b = rb / rx;
      s.mismatch = 0.5 * (s.mismatch + std::fabs(rho_b - IdealRatio(6)) / IdealRatio(6));
      s.pass = In(rho_b, 0.35, 0.6) && In(rho_a, 0.45, 0.8) && ra >= rb + 0.1;
      break;
    }
  }
  return s;
}

absl::Status ValidateScale(double lattice_scale) {
  if (!(lattice_scale >= 0.8 && lattice_scale <= 1.25)) {
    return absl::InvalidArgumentError(
        absl::StrCat("lattice_scale ", lattice_scale, " is outside [0.8, 1.25]"));
  }
  return absl::OkStatus();
}

std::map<std::string, double> CompositionOf(const PrototypeInfo& info, const Ions& ions) {
  std::map<std::string, double> comp;
  for (const RoleInfo& r : info.roles) comp[ions.symbol.at(r.role)] += r.count;
  return comp;
}

// Index of element symbols known to the packer: anion -> its table entry.
bool IsAnion(absl::string_view s) { return FindAnion(s) != nullptr; }

// Octahedral radius used for amorphous packing; 0 when the element has no ion.
double PackingIonRadius(absl::string_view s) {
  if (const Anion* a = FindAnion(s)) return a->r6;
  for (const Cation& c : kCations) {
    if (s == c.symbol) return c.r6;
  }
  return 0;
}

}  // namespace

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kA:
      return "A";
    case Role::kB:
      return "B";
    case Role::kX:
      return "X";
  }
  return "?";
}

const std::vector<PrototypeKind>& AllPrototypes() {
  static const std::vector<PrototypeKind>* all = [] {
    auto* v = new std::vector<PrototypeKind>;
    for (const PrototypeInfo& info : Infos()) v->push_back(info.kind);
    return v;
  }();
  return *all;
}

const PrototypeInfo& GetPrototypeInfo(PrototypeKind kind) {
  return Infos()[static_cast<size_t>(kind)];
}

absl::StatusOr<PrototypeKind> ParsePrototypeName(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  for (const PrototypeInfo& info : Infos()) {
    if (lower == info.name) return info.kind;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown prototype '", name, "'"));
}

int AnionCharge(absl::string_view symbol) {
  const Anion* a = FindAnion(symbol);
  return a == nullptr ? 0 : a->charge;
}

double IonicRadius(absl::string_view symbol, int charge, int cn) {
  if (charge < 0) {
    const Anion* a = FindAnion(symbol);
    return a != nullptr && a->charge == charge ? AnionRadius(*a, cn) : 0;
  }
  const Cation* c = FindCation(symbol, charge);
  return c == nullptr ? 0 : CationRadius(*c, cn);
}

absl::StatusOr<materials::Structure> MakePrototype(PrototypeKind kind,
                                                   const std::map<Role, std::string>& elements,
                                                   double lattice_scale) {
  const PrototypeInfo& info = GetPrototypeInfo(kind);
  const std::string what = absl::StrCat("prototype ", info.name);
  MATALIGN_RETURN_IF_ERROR(ValidateScale(lattice_scale));
  for (const auto& [role, symbol] : elements) {
    if (std::none_of(info.roles.begin(), info.roles.end(),
                     [&](const RoleInfo& r) { return r.role == role; })) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": has no role ", RoleName(role), " (given ", symbol, ")"));
    }
  }
  Ions ions;
  for (const RoleInfo& r : info.roles) {
    auto it = elements.find(r.role);
    if (it == elements.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": no element given for role ", RoleName(r.role)));
    }
    ions.symbol[r.role] = it->second;
  }
  const Anion* anion = FindAnion(ions.symbol[Role::kX]);
  if (anion == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": '", ions.symbol[Role::kX], "' is not a known anion on X"));
  }
  ions.charge[Role::kX] = anion->charge;
  // Candidate charges per cation role, in table order.
  std::vector<Role> cation_roles;
  std::map<Role, std::vector<int>> charges;
  int anion_total = 0;
  for (const RoleInfo& r : info.roles) {
    if (r.role == Role::kX) {
      anion_total = -anion->charge * r.count;
      continue;
    }
    cation_roles.push_back(r.role);
    for (const Cation& c : kCations) {
      if (ions.symbol[r.role] == c.symbol) charges[r.role].push_back(c.charge);
    }
    if (charges[r.role].empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": '", ions.symbol[r.role], "' is not a known cation on ", RoleName(r.role)));
    }
  }
  auto count_of = [&](Role role) {
    for (const RoleInfo& r : info.roles) {
      if (r.role == role) return r.count;
    }
    return 0;
  };
  bool found = false;
  const std::vector<int> none = {0};
  const std::vector<int>& qbs = cation_roles.size() > 1 ? charges[cation_roles[1]] : none;
  for (int qa : charges[cation_roles[0]]) {
    for (int qb : qbs) {
      const int total = qa * count_of(cation_roles[0]) +
                        (cation_roles.size() > 1 ? qb * count_of(cation_roles[1]) : 0);
      if (!found && total == anion_total) {
        found = true;
        ions.charge[cation_roles[0]] = qa;
        if (cation_roles.size() > 1) ions.charge[cation_roles[1]] = qb;
      }
    }
  }
  if (!found) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": no charge-balanced oxidation states for the given elements"));
  }
  return Build(kind, ions, lattice_scale);
}

absl::Status CrystalSamplerOptions::Validate() const {
  if (!(strain_sigma >= 0 && strain_sigma <= 0.05)) {
    return absl::InvalidArgumentError(
        absl::StrCat("strain_sigma ", strain_sigma, " is outside [0, 0.05]"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Crystal> SampleCrystal(Rng& rng, const CrystalSamplerOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  const std::vector<PrototypeKind>& kinds =
      options.prototypes.empty() ? AllPrototypes() : options.prototypes;
  // Every prototype has at least one pattern with candidates, so this ends quickly; the cap
  // only guards against a table edit that empties a prototype.
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const PrototypeKind kind = kinds[UniformIndex(rng, kinds.size())];
    const PrototypeInfo& info = GetPrototypeInfo(kind);
    const std::vector<Pattern> patterns = PatternsOf(kind);
    const Pattern& pattern = patterns[UniformIndex(rng, patterns.size())];
    const char* anion = pattern.anions[UniformIndex(rng, pattern.anions.size())];
    std::vector<std::pair<Ions, Screen>> candidates;
    for (const Cation& a : kCations) {
      if (a.charge != pattern.qa) continue;
      for (const Cation& b : kCations) {
        if (pattern.qb == 0 && &b != &kCations[0]) break;
        if (pattern.qb != 0 && (b.charge != pattern.qb || std::string(a.symbol) == b.symbol)) {
          continue;
        }
        Ions ions;
        ions.symbol[Role::kA] = a.symbol;
        ions.charge[Role::kA] = a.charge;
        if (pattern.qb != 0) {
          ions.symbol[Role::kB] = b.symbol;
          ions.charge[Role::kB] = b.charge;
        }
        ions.symbol[Role::kX] = anion;
        ions.charge[Role::kX] = AnionCharge(anion);
        const Screen s = ScreenIons(kind, ions);
        if (s.pass) candidates.emplace_back(std::move(ions), s);
      }
    }
    if (candidates.empty()) continue;
    const auto& [ions, screen] = candidates[UniformIndex(rng, candidates.size())];
    const double sigma = options.strain_sigma;
    const double strain = std::clamp(sigma * Normal(rng), -3 * sigma, 3 * sigma);
    auto st = Build(kind, ions, 1 + strain);
    if (!st.ok()) continue;  // e.g. a layered geometry the radii cannot make: draw again
    Crystal c;
    c.prototype = kind;
    c.prototype_name = info.name;
    c.structure = *std::move(st);
    c.elements = ions.symbol;
    c.composition = CompositionOf(info, ions);
    for (const auto& [role, symbol] : ions.symbol)
      c.oxidation_states[symbol] = ions.charge.at(role);
    c.screening_value = screen.value;
    c.size_mismatch = screen.mismatch;
    c.strain = strain;
    return c;
  }
  return absl::InternalError("SampleCrystal: no prototype produced a valid crystal");
}

// ---- Amorphous ------------------------------------------------------------------------------

absl::Status AmorphousOptions::Validate() const {
  if (!(min_distance_factor >= 0.3 && min_distance_factor <= 1.2)) {
    return absl::InvalidArgumentError(
        absl::StrCat("min_distance_factor ", min_distance_factor, " is outside [0.3, 1.2]"));
  }
  if (!(min_distance_factor_floor >= 0.3 && min_distance_factor_floor <= min_distance_factor)) {
    return absl::InvalidArgumentError(absl::StrCat("min_distance_factor_floor ",
                                                   min_distance_factor_floor,
                                                   " is outside [0.3, min_distance_factor]"));
  }
  if (max_attempts_per_atom < 1 || max_relax_sweeps < 0) {
    return absl::InvalidArgumentError(
        "max_attempts_per_atom must be >= 1 and max_relax_sweeps >= 0");
  }
  return absl::OkStatus();
}

double MinContactDistance(const std::map<std::string, double>& composition, absl::string_view a,
                          absl::string_view b) {
  bool all_ionic = true;
  double anion_sum = 0, anion_n = 0;
  for (const auto& [s, n] : composition) {
    if (PackingIonRadius(s) == 0) all_ionic = false;
    if (IsAnion(s)) {
      anion_sum += n * PackingIonRadius(s);
      anion_n += n;
    }
  }
  if (!all_ionic || anion_n == 0 || PackingIonRadius(a) == 0 || PackingIonRadius(b) == 0) {
    return CovalentRadius(a) + CovalentRadius(b);
  }
  const double ra = PackingIonRadius(a), rb = PackingIonRadius(b);
  if (!IsAnion(a) && !IsAnion(b)) return ra + rb + anion_sum / anion_n;
  return ra + rb;
}

absl::StatusOr<materials::Structure> MakeAmorphous(const std::map<std::string, double>& composition,
                                                   int n_atoms, double density_g_cm3, Rng& rng,
                                                   const AmorphousOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  auto error = [](auto&&... parts) {
    return absl::InvalidArgumentError(absl::StrCat("amorphous: ", parts...));
  };
  if (composition.empty()) return error("empty composition");
  if (n_atoms < 1 || n_atoms > 1000) return error("n_atoms ", n_atoms, " is outside [1, 1000]");
  if (!(density_g_cm3 > 0 && density_g_cm3 <= 30)) {
    return error("density ", density_g_cm3, " g/cm3 is outside (0, 30]");
  }
  double per_fu = 0;
  std::vector<std::pair<std::string, int>> species;  // symbol, atomic number
  std::vector<double> amounts;
  for (const auto& [s, n] : composition) {
    const int z = AtomicNumber(s);
    if (z == 0) return error("unknown element '", s, "'");
    if (!(n > 0 && n < 1000)) return error("amount ", n, " of ", s, " is outside (0, 1000)");
    per_fu += n;
    species.emplace_back(s, z);
    amounts.push_back(n);
  }
  const int fu = std::max(1, static_cast<int>(std::lround(n_atoms / per_fu)));
  std::vector<int> zs;
  double mass = 0;
  for (size_t i = 0; i < species.size(); ++i) {
    const int count = std::max(1, static_cast<int>(std::lround(fu * amounts[i])));
    for (int k = 0; k < count; ++k) zs.push_back(species[i].second);
    mass += count * materials::ElementByNumber(species[i].second)->mass;
  }
  if (zs.size() > 1000) return error(zs.size(), " atoms exceed 1000");
  // Largest exclusion first (anions); the order within a species does not matter because
  // positions are random.
  std::map<int, int> index_of_z;
  for (size_t i = 0; i < species.size(); ++i) index_of_z[species[i].second] = static_cast<int>(i);
  std::vector<std::vector<double>> contact(species.size(), std::vector<double>(species.size()));
  for (size_t i = 0; i < species.size(); ++i) {
    for (size_t j = 0; j < species.size(); ++j) {
      contact[i][j] = MinContactDistance(composition, species[i].first, species[j].first);
    }
  }
  std::vector<std::vector<double>> dmin = contact;
  auto set_factor = [&](double f) {
    for (size_t i = 0; i < species.size(); ++i) {
      for (size_t j = 0; j < species.size(); ++j) dmin[i][j] = std::max(0.7, f * contact[i][j]);
    }
  };
  std::stable_sort(zs.begin(), zs.end(), [&](int a, int b) {
    return IsAnion(species[index_of_z[a]].first) > IsAnion(species[index_of_z[b]].first);
  });
  // 1 amu / A^3 = 1.66053906660 g/cm^3, the constant Structure::Density() uses.
  const double volume = mass * 1.66053906660 / density_g_cm3;  // A^3
  const double box = std::cbrt(volume);
  auto delta = [box](double a, double b) {
    double d = a - b;
    return d - box * std::round(d / box);
  };
  std::vector<Vec3> pos;
  std::vector<int> kind;
  pos.reserve(zs.size());
  auto worst_overlap = [&](const Vec3& p, int ki) {
    double worst = 0;  // largest (dmin - d) / dmin
    for (size_t j = 0; j < pos.size(); ++j) {
      const double dx = delta(p[0], pos[j][0]), dy = delta(p[1], pos[j][1]),
                   dz = delta(p[2], pos[j][2]);
      const double m = dmin[ki][kind[j]];
      const double d2 = dx * dx + dy * dy + dz * dz;
      if (d2 < m * m) worst = std::max(worst, (m - std::sqrt(d2)) / m);
    }
    return worst;
  };
  double factor = options.min_distance_factor;
  set_factor(factor);
  bool overlaps = false;
  for (int z : zs) {
    const int ki = index_of_z[z];
    Vec3 best{};
    double best_overlap = 2;
    for (int t = 0; t < options.max_attempts_per_atom; ++t) {
      const Vec3 p{Uniform(rng, 0, box), Uniform(rng, 0, box), Uniform(rng, 0, box)};
      const double o = worst_overlap(p, ki);
      if (o < best_overlap) {
        best_overlap = o;
        best = p;
      }
      if (o == 0) break;
    }
    if (best_overlap > 0) overlaps = true;
    pos.push_back(best);
    kind.push_back(ki);
  }
  // Relaxation: push every overlapping pair apart symmetrically until none is left; when the
  // packing jams, lower the factor in steps of 0.05 down to min_distance_factor_floor.
  while (true) {
    for (int sweep = 0; overlaps && sweep < options.max_relax_sweeps; ++sweep) {
      overlaps = false;
      for (size_t i = 0; i < pos.size(); ++i) {
        for (size_t j = i + 1; j < pos.size(); ++j) {
          Vec3 d{delta(pos[i][0], pos[j][0]), delta(pos[i][1], pos[j][1]),
                 delta(pos[i][2], pos[j][2])};
          const double r = std::sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
          const double m = dmin[kind[i]][kind[j]];
          if (r >= m) continue;
          overlaps = true;
          if (r < 1e-9) d = {1, 0, 0};
          const double push = 0.5 * (m - r) * 1.02 / (r < 1e-9 ? 1 : r);
          for (int k = 0; k < 3; ++k) {
            pos[i][k] += d[k] * push;
            pos[j][k] -= d[k] * push;
          }
        }
      }
    }
    if (!overlaps || factor - 0.05 < options.min_distance_factor_floor - 1e-9) break;
    factor -= 0.05;
    set_factor(factor);
  }
  if (overlaps) {
    return error("cannot pack ", zs.size(), " atoms at ", density_g_cm3,
                 " g/cm3 without close contacts (too dense for the minimum distances)");
  }
  Structure st;
  st.periodic = true;
  st.lattice = Lattice::FromParameters(box, box, box, 90, 90, 90);
  for (size_t i = 0; i < pos.size(); ++i) {
    st.AddFractional(zs[i], {pos[i][0] / box, pos[i][1] / box, pos[i][2] / box});
  }
  st.name = absl::StrCat("amorphous ", st.ReducedFormula());
  st.source = absl::StrCat("synthetic amorphous ", st.ReducedFormula());
  st.notes.push_back(absl::StrFormat("min_distance_factor %.2f", factor));
  MATALIGN_RETURN_IF_ERROR(materials::ValidateStructure(st, {}));
  return st;
}

// ---- Nanoparticles -------------------------------------------------------------------------

absl::StatusOr<Nanoparticle> MakeNanoparticle(const materials::Structure& crystal, double radius_a,
                                              double vacuum_a, int max_atoms) {
  const std::string what =
      absl::StrCat("nanoparticle from ", crystal.source.empty() ? crystal.name : crystal.source);
  if (!crystal.periodic || crystal.sites.empty() || !(crystal.lattice.Volume() > 1e-6)) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": needs a periodic crystal with sites"));
  }
  if (!(radius_a >= 2 && radius_a <= 50)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": radius ", radius_a, " A is outside [2, 50]"));
  }
  if (!(vacuum_a >= 0 && vacuum_a <= 100)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": vacuum ", vacuum_a, " A is outside [0, 100]"));
  }
  if (max_atoms < 2 || max_atoms > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": max_atoms ", max_atoms, " is outside [2, 1000]"));
  }
  const Vec3 widths = crystal.lattice.PerpendicularWidths();
  int reach[3];
  for (int k = 0; k < 3; ++k) {
    if (!(widths[k] > 0.5)) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": degenerate cell"));
    }
    reach[k] = static_cast<int>(std::ceil(radius_a / widths[k])) + 1;
    if (reach[k] > 60) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": cell too thin for the radius"));
    }
  }
  const Vec3 centre = crystal.sites[0].cart;
  // Every atom within radius_a of the centre, with its distance.
  std::vector<std::pair<double, std::pair<int, Vec3>>> ball;
  for (int i = -reach[0]; i <= reach[0]; ++i) {
    for (int j = -reach[1]; j <= reach[1]; ++j) {
      for (int k = -reach[2]; k <= reach[2]; ++k) {
        for (const auto& s : crystal.sites) {
          const Vec3 c = crystal.lattice.ToCartesian({s.frac[0] + i, s.frac[1] + j, s.frac[2] + k});
          const Vec3 r{c[0] - centre[0], c[1] - centre[1], c[2] - centre[2]};
          const double d = std::sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]);
          if (d <= radius_a + 1e-9) ball.push_back({d, {s.atomic_number, r}});
        }
      }
    }
  }
  std::stable_sort(ball.begin(), ball.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  double radius = radius_a;
  auto count_within = [&](double r) {
    return static_cast<int>(std::upper_bound(ball.begin(), ball.end(), r + 1e-9,
                                             [](double v, const auto& e) { return v < e.first; }) -
                            ball.begin());
  };
  while (count_within(radius) > max_atoms) radius *= 0.97;
  const int n = count_within(radius);
  if (n < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": a sphere of radius ", radius, " A holds fewer than 2 atoms"));
  }
  const double extent = ball[n - 1].first;
  const double box = 2 * extent + vacuum_a + 1.0;
  Nanoparticle out;
  out.radius_a = radius;
  Structure& st = out.structure;
  st.periodic = true;
  st.lattice = Lattice::FromParameters(box, box, box, 90, 90, 90);
  for (int i = 0; i < n; ++i) {
    const Vec3& r = ball[i].second.second;
    st.AddCartesian(ball[i].second.first, {r[0] + box / 2, r[1] + box / 2, r[2] + box / 2});
  }
  st.name = absl::StrFormat("nanoparticle %s r=%.1fA", st.ReducedFormula(), radius);
  st.source = absl::StrCat("synthetic ", st.name);
  st.notes.push_back(
      absl::StrFormat("sphere of radius %.3f A (requested %.3f A), %d atoms, "
                      "%.1f A box",
                      radius, radius_a, n, box));
  MATALIGN_RETURN_IF_ERROR(materials::ValidateStructure(st, {}));
  return out;
}

}  // namespace matalign::corpus
