#include "common/openmp_env.h"

#include <unistd.h>

#include <cstdlib>

namespace matalign {

void ReexecWithPassiveOpenMpWait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  execv("/proc/self/exe", argv);  // returns only on failure
}

}  // namespace matalign
