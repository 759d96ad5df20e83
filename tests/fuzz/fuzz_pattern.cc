// libFuzzer target for the XRD scan readers. FUZZ_FORMAT (set by CMake): 1 = two-column
// .xy/.dat, 2 = PANalytical .xrdml. A parsed pattern is also resampled and rendered.
#include <cstddef>
#include <cstdint>

#include "xrd/pattern.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace matalign::xrd;
  const absl::string_view content(reinterpret_cast<const char*>(data), size);
  PatternLimits limits;
  limits.max_points = 200000;
#if FUZZ_FORMAT == 1
  auto pattern = ParseXy(content, "fuzz-input", limits);
#else
  auto pattern = ParseXrdml(content, "fuzz-input", limits);
#endif
  if (pattern.ok()) {
    GridOptions grid;
    grid.num_points = 512;
    auto values = ResampleToGrid(*pattern, grid);
    if (values.ok()) (void)RenderPatternImage(*values, 64, 32);
  }
  return 0;
}
