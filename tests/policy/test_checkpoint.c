// Checkpoints: a good one round-trips bit-exactly (and parses in Python); damaged or
// mismatched ones are refused with a message that names the problem.
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fd_util.h"
#include "nfp/checkpoint.h"
#include "nfp/error.h"

static char dir[64];
static char good[128];
static nfp_model_config cfg;

static void small_config(nfp_model_config* c) {
  nfp_model_config_default(c);
  c->action_dim = 3;
  c->horizon = 2;
  c->state_dim = 3;
  c->n_layers = 3;
  c->hidden = 8;
  c->n_blocks = 1;
  c->context_dim = 4;
  c->enc_hidden = 10;
}

static unsigned char* slurp(const char* path, size_t* n) {
  FILE* f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char* b = malloc(*n + 1);
  assert_int_equal(fread(b, 1, *n, f), *n);
  fclose(f);
  return b;
}

static void spit(const char* path, const unsigned char* b, size_t n) {
  FILE* f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(b, 1, n, f), n);
  fclose(f);
}

static nfp_model* make_model(void) {
  nfp_model* m = nfp_model_create(&cfg, 5);
  nfp_rng rng;
  nfp_rng_seed(&rng, 6);
  for (size_t i = 0; i < m->num_params; i++) m->params[i] += (float)nfp_rng_normal(&rng);
  float slo[3] = {-1, -2, 0}, shi[3] = {1, 2, 0.5f}, alo[3] = {-3, 0, 1}, ahi[3] = {3, 1, 2};
  assert_int_equal(nfp_model_set_norm(m, slo, shi, alo, ahi), 0);
  return m;
}

static int setup(void** state) {
  (void)state;
  snprintf(dir, sizeof(dir), "/tmp/nfp_ckpt_XXXXXX");
  if (!mkdtemp(dir)) return -1;
  snprintf(good, sizeof(good), "%s/good.safetensors", dir);
  small_config(&cfg);
  return 0;
}

static int teardown(void** state) {
  (void)state;
  DIR* d = opendir(dir);
  struct dirent* e;
  char p[512];
  while (d && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
    unlink(p);
  }
  if (d) closedir(d);
  rmdir(dir);
  return 0;
}

static void test_round_trip(void** state) {
  (void)state;
  nfp_model* m = make_model();
  nfp_meta meta = {0};
  assert_int_equal(nfp_meta_set(&meta, "train_config", "{\"lr\": 0.0003}"), 0);
  assert_int_equal(nfp_meta_set(&meta, "step", "10"), 0);
  assert_int_equal(nfp_meta_set(&meta, "step", "100"), 0);  // replaces
  float* moments = malloc(sizeof(float) * m->num_params);
  for (size_t i = 0; i < m->num_params; i++) moments[i] = (float)i * 0.5f;
  nfp_extra_tensor extra = {"train.adam.m", 1, {m->num_params}, moments};
  assert_int_equal(nfp_checkpoint_save(good, m, NULL, &meta, &extra, 1), 0);

  nfp_meta back = {0};
  nfp_model* l = nfp_checkpoint_load(good, &cfg, &back);
  assert_non_null(l);
  assert_int_equal(l->num_params, m->num_params);
  assert_memory_equal(l->params, m->params, sizeof(float) * m->num_params);
  assert_memory_equal(l->state_hi, m->state_hi, sizeof(float) * 3);
  assert_memory_equal(l->action_lo, m->action_lo, sizeof(float) * 3);
  assert_int_equal(nfp_model_config_compare(&l->cfg, &cfg), 0);
  assert_string_equal(nfp_meta_get(&back, "step"), "100");
  assert_string_equal(nfp_meta_get(&back, "train_config"), "{\"lr\": 0.0003}");
  assert_null(nfp_meta_get(&back, "config"));  // reserved keys stay internal
  float* m2 = malloc(sizeof(float) * m->num_params);
  assert_int_equal(nfp_checkpoint_read_extra(good, "train.adam.m", m2, m->num_params), 0);
  assert_memory_equal(m2, moments, sizeof(float) * m->num_params);
  assert_int_equal(nfp_checkpoint_read_extra(good, "train.adam.v", m2, m->num_params), -1);

  // no temporary file is left beside the checkpoint
  DIR* d = opendir(dir);
  struct dirent* e;
  while ((e = readdir(d))) assert_null(strstr(e->d_name, ".tmp."));
  closedir(d);

  // reserved metadata keys are refused
  assert_int_equal(nfp_meta_set(&meta, "config", "x"), 0);
  char other[160];
  snprintf(other, sizeof(other), "%s/other.safetensors", dir);
  assert_int_equal(nfp_checkpoint_save(other, m, NULL, &meta, NULL, 0), -1);
  assert_non_null(strstr(nfp_error_last(), "reserved"));

  nfp_meta_free(&meta);
  nfp_meta_free(&back);
  free(moments);
  free(m2);
  nfp_model_free(l);
  nfp_model_free(m);
}

