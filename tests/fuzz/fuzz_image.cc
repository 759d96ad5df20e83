// libFuzzer target for image decoding and preprocessing: any bytes give an Image or an
// error. The pixel cap keeps memory within libFuzzer's RSS limit.
#include <cstddef>
#include <cstdint>
#include <string>

#include "imaging/image.h"
#include "imaging/preprocess.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace matalign::imaging;
  DecodeOptions decode;
  decode.max_pixels = 1 << 22;
  auto image = DecodeImage(absl::string_view(reinterpret_cast<const char*>(data), size),
                           "fuzz-input", decode);
  if (image.ok()) {
    PreprocessOptions options;
    options.size = 64;
    (void)Preprocess(*image, options);
  }
  return 0;
}
