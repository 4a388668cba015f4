// nfp bench, image encoders: the JSON report has every figure for both kinds, the PyTorch
// twin has the same parameter counts, and the flags refuse what makes no sense. nfp bench
// --bridge: every round trip (state-only, raw and JPEG frames, both transports) and the
// JPEG frame's bytes. No timing asserts (a shared 2-core machine), only that the figures
// are real measurements.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "cli_util.h"
#include "json_util.h"
#include "nfp/layers.h"

static cli_result r;

static double num(const cJSON* o, const char* key) {
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!cJSON_IsNumber(v)) fail_msg("JSON field '%s' missing or not a number", key);
  return v->valuedouble;
}

// A timing: finite and positive.
static double timing(const cJSON* o, const char* key) {
  double v = num(o, key);
  if (!(isfinite(v) && v > 0.0)) fail_msg("%s = %g is not a measurement", key, v);
  return v;
}

// The encoders-only report of `args` (a --json FILE is added), with our figures checked.
static cJSON* bench(const char* name, const char* args) {
  char json[400], cmd[1024];
  snprintf(json, sizeof(json), "%s/%s.json", cli_tmpdir, name);
  snprintf(cmd, sizeof(cmd), "bench --encoders-only --repeats 5 --encoder-train-repeats 1 %s "
           "--json '%s'", args, json);
  if (cli_run(&r, "", cmd) != 0) fail_msg("nfp %s: exit %d\n%s\n%s", cmd, r.code, r.out, r.err);
  cJSON* root = json_read_report(json);
  assert_null(cJSON_GetObjectItemCaseSensitive(root, "single_ms"));  // no flow models asked
  const cJSON* encs = cJSON_GetObjectItemCaseSensitive(root, "encoders");
  assert_int_equal(cJSON_GetArraySize(encs), 2);
  const char* kinds[2] = {"resnet18", "cnn"};
  double enc_params[2];
  for (int i = 0; i < 2; i++) {
    const cJSON* e = cJSON_GetArrayItem(encs, i);
    const cJSON* kind = cJSON_GetObjectItemCaseSensitive(e, "encoder");
    assert_true(cJSON_IsString(kind));
    assert_string_equal(kind->valuestring, kinds[i]);
    assert_int_equal((int)num(e, "img_h"), 56);
    assert_int_equal((int)num(e, "img_w"), 72);
    assert_int_equal((int)num(e, "n_cam"), 1);
    assert_int_equal((int)num(e, "train_batch"), 64);
    enc_params[i] = num(e, "encoder_params");
    assert_true(enc_params[i] > 0 && enc_params[i] < num(e, "params"));
    double med = timing(e, "encode_ms"), p99 = timing(e, "encode_p99_ms");
    assert_true(p99 >= med);
    double step = timing(e, "train_step_ms"), sps = timing(e, "train_samples_per_s");
    assert_true(fabs(sps * step * 1e-3 - 64.0) < 0.01 * 64.0);
    timing(e, "encode_cpu_ms");
    timing(e, "train_cpu_samples_per_s");
  }
  // ResNet18's trunk alone is 11.2 M parameters; the small CNN's 0.08 M
  assert_true(enc_params[0] > 11.1e6 && enc_params[1] < enc_params[0] / 10);
  return root;
}

static void test_encoders_with_peer(void** state) {
  (void)state;
  cJSON* root = bench("peer", "");
  const cJSON* torch = cJSON_GetObjectItemCaseSensitive(root, "torch");
  if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(torch, "available"))) {
    const cJSON* why = cJSON_GetObjectItemCaseSensitive(torch, "reason");
    print_message("PyTorch peer not available: %s\n", cJSON_IsString(why) ? why->valuestring : "?");
    cJSON_Delete(root);
    skip();
  }
  const cJSON* encs = cJSON_GetObjectItemCaseSensitive(root, "encoders");
  for (int i = 0; i < 2; i++) {
    const cJSON* e = cJSON_GetArrayItem(encs, i);
    // the same network on both sides
    assert_true(num(e, "torch_params") == num(e, "params"));
    assert_true(num(e, "torch_encoder_params") == num(e, "encoder_params"));
    double t_enc = timing(e, "torch_encode_ms"), t_sps = timing(e, "torch_train_samples_per_s");
    timing(e, "torch_encode_p99_ms");
    timing(e, "torch_encode_cpu_ms");
    timing(e, "torch_train_cpu_samples_per_s");
    timing(e, "speedup_encode_cpu");
    timing(e, "speedup_train_cpu");
    assert_true(fabs(num(e, "speedup_encode") - t_enc / num(e, "encode_ms")) < 1e-3 * t_enc);
    assert_true(fabs(num(e, "speedup_train") - num(e, "train_samples_per_s") / t_sps) < 1e-2);
    const cJSON* tg = cJSON_GetObjectItemCaseSensitive(e, "targets");
    const cJSON* enc_met = cJSON_GetObjectItemCaseSensitive(tg, "encode_ge_torch");
    const cJSON* train_met = cJSON_GetObjectItemCaseSensitive(tg, "train_ge_torch");
    assert_true(cJSON_IsBool(enc_met) && cJSON_IsBool(train_met));
    assert_int_equal(cJSON_IsTrue(enc_met), num(e, "speedup_encode") >= 1.0);
    assert_int_equal(cJSON_IsTrue(train_met), num(e, "speedup_train") >= 1.0);
  }
  assert_non_null(strstr(r.out, "resnet18 encoder model"));
  assert_non_null(strstr(r.out, "targets (cnn encoder)"));
  cJSON_Delete(root);
}

