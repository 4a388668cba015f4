// AdamW against a hand-computed reference, gradient clipping, the three-stage schedule,
// the EMA, and the curve PNG.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "nfp/train.h"

static void test_adamw_reference(void** state) {
  (void)state;
  // Reference in double precision, written out step by step:
  // step 1: m = 0.1 g, v = 0.001 g^2, mhat = g, vhat = g^2, so the Adam step is lr * sign(g);
  //         decay lr*wd*p = 0.001 p: p = 1 - 0.1 - 0.001 = 0.899, -2 + 0.1 + 0.002 = -1.898.
  // step 2 (g = 0.1, 0.3): m = (0.055, -0.06), v = (0.00025975, 0.001089),
  //         corrections 0.19 and 0.001999: p = 0.817796906, -1.853317142.
  nfp_adamw opt;
  assert_int_equal(nfp_adamw_init(&opt, 3, 0.9f, 0.999f, 1e-8f, 0.01f), 0);
  float p[3] = {1.0f, -2.0f, 1.0f};
  const uint8_t mask[3] = {1, 1, 0};
  float g1[3] = {0.5f, -1.0f, 0.5f}, g2[3] = {0.1f, 0.3f, 0.1f};
  nfp_adamw_step(&opt, p, g1, mask, 0.1f);
  assert_float_equal(p[0], 0.899, 1e-6);
  assert_float_equal(p[1], -1.898, 1e-6);
  assert_float_equal(p[2], 0.9, 1e-6);  // masked: no decay
  nfp_adamw_step(&opt, p, g2, mask, 0.1f);
  assert_float_equal(p[0], 0.817796906, 2e-6);
  assert_float_equal(p[1], -1.853317142, 2e-6);
  assert_int_equal(opt.t, 2);
  assert_float_equal(opt.m[0], 0.055, 1e-7);
  // 1 - 0.999f is only good to ~1e-5 relative in float32.
  assert_float_equal(opt.v[1] * 1e3f, 1.089, 5e-5);
  nfp_adamw_free(&opt);
}

static void test_grad_clip(void** state) {
  (void)state;
  float g[2] = {3.0f, 4.0f};
  assert_float_equal(nfp_grad_clip(g, 2, 10.0f), 5.0, 1e-6);
  assert_float_equal(g[0], 3.0, 1e-6);  // under the limit: untouched
  assert_float_equal(nfp_grad_clip(g, 2, 1.0f), 5.0, 1e-6);
  assert_float_equal(sqrtf(g[0] * g[0] + g[1] * g[1]), 1.0, 1e-5);
  assert_float_equal(g[1] / g[0], 4.0 / 3.0, 1e-5);  // direction kept
}

static void test_schedule_stages(void** state) {
  (void)state;
  nfp_schedule s;
  nfp_schedule_default(&s, 100, 256, 1e-3f);
  assert_int_equal(s.stage[0].epochs + s.stage[1].epochs + s.stage[2].epochs, 100);
  assert_int_equal(s.stage[1].first_epoch, 20);
  assert_int_equal(s.stage[2].first_epoch, 70);
  assert_int_equal(nfp_schedule_stage(&s, 0), 0);
  assert_int_equal(nfp_schedule_stage(&s, 19), 0);
  assert_int_equal(nfp_schedule_stage(&s, 20), 1);
  assert_int_equal(nfp_schedule_stage(&s, 99), 2);
  assert_int_equal(nfp_schedule_batch(&s, 0), 64);
  assert_int_equal(nfp_schedule_batch(&s, 50), 128);
  assert_int_equal(nfp_schedule_batch(&s, 80), 256);
  long late = 100000;  // past the warm-up
  assert_float_equal(nfp_schedule_lr(&s, 5, 0.0f, late), 1e-3, 1e-9);
  assert_float_equal(nfp_schedule_lr(&s, 30, 0.5f, late), 1e-3 / 3.0, 1e-9);
  assert_float_equal(nfp_schedule_lr(&s, 70, 0.0f, late), 1e-4, 1e-9);
  assert_float_equal(nfp_schedule_lr(&s, 99, 1.0f, late), 1e-5, 1e-9);
  assert_true(nfp_schedule_lr(&s, 85, 0.0f, late) < 1e-4);
  assert_true(nfp_schedule_lr(&s, 85, 0.0f, late) > 1e-5);
  // Warm-up ramps linearly to the stage rate.
  assert_float_equal(nfp_schedule_lr(&s, 0, 0.0f, 0), 1e-5, 1e-10);
  assert_float_equal(nfp_schedule_lr(&s, 0, 0.0f, 49), 5e-4, 1e-9);
  // Very short runs still cover every epoch, and stages never overlap.
  for (int epochs = 1; epochs <= 7; epochs++) {
    nfp_schedule_default(&s, epochs, 32, 1e-3f);
    int total = 0;
    for (int k = 0; k < 3; k++) {
      assert_true(s.stage[k].epochs >= 0);
      assert_int_equal(s.stage[k].first_epoch, total);
      total += s.stage[k].epochs;
    }
    assert_int_equal(total, epochs);
    assert_int_equal(nfp_schedule_stage(&s, epochs - 1) >= 0, 1);
  }
}

static void test_ema(void** state) {
  (void)state;
  float w0[2] = {0.0f, 1.0f}, w1[2] = {1.0f, 1.0f};
  nfp_ema ema;
  assert_int_equal(nfp_ema_init(&ema, w0, 2, 0.99f), 0);
  nfp_ema_update(&ema, w1);  // warm-up decay (1+1)/(10+1) = 2/11
  assert_float_equal(ema.w[0], 9.0 / 11.0, 1e-6);
  assert_float_equal(ema.w[1], 1.0, 1e-7);
  for (int i = 0; i < 5000; i++) nfp_ema_update(&ema, w1);
  assert_float_equal(ema.w[0], 1.0, 1e-5);
  nfp_ema_free(&ema);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_adamw_reference), cmocka_unit_test(test_grad_clip),
      cmocka_unit_test(test_schedule_stages), cmocka_unit_test(test_ema),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
