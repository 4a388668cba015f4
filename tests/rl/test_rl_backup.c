// The chunked n-step backup on hand-made chains: discounted sums over the executed steps,
// the terminal flag on a success only, and the bootstrapped target.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "nfp/rl.h"

// 10 steps in chunks starting at 0, 4, 8; success at step 6 (reward there), terminal.
static void test_success_chain(void** state) {
  (void)state;
  float reward[10] = {0, 0, 0, 0, 0, 0, 1, 0, 0, 0};
  int start[3] = {0, 4, 8};
  float ret[3], disc[3], done[3];
  double g = 0.9;
  nfp_backup_chunks(ret, disc, done, reward, 7, 1, start, 2, g);  // the episode ends at step 6
  assert_float_equal(ret[0], 0.0f, 1e-7);
  assert_float_equal(disc[0], (float)pow(g, 4), 1e-7);
  assert_float_equal(done[0], 0.0f, 0);
  assert_float_equal(ret[1], (float)pow(g, 2), 1e-7);  // steps 4, 5, 6: reward at k = 2
  assert_float_equal(disc[1], (float)pow(g, 3), 1e-7);
  assert_float_equal(done[1], 1.0f, 0);
  // y = ret + disc (1 - done) q_next: the terminal chunk ignores the next value
  float q_next[2] = {0.5f, 100.0f}, y[2];
  nfp_backup_targets(y, ret, disc, done, NULL, q_next, 2);
  assert_float_equal(y[0], (float)(pow(g, 4) * 0.5), 1e-6);
  assert_float_equal(y[1], (float)pow(g, 2), 1e-6);
  // observed returns to the end: g^2 after chunk 1's start, g^4 g^2 from chunk 0's
  float mc[2];
  nfp_backup_returns(mc, ret, disc, 2);
  assert_float_equal(mc[1], (float)pow(g, 2), 1e-6);
  assert_float_equal(mc[0], (float)pow(g, 6), 1e-6);
  // they floor a target the critic underestimates, and leave a higher one alone
  float low[2] = {0.0f, 0.0f}, high[2] = {1.0f, 0.0f};
  nfp_backup_targets(y, ret, disc, done, mc, low, 2);
  assert_float_equal(y[0], (float)pow(g, 6), 1e-6);
  nfp_backup_targets(y, ret, disc, done, mc, high, 2);
  assert_float_equal(y[0], (float)pow(g, 4), 1e-6);
  (void)start[2];
}

// Stopped by the step cap: no reward, nothing terminal, the last chunk bootstraps.
static void test_step_cap_not_terminal(void** state) {
  (void)state;
  float reward[10] = {0};
  int start[3] = {0, 4, 8};
  float ret[3], disc[3], done[3];
  nfp_backup_chunks(ret, disc, done, reward, 10, 0, start, 3, 0.5);
  for (int i = 0; i < 3; i++) {
    assert_float_equal(ret[i], 0.0f, 0);
    assert_float_equal(done[i], 0.0f, 0);
  }
  assert_float_equal(disc[2], 0.25f, 1e-7);  // the short last chunk: two steps
  float q_next[3] = {1, 1, 0.8f}, y[3];
  nfp_backup_targets(y, ret, disc, done, NULL, q_next, 3);
  assert_float_equal(y[2], 0.2f, 1e-7);
  assert_float_equal(y[0], 0.0625f, 1e-7);
  // the observed return floors the target: nothing was observed here (0), so no change
  float mc[3];
  nfp_backup_returns(mc, ret, disc, 3);
  for (int i = 0; i < 3; i++) assert_float_equal(mc[i], 0.0f, 0);
}

// Rewards summed with their own discount inside one chunk; gamma 1 leaves them plain.
static void test_sums_inside_chunk(void** state) {
  (void)state;
  float reward[5] = {1, 2, 3, 4, 5};
  int start[1] = {0};
  float ret, disc, done;
  nfp_backup_chunks(&ret, &disc, &done, reward, 5, 1, start, 1, 0.5);
  assert_float_equal(ret, 1 + 1 + 0.75 + 0.5 + 0.3125, 1e-6);
  assert_float_equal(disc, 0.03125f, 1e-7);
  nfp_backup_chunks(&ret, &disc, &done, reward, 5, 0, start, 1, 1.0);
  assert_float_equal(ret, 15.0f, 0);
  assert_float_equal(disc, 1.0f, 0);
  assert_float_equal(done, 0.0f, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_success_chain),
      cmocka_unit_test(test_step_cap_not_terminal),
      cmocka_unit_test(test_sums_inside_chunk),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
