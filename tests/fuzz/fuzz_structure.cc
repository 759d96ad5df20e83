// libFuzzer target for the structure readers. FUZZ_FORMAT (set by CMake) picks the reader:
// 1 = CIF, 2 = POSCAR, 3 = XYZ. Any input must give a Structure or an error, never a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "materials/graph.h"
#include "materials/structure_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace matalign::materials;
  const std::string content(reinterpret_cast<const char*>(data), size);
  StructureReadOptions options;
  options.limits.max_atoms = 200;
#if FUZZ_FORMAT == 1
  options.format = StructureFormat::kCif;
#elif FUZZ_FORMAT == 2
  options.format = StructureFormat::kPoscar;
  options.poscar_species = {"Fe", "O", "Ti"};
#else
  options.format = StructureFormat::kXyz;
#endif
  auto st = ParseStructure(content, "fuzz-input", options);
  if (st.ok()) {
    GraphOptions graph;
    graph.cutoff = 4.0;
    (void)BuildGraph(*st, graph);
  }
  return 0;
}