// Python reads it: the safetensors module when installed, else json + struct.
static void test_python_reads(void** state) {
  (void)state;
  if (access("/usr/bin/python3", X_OK) != 0) {
    printf("  /usr/bin/python3 absent: skipped\n");
    return;
  }
  nfp_model* m = nfp_checkpoint_load(good, NULL, NULL);
  assert_non_null(m);
  char cmd[2048];
  snprintf(cmd, sizeof(cmd),
           "/usr/bin/python3 - '%s' %d %.9g <<'EOF'\n"
           "import json, struct, sys\n"
           "path, n, hi = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])\n"
           "try:\n"
           "    from safetensors.numpy import load_file\n"
           "    t = load_file(path)\n"
           "    assert len(t) == n, len(t)\n"
           "    assert abs(float(t['norm.state_hi'][0]) - hi) < 1e-6\n"
           "except ImportError:\n"
           "    b = open(path, 'rb').read()\n"
           "    (size,) = struct.unpack('<Q', b[:8])\n"
           "    h = json.loads(b[8:8 + size])\n"
           "    meta = h.pop('__metadata__')\n"
           "    json.loads(meta['config'])\n"
           "    assert len(h) == n, len(h)\n"
           "    s, e = h['norm.state_hi']['data_offsets']\n"
           "    (v,) = struct.unpack('<f', b[8 + size + s:8 + size + s + 4])\n"
           "    assert abs(v - hi) < 1e-6\n"
           "EOF",
           good, m->table.n + 5, (double)m->state_hi[0]);
  assert_int_equal(system(cmd), 0);
  nfp_model_free(m);
}

// Damage a copy of the good file and expect a refusal naming the problem.
static void expect_refusal(const unsigned char* b, size_t n, const char* what) {
  char bad[160];
  snprintf(bad, sizeof(bad), "%s/bad.safetensors", dir);
  spit(bad, b, n);
  nfp_error_clear();
  nfp_model* m = nfp_checkpoint_load(bad, &cfg, NULL);
  if (m || !strstr(nfp_error_last(), what)) {
    printf("  expected \"%s\", got: %s\n", what, m ? "(loaded)" : nfp_error_last());
  }
  assert_null(m);
  assert_non_null(strstr(nfp_error_last(), what));
}

static void replace_once(unsigned char* b, size_t n, const char* from, const char* to) {
  size_t len = strlen(from);
  assert_int_equal(len, strlen(to));
  for (size_t i = 0; i + len <= n; i++) {
    if (memcmp(b + i, from, len) == 0) {
      memcpy(b + i, to, len);
      return;
    }
  }
  fail_msg("\"%s\" not in the header", from);
}

