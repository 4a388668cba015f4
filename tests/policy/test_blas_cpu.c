// OpenBLAS's kernel set fitted to the CPU before main: chosen from the instruction sets
// unless the user named one (OPENBLAS_CORETYPE, set by the second ctest entry), and sgemm
// still right after the switch (against plain loops).
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cblas.h>
#include <cmocka.h>

#include "nfp/layers.h"
#include "nfp/rng.h"

static const char* user_choice;  // OPENBLAS_CORETYPE as the process started

// Before the library's own start-up choice (priority 101 runs before default constructors),
// which sets OPENBLAS_CORETYPE for child processes when it chooses.
__attribute__((constructor(101))) static void read_user_choice(void) {
  user_choice = getenv("OPENBLAS_CORETYPE");
}

static void test_fit_follows_cpu_or_user(void** state) {
  (void)state;
  const char* core = nfp_blas_core();  // the library chose before main
  if (user_choice) {
    assert_false(nfp_blas_core_fitted());  // the user's choice stands
    assert_string_equal(core, user_choice);
  } else {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
      assert_string_not_equal(core, "Prescott");  // not the generic SSE3 kernels
    }
  }
  // Calling it again changes nothing.
  int fitted = nfp_blas_core_fitted();
  assert_string_equal(nfp_blas_fit_cpu(), core);
  assert_int_equal(nfp_blas_core_fitted(), fitted);
}

// C[m,n] = A[m,k] B (B [k,n], or [n,k] transposed) by the kernels in use, against loops.
static void check_sgemm(int m, int n, int k, int trans_b) {
  float* a = malloc(sizeof(float) * (size_t)m * k);
  float* b = malloc(sizeof(float) * (size_t)k * n);
  float* c = malloc(sizeof(float) * (size_t)m * n);
  assert_non_null(a);
  assert_non_null(b);
  assert_non_null(c);
  nfp_rng rng;
  nfp_rng_seed(&rng, (uint64_t)(m * 131 + n * 7 + k));
  for (int i = 0; i < m * k; i++) a[i] = (float)nfp_rng_normal(&rng);
  for (int i = 0; i < k * n; i++) b[i] = (float)nfp_rng_normal(&rng);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k, 1.0f,
              a, k, b, trans_b ? k : n, 0.0f, c, n);
  for (int i = 0; i < m; i++) {
    for (int j = 0; j < n; j++) {
      double s = 0.0, mag = 0.0;
      for (int p = 0; p < k; p++) {
        double bv = trans_b ? b[j * k + p] : b[p * n + j];
        s += (double)a[i * k + p] * bv;
        mag += fabs((double)a[i * k + p] * bv);
      }
      assert_true(fabs(c[i * n + j] - s) <= 1e-5 * mag + 1e-6);
    }
  }
  free(a);
  free(b);
  free(c);
}

static void test_sgemm_after_fit(void** state) {
  (void)state;
  nfp_blas_fit_cpu();
  check_sgemm(1, 1, 1, 0);
  check_sgemm(7, 13, 5, 0);
  check_sgemm(128, 96, 200, 0);   // a training batch through a layer
  check_sgemm(33, 257, 129, 1);   // ragged edges of the kernels' tiles, B transposed
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fit_follows_cpu_or_user),
      cmocka_unit_test(test_sgemm_after_fit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
