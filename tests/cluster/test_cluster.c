// The cluster API as a group of one (no launcher): every collective is the identity, the
// shard is everything, and the gather returns this process's bytes.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nfp/cluster.h"

static void test_group_of_one(void** state) {
  (void)state;
  assert_int_equal(nfp_cluster_init(), 0);
  const nfp_cluster* w = nfp_cluster_world();
  assert_int_equal(w->rank, 0);
  assert_int_equal(w->size, 1);
  float f[3] = {1.5f, -2.0f, 3.25f};
  double d[2] = {0.5, 7.0};
  int flag = 3;
  assert_int_equal(nfp_cluster_sum_float(f, 3), 0);
  assert_int_equal(nfp_cluster_sum_double(d, 2), 0);
  assert_int_equal(nfp_cluster_max_int(&flag), 0);
  assert_true(f[0] == 1.5f && f[1] == -2.0f && f[2] == 3.25f);
  assert_true(d[0] == 0.5 && d[1] == 7.0);
  assert_int_equal(flag, 3);
  int lo, hi;
  nfp_cluster_shard(10, &lo, &hi);
  assert_int_equal(lo, 0);
  assert_int_equal(hi, 10);
  nfp_cluster_finalize();
}

static void test_allgather_alone(void** state) {
  (void)state;
  const char mine[] = "seed 7: success";
  void* all = NULL;
  size_t* off = NULL;
  assert_int_equal(nfp_cluster_allgather(mine, sizeof(mine), &all, &off), 0);
  assert_int_equal(off[0], 0);
  assert_int_equal(off[1], sizeof(mine));
  assert_memory_equal(all, mine, sizeof(mine));
  free(all);
  free(off);
  assert_int_equal(nfp_cluster_allgather(NULL, 0, &all, &off), 0);  // nothing to share
  assert_int_equal(off[1], 0);
  free(all);
  free(off);
}

int main(void) {
  // A launcher's variables (this test may itself run under one) would make a group.
  unsetenv("OMPI_COMM_WORLD_SIZE");
  unsetenv("PMI_SIZE");
  unsetenv("PMI_RANK");
  unsetenv("PMIX_SIZE");
  unsetenv("PMIX_RANK");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_group_of_one),
      cmocka_unit_test(test_allgather_alone),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
