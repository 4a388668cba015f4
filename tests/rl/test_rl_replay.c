// The replay buffer: growth past its first capacity, and a save / load round trip through a
// checkpoint bit for bit; impossible values in a file are refused.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "nfp/checkpoint.h"
#include "nfp/rl.h"

static nfp_model* tiny_model(void) {
  nfp_model_config cfg;
  nfp_model_config_default(&cfg);
  cfg.action_dim = 2;
  cfg.horizon = 2;
  cfg.state_dim = 2;
  cfg.n_layers = 2;
  cfg.hidden = 8;
  cfg.n_blocks = 1;
  cfg.context_dim = 4;
  cfg.enc_hidden = 8;
  return nfp_model_create(&cfg, 1);
}

// n rows of distinct values; episodes of 7 rows, sources in order demo, offline, online.
static void fill(nfp_replay* r, int n) {
  float obs[4], next[4], chunk[4];
  for (int i = 0; i < n; i++) {
    for (int j = 0; j < 4; j++) {
      obs[j] = (float)(i * 4 + j) * 0.001f;
      next[j] = -obs[j];
      chunk[j] = obs[j] * 3.0f + 0.1f;
    }
    nfp_replay_source src = i < n / 3       ? NFP_REPLAY_DEMO
                            : i < 2 * n / 3 ? NFP_REPLAY_OFFLINE
                                            : NFP_REPLAY_ONLINE;
    assert_int_equal(nfp_replay_add(r, obs, next, chunk, (float)i / n, 0.9f, (float)(i % 7 == 6),
                                    (float)i / (2 * n), src, i / 7, (i / 7) % 2),
                     0);
  }
}

static void test_round_trip(void** state) {
  (void)state;
  char dir[] = "/tmp/nfp_test_replay_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof(path), "%s/buffer.safetensors", dir);
  nfp_model* m = tiny_model();
  nfp_replay r, back;
  assert_int_equal(nfp_replay_init(&r, 4, 4), 0);
  fill(&r, 3000);  // past the first capacity of 1024
  assert_int_equal(r.n, 3000);
  assert_int_equal(nfp_replay_episodes(&r), 3000 / 7 + 1);
  nfp_extra_tensor t[NFP_REPLAY_TENSORS];
  nfp_replay_tensors(&r, t);
  assert_int_equal(nfp_checkpoint_save(path, m, NULL, NULL, t, NFP_REPLAY_TENSORS), 0);
  nfp_checkpoint* ck = nfp_checkpoint_read(path);
  assert_non_null(ck);
  assert_int_equal(nfp_replay_init(&back, 4, 4), 0);
  assert_int_equal(nfp_replay_load(&back, ck, 3000), 0);
  assert_int_equal(back.n, 3000);
  assert_memory_equal(back.obs, r.obs, sizeof(float) * 3000 * 4);
  assert_memory_equal(back.next_obs, r.next_obs, sizeof(float) * 3000 * 4);
  assert_memory_equal(back.chunk, r.chunk, sizeof(float) * 3000 * 4);
  float* cols[2][7] = {
      {r.ret, r.disc, r.done, r.mc, r.source, r.episode, r.success},
      {back.ret, back.disc, back.done, back.mc, back.source, back.episode, back.success}};
  for (int c = 0; c < 7; c++) assert_memory_equal(cols[0][c], cols[1][c], sizeof(float) * 3000);
  // asking for more rows than the file holds is refused
  assert_int_equal(nfp_replay_load(&back, ck, 3001), -1);
  nfp_checkpoint_free(ck);
  // a source no run writes is refused on load
  r.source[10] = 7.0f;
  nfp_replay_tensors(&r, t);
  assert_int_equal(nfp_checkpoint_save(path, m, NULL, NULL, t, NFP_REPLAY_TENSORS), 0);
  ck = nfp_checkpoint_read(path);
  assert_int_equal(nfp_replay_load(&back, ck, 3000), -1);
  assert_int_equal(back.n, 0);
  nfp_checkpoint_free(ck);
  nfp_replay_free(&r);
  nfp_replay_free(&back);
  nfp_model_free(m);
  unlink(path);
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
