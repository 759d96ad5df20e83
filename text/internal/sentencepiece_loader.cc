// Finds SentencePiece: the module libmatalign_sentencepiece.so loaded with RTLD_DEEPBIND
// (see sentencepiece_adapter.h for why), or the directly linked adapter in fuzzing builds.
#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "text/internal/sentencepiece_adapter.h"

namespace matalign::text::internal {
namespace {

constexpr char kModuleName[] = "libmatalign_sentencepiece.so";

struct Loaded {
  const SpBackend* backend = nullptr;
  std::string error;
};

#ifdef MATALIGN_SENTENCEPIECE_DIRECT
Loaded Load() { return {matalign_sentencepiece_backend_v1(), ""}; }
#else
std::string ExecutableDir() {
  std::vector<char> buf(4096);
  ssize_t n = readlink("/proc/self/exe", buf.data(), buf.size() - 1);
  if (n <= 0) return "";
  std::string path(buf.data(), static_cast<size_t>(n));
  return path.substr(0, path.find_last_of('/'));
}

Loaded Load() {
  // $MATALIGN_SENTENCEPIECE_MODULE, then next to the program (../lib, same directory), then
  // the build tree this library was compiled in.
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("MATALIGN_SENTENCEPIECE_MODULE"); env && *env) {
    candidates.push_back(env);
  }
  const std::string exe_dir = ExecutableDir();
  if (!exe_dir.empty()) {
    candidates.push_back(exe_dir + "/../lib/" + kModuleName);
    candidates.push_back(exe_dir + "/" + kModuleName);
  }
  candidates.push_back(MATALIGN_SENTENCEPIECE_MODULE_PATH);
  std::string tried;
  for (const std::string& path : candidates) {
    if (access(path.c_str(), R_OK) != 0) {
      tried += "\n  " + path + ": not found";
      continue;
    }
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (handle == nullptr) {
      tried += "\n  " + path + ": " + dlerror();
      continue;
    }
    using Entry = const SpBackend* (*)();
    auto entry = reinterpret_cast<Entry>(dlsym(handle, "matalign_sentencepiece_backend_v1"));
    if (entry == nullptr) {
      tried += "\n  " + path + ": no matalign_sentencepiece_backend_v1";
      continue;
    }
    return {entry(), ""};  // never unloaded
  }
  return {nullptr, "cannot load the SentencePiece module " + std::string(kModuleName) +
                       " (set MATALIGN_SENTENCEPIECE_MODULE):" + tried};
}
#endif

const Loaded& Get() {
  static const Loaded* loaded = new Loaded(Load());
  return *loaded;
}

}  // namespace

std::string TrainSentencePiece(const SpTrainConfig& config,
                               const std::vector<std::string>& sentences,
                               std::string* serialized_model) {
  const Loaded& l = Get();
  if (l.backend == nullptr) return l.error;
  return l.backend->Train(config, sentences, serialized_model);
}

std::unique_ptr<SpModel> NewSpModel(std::string* error) {
  const Loaded& l = Get();
  if (l.backend == nullptr) {
    *error = l.error;
    return nullptr;
  }
  return l.backend->NewModel();
}

}  // namespace matalign::text::internal