static void test_refusals(void** state) {
  (void)state;
  size_t n;
  unsigned char* b = slurp(good, &n);
  unsigned char* c = malloc(n);
  uint64_t hsize = 0;
  for (int i = 0; i < 8; i++) hsize |= (uint64_t)b[i] << (8 * i);

  expect_refusal(b, 4, "truncated");
  expect_refusal(b, 8 + hsize - 10, "truncated");
  expect_refusal(b, n - 4, "truncated");

  memcpy(c, b, n);
  memset(c, 0xff, 8);
  expect_refusal(c, n, "bad header size");

  memcpy(c, b, n);
  c[8] = 'X';  // the header's opening brace
  expect_refusal(c, n, "not a valid JSON");

  memcpy(c, b, n);
  c[n - 3] ^= 0x10;  // one flipped bit in the last float: caught by the checksum
  expect_refusal(c, n, "does not match its checksum");

  memcpy(c, b, n);
  replace_once(c, n, "\"shape\":[10,6]", "\"shape\":[6,10]");  // enc.mlp.in.weight
  expect_refusal(c, n, "has shape [6,10], expected [10,6]");

  memcpy(c, b, n);
  replace_once(c, n, "\"format_version\":\"1\"", "\"format_version\":\"7\"");
  expect_refusal(c, n, "unknown format version 7");

  memcpy(c, b, n);
  replace_once(c, n, "\"norm.state_lo\"", "\"norm.state_LO\"");
  expect_refusal(c, n, "missing tensor \"norm.state_lo\"");

  memcpy(c, b, n);
  replace_once(c, n, "\"train.adam.m\"", "\"trainXadam.m\"");
  expect_refusal(c, n, "unexpected tensor \"trainXadam.m\"");

  memcpy(c, b, n);
  replace_once(c, n, "\"F32\"", "\"F16\"");
  expect_refusal(c, n, "expected F32");

  memcpy(c, b, n);
  replace_once(c, n, "\"data_offsets\":[0,", "\"data_offsets\":[4,");
  expect_refusal(c, n, "but its shape needs");

  // the configuration stored must match the one asked for
  nfp_model_config other = cfg;
  other.hidden = 16;
  assert_null(nfp_checkpoint_load(good, &other, NULL));
  assert_non_null(strstr(nfp_error_last(), "configuration mismatch"));
  assert_non_null(strstr(nfp_error_last(), "hidden"));

  assert_null(nfp_checkpoint_load("/nonexistent/x.safetensors", NULL, NULL));
  assert_non_null(strstr(nfp_error_last(), "cannot open"));
  assert_null(nfp_checkpoint_load(dir, NULL, NULL));  // a folder opens, but is no file
  assert_non_null(strstr(nfp_error_last(), "not a regular file"));
  free(b);
  free(c);
}

// A file of one JSON header (with __metadata__ meta, may be "") and n data bytes of value v.
static unsigned char* hand_made(const char* meta, const char* tensors, size_t data, float v,
                                size_t* n) {
  char h[4096];
  snprintf(h, sizeof(h), "{%s%s%s}", meta, *meta ? "," : "", tensors);
  size_t hl = strlen(h);
  *n = 8 + hl + data;
  unsigned char* b = calloc(*n, 1);
  for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
  memcpy(b + 8, h, hl);
  for (size_t i = 0; i + 4 <= data; i += 4) memcpy(b + 8 + hl + i, &v, 4);
  return b;
}

// Element counts that overflow 4 * count once wrapped past the size check (a heap
// overflow before the fix): refused by name, without reading past the buffer.
static void test_hostile_shapes(void** state) {
  (void)state;
  size_t n;
  unsigned char* b = hand_made(
      "", "\"x\":{\"dtype\":\"F32\",\"shape\":[95187068605,48448661],\"data_offsets\":[0,4]}",
      4, 1.0f, &n);
  expect_refusal(b, n, "more elements than the 4-byte data section");
  free(b);
  // 2^62 elements: 4 * count wraps to exactly 0, the span of an empty tensor
  b = hand_made("",
                "\"x\":{\"dtype\":\"F32\",\"shape\":[2147483648,2147483648],"
                "\"data_offsets\":[0,0]},\"y\":{\"dtype\":\"F32\",\"shape\":[1],"
                "\"data_offsets\":[0,4]}",
                4, 1.0f, &n);
  expect_refusal(b, n, "more elements than");
  free(b);
  b = hand_made("", "\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", 8, NAN,
                &n);
  expect_refusal(b, n, "non-finite");
  free(b);
  const char* one = "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}";
  b = hand_made("\"__metadata__\":{\"nfp.data_crc32\":\"zzzzzzzz\"}", one, 4, 1.0f, &n);
  expect_refusal(b, n, "is not 8 hex digits");
  free(b);
  b = hand_made("\"__metadata__\":{\"nfp.data_crc32\":\"00000000\"}", one, 4, 1.0f, &n);
  expect_refusal(b, n, "does not match its checksum");
  free(b);
  // a repeated block wrote past the second, smaller key array (found by libFuzzer)
  b = hand_made("\"__metadata__\":{\"a\":\"1\",\"b\":\"2\"},\"__metadata__\":{\"c\":\"3\"}", one,
                4, 1.0f, &n);
  expect_refusal(b, n, "__metadata__ appears twice");
  free(b);
}

