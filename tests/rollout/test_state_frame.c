// The state frame: joints alone, joints then object state, and a clear refusal when the
// policy's state size fits neither.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "nfp/agent.h"
#include "nfp/error.h"

static void test_frames(void** state) {
  (void)state;
  const double q[3] = {1, 2, 3}, obj[2] = {7, 8};
  double out[5] = {0};
  assert_int_equal(nfp_state_frame(out, 3, q, 3, obj, 2, "rig"), 0);
  assert_memory_equal(out, q, sizeof(q));
  assert_int_equal(nfp_state_frame(out, 5, q, 3, obj, 2, "rig"), 0);
  const double want[5] = {1, 2, 3, 7, 8};
  assert_memory_equal(out, want, sizeof(want));
  assert_int_equal(nfp_state_frame(out, 4, q, 3, obj, 2, "sim:lift_pot"), -1);
  assert_non_null(strstr(nfp_error_last(), "observes 4 state values per frame, but sim:lift_pot "
                                           "gives 3 joints and 2 object values"));
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_frames)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
