// The nfp train command on a tiny synthetic demo folder: a loadable checkpoint and a PNG
// curve, resume, and clear failures (missing folder, no episodes, corrupt file) that leave
// an existing checkpoint untouched.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "nfp/checkpoint.h"
#include "nfp/demo.h"
#include "nfp/error.h"

static char root[64];

static void path_in(char* out, size_t size, const char* name) {
  snprintf(out, size, "%s/%s", root, name);
}

// Run `nfp ARGS` with stdout dropped and stderr kept in root/err.txt; the exit code.
static int nfp(const char* args) {
  char cmd[2048];
  snprintf(cmd, sizeof(cmd), "'%s' %s >/dev/null 2>'%s/err.txt'", NFP_EXE, args, root);
  int st = system(cmd);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int err_has(const char* text) {
  char p[128], buf[4096] = "";
  path_in(p, sizeof(p), "err.txt");
  FILE* f = fopen(p, "r");
  if (!f) return 0;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  buf[n] = '\0';
  fclose(f);
  if (!strstr(buf, text)) printf("stderr was: %s\n", buf);
  return strstr(buf, text) != NULL;
}

static char* slurp(const char* path, size_t* n) {
  FILE* f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char* b = malloc((size_t)len + 1);
  *n = fread(b, 1, (size_t)len, f);
  fclose(f);
  return b;
}

static void write_demo(const char* dir, int i) {
  nfp_episode ep = {0};
  assert_int_equal(nfp_episode_alloc(&ep, 40, 14, 0, 0, 0), 0);
  snprintf(ep.task, sizeof(ep.task), "synthetic");
  ep.seed = i;
  ep.control_hz = 16.7;
  ep.success = 1;
  for (int t = 0; t < ep.T; t++)
    for (int j = 0; j < 14; j++) {
      ep.qpos[t * 14 + j] = 0.3 * sin(0.1 * t + 0.5 * j + 0.2 * i);
      ep.qvel[t * 14 + j] = 0.0;
      ep.action[t * 14 + j] = 0.3 * sin(0.1 * (t + 1) + 0.5 * j + 0.2 * i);
    }
  char p[128];
  snprintf(p, sizeof(p), "%s/episode_%06d.hdf5", dir, i);
  assert_int_equal(nfp_demo_write(p, &ep), 0);
  nfp_episode_free(&ep);
}

static const char* tiny = "--epochs 3 --batch 16 --hidden 16 --layers 2 --context 8 --threads 1";

static void test_train_writes_checkpoint_and_curve(void** state) {
  (void)state;
  char demos[128], out[128], png[128], args[1024];
  path_in(demos, sizeof(demos), "demos");
  path_in(out, sizeof(out), "p.safetensors");
  path_in(png, sizeof(png), "p.curve.png");
  assert_int_equal(mkdir(demos, 0755), 0);
  for (int i = 0; i < 3; i++) write_demo(demos, i);

  snprintf(args, sizeof(args), "train --data %s --out %s %s", demos, out, tiny);
  assert_int_equal(nfp(args), 0);
  nfp_meta meta = {0};
  nfp_model* m = nfp_checkpoint_load(out, NULL, &meta);
  if (!m) printf("%s\n", nfp_error_last());
  assert_non_null(m);
  assert_int_equal(m->cfg.hidden, 16);
  assert_int_equal(m->cfg.n_layers, 2);
  assert_true(m->action_hi[0] - m->action_lo[0] < 1.0f);  // statistics set from the demos
  assert_non_null(nfp_meta_get(&meta, "train_config"));
  assert_non_null(strstr(nfp_meta_get(&meta, "train_state"), "\"epoch\":3"));
  nfp_meta_free(&meta);
  nfp_model_free(m);

  size_t n = 0;
  char* b = slurp(png, &n);
  assert_non_null(b);
  assert_true(n > 8);
  assert_memory_equal(b, "\x89PNG\r\n\x1a\n", 8);
  free(b);

  // Resume to five epochs into a second file.
  char out2[128];
  path_in(out2, sizeof(out2), "p2.safetensors");
  snprintf(args, sizeof(args), "train --data %s --out %s --resume %s --epochs 5 --threads 1",
           demos, out2, out);
  assert_int_equal(nfp(args), 0);
  m = nfp_checkpoint_load(out2, NULL, &meta);
  assert_non_null(m);
  assert_non_null(strstr(nfp_meta_get(&meta, "train_state"), "\"epoch\":5"));
  nfp_meta_free(&meta);
  nfp_model_free(m);
  // Architecture flags cannot change on resume.
  snprintf(args, sizeof(args), "train --data %s --out %s --resume %s --hidden 32", demos, out2,
           out);
  assert_int_equal(nfp(args), 1);
  assert_true(err_has("architecture"));
}

static void test_bad_input_keeps_checkpoint(void** state) {
  (void)state;
  char out[128], args[1024], dir[128];
  path_in(out, sizeof(out), "p.safetensors");
  size_t n0 = 0, n1 = 0;
  char* before = slurp(out, &n0);
  assert_non_null(before);

  // Missing folder.
  snprintf(args, sizeof(args), "train --data %s/nowhere --out %s %s", root, out, tiny);
  assert_int_equal(nfp(args), 1);
  assert_true(err_has("nowhere"));

  // A folder without episodes.
  path_in(dir, sizeof(dir), "empty");
  assert_int_equal(mkdir(dir, 0755), 0);
  snprintf(args, sizeof(args), "train --data %s --out %s %s", dir, out, tiny);
  assert_int_equal(nfp(args), 1);
  assert_true(err_has("empty"));

  // A corrupt episode among good ones: the message names it.
  path_in(dir, sizeof(dir), "bad");
  assert_int_equal(mkdir(dir, 0755), 0);
  write_demo(dir, 0);
  char bad[160];
  snprintf(bad, sizeof(bad), "%s/episode_000001.hdf5", dir);
  FILE* f = fopen(bad, "wb");
  assert_non_null(f);
  fputs("this is not an HDF5 file", f);
  fclose(f);
  snprintf(args, sizeof(args), "train --data %s --out %s %s", dir, out, tiny);
  assert_int_equal(nfp(args), 1);
  assert_true(err_has("episode_000001.hdf5"));

  // Bad flags, and an output folder that does not exist.
  snprintf(args, sizeof(args), "train --data %s --out %s --epochs 0", dir, out);
  assert_int_equal(nfp(args), 2);
  snprintf(args, sizeof(args), "train --data %s --out %s/no/such/p.safetensors", dir, root);
  assert_int_equal(nfp(args), 1);
  assert_true(err_has("does not exist"));
  assert_int_equal(nfp("train --help"), 0);

  char* after = slurp(out, &n1);
  assert_non_null(after);
  assert_int_equal(n0, n1);
  assert_memory_equal(before, after, n0);
  free(before);
  free(after);
}

int main(void) {
  snprintf(root, sizeof(root), "/tmp/nfp_train_cli_XXXXXX");
  if (!mkdtemp(root)) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_train_writes_checkpoint_and_curve),
      cmocka_unit_test(test_bad_input_keeps_checkpoint),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", root);
  return rc;
}