// A config asking for a model far larger than the file must be refused before the
// weights are allocated (hidden 8192 x 64 layers would be tens of gigabytes).
static void test_hostile_config(void** state) {
  (void)state;
  nfp_model_config big = cfg;
  big.hidden = 8192;
  big.n_layers = 64;
  big.n_blocks = 8;
  char* json = nfp_model_config_to_json(&big);
  assert_non_null(json);
  char meta[4096], quoted[2048];
  size_t q = 0;
  for (const char* p = json; *p && q + 2 < sizeof(quoted); p++) {
    if (*p == '"') quoted[q++] = '\\';
    quoted[q++] = *p;
  }
  quoted[q] = '\0';
  free(json);
  snprintf(meta, sizeof(meta),
           "\"__metadata__\":{\"format\":\"nfp-policy\",\"format_version\":\"1\","
           "\"config\":\"%s\"}", quoted);
  size_t n;
  unsigned char* b =
      hand_made(meta, "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 4,
                1.0f, &n);
  char bad[160];
  snprintf(bad, sizeof(bad), "%s/big.safetensors", dir);
  spit(bad, b, n);
  assert_null(nfp_checkpoint_load(bad, NULL, NULL));
  assert_non_null(strstr(nfp_error_last(), "more than the 1 available"));
  free(b);
}

// Overlapping tensors in a hand-made file (same sizes, so only the overlap is wrong).
static void test_overlap(void** state) {
  (void)state;
  const char* h =
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
  size_t hl = strlen(h), n = 8 + hl + 12;
  unsigned char* b = calloc(n, 1);
  for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
  memcpy(b + 8, h, hl);
  expect_refusal(b, n, "overlaps");
  free(b);
}

// One read: model, metadata and extra tensors all come from the checkpoint in memory, so
// they agree even after the file is gone (or replaced).
static void test_read_once(void** state) {
  (void)state;
  nfp_model* m = make_model();
  nfp_meta meta = {0};
  assert_int_equal(nfp_meta_set(&meta, "train_state", "{\"epoch\":3}"), 0);
  float hist[3] = {1, 2, 3};
  nfp_extra_tensor extra = {"train.hist_val", 1, {3}, hist};
  char path[160];
  snprintf(path, sizeof(path), "%s/once.safetensors", dir);
  assert_int_equal(nfp_checkpoint_save(path, m, NULL, &meta, &extra, 1), 0);
  nfp_checkpoint* ck = nfp_checkpoint_read(path);
  assert_non_null(ck);
  assert_int_equal(unlink(path), 0);
  assert_string_equal(nfp_checkpoint_path(ck), path);
  nfp_meta back = {0};
  nfp_model* l = nfp_checkpoint_model(ck, &cfg, &back);
  assert_non_null(l);
  assert_memory_equal(l->params, m->params, sizeof(float) * m->num_params);
  assert_string_equal(nfp_meta_get(&back, "train_state"), "{\"epoch\":3}");
  float got[3];
  assert_true(nfp_checkpoint_has_extra(ck, "train.hist_val"));
  assert_false(nfp_checkpoint_has_extra(ck, "train.best_params"));
  assert_false(nfp_checkpoint_has_extra(ck, "norm.state_lo"));  // not an extra
  assert_int_equal(nfp_checkpoint_extra(ck, "train.hist_val", got, 3), 0);
  assert_memory_equal(got, hist, sizeof(hist));
  assert_int_equal(nfp_checkpoint_extra(ck, "train.hist_val", got, 2), -1);
  assert_non_null(strstr(nfp_error_last(), "has 3 values, expected 2"));
  assert_int_equal(nfp_checkpoint_extra(ck, "train.best_params", got, 3), -1);
  assert_non_null(strstr(nfp_error_last(), "no extra tensor"));
  nfp_checkpoint_free(ck);
  nfp_checkpoint_free(NULL);
  assert_null(nfp_checkpoint_read(path));  // gone
  assert_non_null(strstr(nfp_error_last(), "cannot open"));
  nfp_meta_free(&meta);
  nfp_meta_free(&back);
  nfp_model_free(l);
  nfp_model_free(m);
}

// Checkpoints get the permission bits of the user's umask, like every other output.
static void test_mode_follows_umask(void** state) {
  (void)state;
  nfp_model* m = make_model();
  char path[160];
  snprintf(path, sizeof(path), "%s/mode.safetensors", dir);
  const mode_t masks[2] = {022, 077}, want[2] = {0644, 0600};
  for (int i = 0; i < 2; i++) {
    mode_t old = umask(masks[i]);
    assert_int_equal(nfp_checkpoint_save(path, m, NULL, NULL, NULL, 0), 0);
    umask(old);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, want[i]);
  }
  nfp_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_python_reads),
      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_overlap),
      cmocka_unit_test(test_hostile_shapes),
      cmocka_unit_test(test_hostile_config),
      cmocka_unit_test(test_read_once),
      cmocka_unit_test(test_mode_follows_umask),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
