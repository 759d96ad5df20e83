#include "materials/graph.h"

#include <algorithm>
#include <cmath>
#include <tuple>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "materials/element.h"

namespace matalign::materials {
namespace {

// Neighbours closer than this factor times the nearest-neighbour distance form the first
// coordination shell. Covalent radii overcount in ionic solids (Na-Na in NaCl).
constexpr double kFirstShellFactor = 1.2;
// Bound on atoms x periodic images that BuildGraph enumerates (memory: ~40 bytes each).
constexpr double kMaxImagePoints = 2e7;

// Image range needed per axis so that every point within `cutoff` of a site in the cell is
// covered: fractional differences lie in (-1, 1), so +-ceil(cutoff / width) suffices.
std::array<int, 3> ImageRange(const Structure& st, double cutoff) {
  if (!st.periodic) return {0, 0, 0};
  const Vec3 w = st.lattice.PerpendicularWidths();
  return {static_cast<int>(std::ceil(cutoff / w[0])), static_cast<int>(std::ceil(cutoff / w[1])),
          static_cast<int>(std::ceil(cutoff / w[2]))};
}

// Cartesian position of site j translated by `image`; both searches call this so that equal
// pairs give bit-identical distances.
Vec3 ImagePosition(const Structure& st, int j, const std::array<int32_t, 3>& image) {
  if (!st.periodic) return st.sites[j].cart;
  const Vec3& f = st.sites[j].frac;
  return st.lattice.ToCartesian({f[0] + image[0], f[1] + image[1], f[2] + image[2]});
}

double Distance(const Vec3& a, const Vec3& b) {
  const double dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2];
  return std::sqrt(dx * dx + dy * dy + dz * dz);
}

void SortNeighbors(std::vector<std::vector<Neighbor>>* all) {
  for (auto& list : *all) {
    std::sort(list.begin(), list.end(), [](const Neighbor& a, const Neighbor& b) {
      return std::tie(a.distance, a.index, a.image) < std::tie(b.distance, b.index, b.image);
    });
  }
}

}  // namespace

absl::Status GraphOptions::Validate() const {
  if (!(cutoff > 0 && cutoff <= 30)) {
    return absl::InvalidArgumentError(
        absl::StrCat("graph cutoff ", cutoff, " A must be in (0, 30]"));
  }
  if (max_neighbors < 1) return absl::InvalidArgumentError("max_neighbors must be >= 1");
  if (num_rbf < 2) return absl::InvalidArgumentError("num_rbf must be >= 2");
  if (!(rbf_width >= 0)) return absl::InvalidArgumentError("rbf_width must be >= 0");
  return absl::OkStatus();
}

std::vector<std::vector<Neighbor>> FindNeighborsBruteForce(const Structure& st, double cutoff) {
  const int n = static_cast<int>(st.sites.size());
  // One shell of images more than FindNeighbors uses, so that the oracle also checks the
  // image range.
  std::array<int, 3> r = ImageRange(st, cutoff);
  if (st.periodic) {
    for (int& x : r) ++x;
  }
  std::vector<std::vector<Neighbor>> out(n);
  for (int i = 0; i < n; ++i) {
    const Vec3& center = st.sites[i].cart;
    for (int j = 0; j < n; ++j) {
      for (int a = -r[0]; a <= r[0]; ++a) {
        for (int b = -r[1]; b <= r[1]; ++b) {
          for (int c = -r[2]; c <= r[2]; ++c) {
            const std::array<int32_t, 3> image = {a, b, c};
            const double d = Distance(center, ImagePosition(st, j, image));
            if (d > 0 && d <= cutoff) out[i].push_back({j, image, d});
          }
        }
      }
    }
  }
  SortNeighbors(&out);
  return out;
}

