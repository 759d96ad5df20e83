// Synthetic images shared by the imaging tests. All are deterministic (fixed seeds).
#ifndef MATALIGN_TESTS_IMAGING_TEST_IMAGES_H_
#define MATALIGN_TESTS_IMAGING_TEST_IMAGES_H_

#include <cstdint>
#include <random>

#include "imaging/image.h"

namespace matalign::imaging::testing {

// A width x height image filled with `value`.
inline Image Constant(int width, int height, float value) {
  Image image;
  image.width = width;
  image.height = height;
  image.pixels.assign(static_cast<size_t>(width) * height, value);
  return image;
}

// Uniform noise in [lo, hi]: a stand-in for micrograph texture.
inline Image Texture(int width, int height, float lo, float hi, std::uint32_t seed) {
  Image image = Constant(width, height, 0.0f);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (float& p : image.pixels) p = dist(rng);
  return image;
}

// Paints rows [first_row, first_row + rows) with `background` and, on the middle rows of
// the band, short runs of `ink` (text-like), leaving solid rows at both ends of the band.
inline void PaintBar(Image& image, int first_row, int rows, float background, float ink) {
  for (int r = first_row; r < first_row + rows; ++r) {
    for (int c = 0; c < image.width; ++c) {
      const bool text_row = r >= first_row + 3 && r < first_row + rows - 3;
      const bool text_col = (c / 4) % 3 == 0 && c < image.width / 2;
      image.pixels[static_cast<size_t>(r) * image.width + c] =
          text_row && text_col ? ink : background;
    }
  }
}

}  // namespace matalign::imaging::testing

#endif  // MATALIGN_TESTS_IMAGING_TEST_IMAGES_H_
