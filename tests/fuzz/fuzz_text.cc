// libFuzzer target for text input: UTF-8 validation and normalization, and the synthesis
// paragraph parser. Any bytes give a text or an error.
#include <cstddef>
#include <cstdint>

#include "text/corpus.h"
#include "text/normalize.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace matalign::text;
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto normalized = NormalizeText(bytes, "fuzz-input");
  if (normalized.ok()) (void)NormalizeText(*normalized, "fuzz-input-again");
  (void)ParseSynthesisParagraph(bytes, "fuzz-input");
  return 0;
}
