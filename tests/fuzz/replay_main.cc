// Standalone driver for the fuzz targets in ordinary (non-clang) builds, run by ctest:
// replays seed files and deterministic mutations of them (truncations, byte flips,
// insertions) through LLVMFuzzerTestOneInput. A crash or sanitizer report fails the test.
//
// usage: <target> [--max-seeds N] [--mutations N] PATH...   (files or directories)
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

void Run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  size_t max_seeds = 1000;
  int mutations = 40;
  std::vector<fs::path> seeds;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--max-seeds" && i + 1 < argc) {
      max_seeds = std::strtoul(argv[++i], nullptr, 10);
    } else if (arg == "--mutations" && i + 1 < argc) {
      mutations = std::atoi(argv[++i]);
    } else if (fs::is_directory(arg)) {
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(arg)) {
        if (e.is_regular_file()) files.push_back(e.path());
      }
      std::sort(files.begin(), files.end());
      seeds.insert(seeds.end(), files.begin(), files.end());
    } else if (fs::is_regular_file(arg)) {
      seeds.emplace_back(arg);
    } else {
      std::printf("replay: %s not found, skipped\n", arg.c_str());
    }
  }
  if (seeds.size() > max_seeds) seeds.resize(max_seeds);
  // Inputs that every reader must survive, seeds or not.
  const std::vector<std::string> builtin = {"",        std::string(1, '\0'), "\xff\xfe\x00\x01",
                                            "data_\n", "1\n\nX 0 0 0\n",     "<?xml?><a>"};
  size_t runs = 0;
  for (const std::string& s : builtin) {
    Run(s);
    ++runs;
  }
  std::mt19937 rng(12345);
  for (const fs::path& p : seeds) {
    std::ifstream in(p, std::ios::binary);
    const std::string seed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Run(seed);
    ++runs;
    for (int m = 0; m < mutations && !seed.empty(); ++m) {
      std::string x = seed;
      std::uniform_int_distribution<size_t> pos(0, x.size() - 1);
      switch (m % 4) {
        case 0:  // truncate
          x.resize(pos(rng));
          break;
        case 1:  // flip a few bytes
          for (int k = 0; k < 4; ++k) x[pos(rng)] = static_cast<char>(rng());
          break;
        case 2:  // duplicate a chunk
          x.insert(pos(rng), x.substr(pos(rng), 64));
          break;
        default:  // replace a digit with a troublesome token
          for (char& c : x) {
            if (c >= '0' && c <= '9' && rng() % 50 == 0) c = "-.e9n"[rng() % 5];
          }
      }
      Run(x);
      ++runs;
    }
  }
  std::printf("replay: %zu seeds, %zu inputs, no crash\n", seeds.size(), runs);
  return 0;
}
