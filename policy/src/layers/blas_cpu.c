// OpenBLAS's kernel set, chosen again from the CPU's instruction sets when OpenBLAS did not
// recognise the CPU (see nfp/layers.h, section blas), before main in every program that
// links the policy library (its CMake target makes the linker keep this file).
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "nfp/layers.h"

// OpenBLAS's run-time kernel choice (builds with DYNAMIC_ARCH, as Debian's): forget the
// choice, and make it again (reading OPENBLAS_CORETYPE). Weak, so a BLAS without them (a
// single-target OpenBLAS) links and nfp_blas_fit_cpu leaves it alone.
extern void gotoblas_dynamic_quit(void) __attribute__((weak));
extern void gotoblas_dynamic_init(void) __attribute__((weak));

static int fitted;  // did nfp_blas_fit_cpu change the choice?

// The CPU's instruction sets (the OS saving their registers) -> the newest OpenBLAS kernel set
// for them that OpenBLAS 0.3.21 has, or NULL. The order of OpenBLAS's own fallback for CPUs it
// does not know (in releases after 0.3.21).
static const char* kernels_for_cpu(void) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512cd")) {
    return "SkylakeX";
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  if (__builtin_cpu_supports("avx")) return "Sandybridge";
#endif
  return NULL;
}

const char* nfp_blas_core(void) {
  const char* name = openblas_get_corename();
  return name && *name ? name : "unknown";
}

int nfp_blas_core_fitted(void) { return fitted; }

const char* nfp_blas_fit_cpu(void) {
  // Prescott (SSE3) is OpenBLAS 0.3.21's answer for an x86-64 CPU it does not know.
  if (getenv("OPENBLAS_CORETYPE") || strcmp(nfp_blas_core(), "Prescott") != 0 ||
      !gotoblas_dynamic_quit || !gotoblas_dynamic_init) {
    return nfp_blas_core();
  }
  const char* want = kernels_for_cpu();
  if (!want) return nfp_blas_core();
  // Set for good: child processes (the PyTorch peer of nfp bench, linked to the same
  // OpenBLAS) then run the same kernels, so comparisons stay like with like.
  if (setenv("OPENBLAS_CORETYPE", want, 0) != 0) return nfp_blas_core();
  gotoblas_dynamic_quit();
  gotoblas_dynamic_init();
  fitted = strcmp(nfp_blas_core(), "Prescott") != 0;
  return nfp_blas_core();
}

// Before main: after OpenBLAS's own start (a library the program depends on starts first),
// before any thread of the program's own can run BLAS.
__attribute__((constructor)) static void fit_at_start(void) { nfp_blas_fit_cpu(); }
