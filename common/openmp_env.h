// Process start-up for the programs that run LibTorch work (mmtrain, mmserver, mmbench).
#ifndef MATALIGN_COMMON_OPENMP_ENV_H_
#define MATALIGN_COMMON_OPENMP_ENV_H_

namespace matalign {

// OpenMP workers that spin while waiting take the cores from other threads and processes
// (data-parallel ranks, RPC threads, a test runner) and slow everything down many times
// over; they should sleep unless the user chose otherwise. The OpenMP runtime reads
// OMP_WAIT_POLICY when it is loaded, before main, so when the variable is unset this sets it
// to PASSIVE and re-executes the program with the same `argv`. Call it first in main.
// Returns only when the variable was already set, or when the re-exec failed (the program
// then carries on with spinning workers).
void ReexecWithPassiveOpenMpWait(char** argv);

}  // namespace matalign

#endif  // MATALIGN_COMMON_OPENMP_ENV_H_