std::vector<std::vector<Neighbor>> FindNeighbors(const Structure& st, double cutoff) {
  const int n = static_cast<int>(st.sites.size());
  const std::array<int, 3> r = ImageRange(st, cutoff);
  struct Point {
    int index;
    std::array<int32_t, 3> image;
    Vec3 cart;
  };
  std::vector<Point> points;
  points.reserve(static_cast<size_t>(n) * (2 * r[0] + 1) * (2 * r[1] + 1) * (2 * r[2] + 1));
  for (int j = 0; j < n; ++j) {
    for (int a = -r[0]; a <= r[0]; ++a) {
      for (int b = -r[1]; b <= r[1]; ++b) {
        for (int c = -r[2]; c <= r[2]; ++c) {
          const std::array<int32_t, 3> image = {a, b, c};
          points.push_back({j, image, ImagePosition(st, j, image)});
        }
      }
    }
  }
  // Bin the image points into cubes of side `cutoff`; a site's neighbours lie in the 27
  // cubes around its own.
  using Bin = std::array<int64_t, 3>;
  struct BinHash {
    size_t operator()(const Bin& b) const {
      return std::hash<int64_t>()(b[0] * 73856093 ^ b[1] * 19349663 ^ b[2] * 83492791);
    }
  };
  auto key = [](int64_t x, int64_t y, int64_t z) { return Bin{x, y, z}; };
  // Coordinates are bounded by ValidateStructure (max_coordinate), so this fits in int64.
  auto bin_of = [cutoff](double v) { return static_cast<int64_t>(std::floor(v / cutoff)); };
  std::unordered_map<Bin, std::vector<int>, BinHash> bins;
  bins.reserve(points.size() / 4 + 1);
  for (size_t p = 0; p < points.size(); ++p) {
    const Vec3& x = points[p].cart;
    bins[key(bin_of(x[0]), bin_of(x[1]), bin_of(x[2]))].push_back(static_cast<int>(p));
  }
  std::vector<std::vector<Neighbor>> out(n);
  for (int i = 0; i < n; ++i) {
    const Vec3& center = st.sites[i].cart;
    const int64_t bx = bin_of(center[0]), by = bin_of(center[1]), bz = bin_of(center[2]);
    for (int64_t dx = -1; dx <= 1; ++dx) {
      for (int64_t dy = -1; dy <= 1; ++dy) {
        for (int64_t dz = -1; dz <= 1; ++dz) {
          auto it = bins.find(key(bx + dx, by + dy, bz + dz));
          if (it == bins.end()) continue;
          for (int p : it->second) {
            const double d = Distance(center, points[p].cart);
            if (d > 0 && d <= cutoff) out[i].push_back({points[p].index, points[p].image, d});
          }
        }
      }
    }
  }
  SortNeighbors(&out);
  return out;
}

absl::StatusOr<StructureGraph> BuildGraph(const Structure& st, const GraphOptions& options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  const int n = static_cast<int>(st.sites.size());
  const std::array<int, 3> r = ImageRange(st, options.cutoff);
  const double points = static_cast<double>(n) * (2 * r[0] + 1) * (2 * r[1] + 1) * (2 * r[2] + 1);
  if (points > kMaxImagePoints) {
    return absl::InvalidArgumentError(
        absl::StrCat(st.source, ": a ", options.cutoff, " A cutoff needs ", points,
                     " periodic image positions for this cell (limit ", kMaxImagePoints, ")"));
  }
  const std::vector<std::vector<Neighbor>> neighbors = FindNeighbors(st, options.cutoff);

  StructureGraph g;
  g.num_nodes = n;
  g.num_rbf = options.num_rbf;
  g.atomic_numbers.resize(n);
  g.node_features.resize(static_cast<size_t>(n) * kNodeFeatureDim);
  for (int i = 0; i < n; ++i) {
    const ElementInfo* e = ElementByNumber(st.sites[i].atomic_number);
    if (e == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(st.source, ": site ", i + 1, " has an unknown element"));
    }
    int coordination = 0;
    for (const Neighbor& nb : neighbors[i]) {
      coordination += nb.distance < kFirstShellFactor * neighbors[i][0].distance;
    }
    g.atomic_numbers[i] = e->atomic_number;
    float* f = &g.node_features[static_cast<size_t>(i) * kNodeFeatureDim];
    f[0] = static_cast<float>(e->atomic_number / 100.0);
    f[1] = static_cast<float>(e->electronegativity / 4.0);
    f[2] = static_cast<float>(e->covalent_radius / 2.5);
    f[3] = static_cast<float>(e->group / 18.0);
    f[4] = static_cast<float>(e->period / 7.0);
    f[5] = static_cast<float>(coordination / 12.0);
  }
  const double spacing = options.cutoff / (options.num_rbf - 1);
  const double sigma = options.rbf_width > 0 ? options.rbf_width : spacing;
  for (int i = 0; i < n; ++i) {
    const size_t keep = std::min<size_t>(neighbors[i].size(), options.max_neighbors);
    for (size_t k = 0; k < keep; ++k) {
      const Neighbor& nb = neighbors[i][k];
      g.edge_src.push_back(i);
      g.edge_dst.push_back(nb.index);
      g.edge_image.push_back(nb.image);
      g.edge_distance.push_back(static_cast<float>(nb.distance));
      for (int c = 0; c < options.num_rbf; ++c) {
        const double z = (nb.distance - c * spacing) / sigma;
        g.edge_rbf.push_back(static_cast<float>(std::exp(-0.5 * z * z)));
      }
    }
  }
  return g;
}

}  // namespace matalign::materials