static void test_encoders_no_torch(void** state) {
  (void)state;
  cJSON* root = bench("no_torch", "--no-torch");
  const cJSON* torch = cJSON_GetObjectItemCaseSensitive(root, "torch");
  assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(torch, "available")));
  assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(torch, "reason")));
  // The kernels OpenBLAS ran, as this process (linked to the same library) runs them.
  const cJSON* blas = cJSON_GetObjectItemCaseSensitive(root, "blas_kernels");
  assert_true(cJSON_IsString(blas));
  assert_string_equal(blas->valuestring, nfp_blas_core());
  assert_true(cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(root, "blas_kernels_chosen_by_nfp")));
  const cJSON* e = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "encoders"), 0);
  assert_null(cJSON_GetObjectItemCaseSensitive(e, "torch_encode_ms"));
  const cJSON* tg = cJSON_GetObjectItemCaseSensitive(e, "targets");
  assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(tg, "encode_ge_torch")));
  assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(tg, "train_ge_torch")));
  cJSON_Delete(root);
}

static void test_bridge(void** state) {
  (void)state;
  char json[400], cmd[600];
  snprintf(json, sizeof(json), "%s/bridge.json", cli_tmpdir);
  snprintf(cmd, sizeof(cmd), "bench --bridge --repeats 100 --jpeg 75 --json '%s'", json);
  if (cli_run(&r, "", cmd) != 0) fail_msg("nfp %s: exit %d\n%s\n%s", cmd, r.code, r.out, r.err);
  cJSON* root = json_read_report(json);
  const char* kinds[] = {"state", "image", "jpeg"};
  for (int k = 0; k < 3; k++) {
    for (int plain = 0; plain < 2; plain++) {
      char p50[64], p99[64];
      snprintf(p50, sizeof(p50), "bridge_%s%s_p50_ms", kinds[k], plain ? "_plain" : "");
      snprintf(p99, sizeof(p99), "bridge_%s%s_p99_ms", kinds[k], plain ? "_plain" : "");
      assert_true(timing(root, p99) >= timing(root, p50));
    }
  }
  assert_int_equal((int)num(root, "jpeg_quality"), 75);
  double raw = num(root, "image_bytes_per_frame"), jpeg = num(root, "jpeg_bytes_per_frame");
  assert_true(raw == 320 * 240 * 3 && jpeg > 0 && jpeg < raw / 4);
  assert_non_null(strstr(r.out, "320x240 JPEG q75"));
  cJSON_Delete(root);
  assert_int_equal(cli_run(&r, "", "bench --bridge --jpeg 0"), 2);
}

static void test_bad_flags(void** state) {
  (void)state;
  assert_int_equal(cli_run(&r, "", "bench --encoders-only --no-encoders"), 2);
  assert_non_null(strstr(r.err, "nothing to measure"));
  assert_int_equal(cli_run(&r, "", "bench --encoder-train-repeats 0"), 2);
  assert_int_equal(cli_run(&r, "", "bench --help"), 0);
  assert_non_null(strstr(r.out, "--encoders-only"));
  assert_non_null(strstr(r.out, "--no-encoders"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_flags),
      cmocka_unit_test(test_encoders_no_torch),
      cmocka_unit_test(test_encoders_with_peer),
      cmocka_unit_test(test_bridge),
  };
  return cmocka_run_group_tests(tests, cli_setup, cli_teardown);
}
