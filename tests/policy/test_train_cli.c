// The nfp train command on a tiny synthetic demo folder: a loadable checkpoint and a PNG
// curve, resume, and clear failures (missing folder, no episodes, corrupt file) that leave
// an existing checkpoint untouched; metrics as JSON lines, nfp export --weights best|last,
// Ctrl-C saving a resumable checkpoint, output modes that follow the umask.
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <cjson/cJSON.h>

#include "nfp/checkpoint.h"
#include "nfp/demo.h"
#include "nfp/error.h"

static char root[64];

static void path_in(char* out, size_t size, const char* name) {
  snprintf(out, size, "%s/%s", root, name);
}

// Run `PREFIX nfp ARGS` through the shell with stdout kept in root/out.txt and stderr in
// root/err.txt; the exit code.
static int nfp_with(const char* prefix, const char* args) {
  char cmd[2048];
  snprintf(cmd, sizeof(cmd), "%s '%s' %s >'%s/out.txt' 2>'%s/err.txt'", prefix, NFP_EXE, args,
           root, root);
  int st = system(cmd);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int nfp(const char* args) { return nfp_with("", args); }

// Does root/NAME (out.txt, err.txt) hold text? Prints the file when not.
static int file_has(const char* name, const char* text) {
  char p[128], buf[4096] = "";
  path_in(p, sizeof(p), name);
  FILE* f = fopen(p, "r");
  if (!f) return 0;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  buf[n] = '\0';
  fclose(f);
  if (!strstr(buf, text)) printf("%s was: %s\n", name, buf);
  return strstr(buf, text) != NULL;
}

static int err_has(const char* text) { return file_has("err.txt", text); }
static int out_has(const char* text) { return file_has("out.txt", text); }

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

// The epoch count in a checkpoint's train_state (-1 when it does not load).
static int saved_epoch(const char* path) {
  nfp_meta meta = {0};
  nfp_model* m = nfp_checkpoint_load(path, NULL, &meta);
  if (!m) printf("%s\n", nfp_error_last());
  cJSON* st = m ? cJSON_Parse(nfp_meta_get(&meta, "train_state")) : NULL;
  const cJSON* e = cJSON_GetObjectItemCaseSensitive(st, "epoch");
  int epoch = cJSON_IsNumber(e) ? e->valueint : -1;
  cJSON_Delete(st);
  nfp_meta_free(&meta);
  nfp_model_free(m);
  return epoch;
}

// Every line of a metrics file is a JSON object for epochs 1, 2, ...; how many there are.
static int metrics_lines(const char* path) {
  FILE* f = fopen(path, "r");
  if (!f) return -1;
  char line[1024];
  int k = 0;
  while (fgets(line, sizeof(line), f)) {
    cJSON* j = cJSON_Parse(line);
    if (!j) fail_msg("%s line %d is not JSON: %s", path, k + 1, line);
    const cJSON* e = cJSON_GetObjectItemCaseSensitive(j, "epoch");
    assert_true(cJSON_IsNumber(e));
    assert_int_equal(e->valueint, ++k);
    assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "train_nll")));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "val_nll")));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "lr")));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "samples_per_s")));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "seconds")));
    cJSON_Delete(j);
  }
  fclose(f);
  return k;
}

// The metrics beside the checkpoint (a resumed run continues its predecessor's), or where
// --metrics says; export of the last or the best-validation weights.
static void test_metrics_and_export(void** state) {
  (void)state;
  char demos[128], p[128], path[160], out[128], args[1024];
  path_in(demos, sizeof(demos), "demos");
  path_in(p, sizeof(p), "p.safetensors");
  path_in(path, sizeof(path), "p.metrics.jsonl");
  assert_int_equal(metrics_lines(path), 3);
  path_in(path, sizeof(path), "p2.metrics.jsonl");  // resumed from p to 5 epochs
  assert_int_equal(metrics_lines(path), 5);
  path_in(path, sizeof(path), "elsewhere.jsonl");
  path_in(out, sizeof(out), "m.safetensors");
  snprintf(args, sizeof(args), "train --data %s --out %s --metrics %s %s", demos, out, path, tiny);
  assert_int_equal(nfp(args), 0);
  assert_int_equal(metrics_lines(path), 3);
  path_in(path, sizeof(path), "m.metrics.jsonl");
  assert_int_equal(access(path, F_OK), -1);

  // --weights best: the tensor kept beside the model; last (default): the model itself.
  nfp_model* ck = nfp_checkpoint_load(p, NULL, NULL);
  assert_non_null(ck);
  float* best = malloc(sizeof(float) * ck->num_params);
  assert_int_equal(nfp_checkpoint_read_extra(p, "train.best_params", best, ck->num_params), 0);
  const char* which[2] = {"best", "last"};
  for (int i = 0; i < 2; i++) {
    path_in(out, sizeof(out), which[i]);
    snprintf(args, sizeof(args), "export --in %s --out %s.safetensors%s%s", p, out,
             i == 0 ? " --weights " : "", i == 0 ? which[i] : "");
    assert_int_equal(nfp(args), 0);
    assert_true(out_has(i == 0 ? "best weights: the EMA after epoch" : "last weights: the EMA "
                                                                       "after epoch 3"));
    strcat(out, ".safetensors");
    nfp_meta meta = {0};
    nfp_model* m = nfp_checkpoint_load(out, NULL, &meta);
    assert_non_null(m);
    assert_memory_equal(m->params, i == 0 ? best : ck->params, sizeof(float) * m->num_params);
    assert_non_null(strstr(nfp_meta_get(&meta, "policy_weights"), which[i]));
    nfp_meta_free(&meta);
    nfp_model_free(m);
  }
  snprintf(args, sizeof(args), "export --in %s --out %s/x.safetensors --weights best", out, root);
  assert_int_equal(nfp(args), 1);  // an exported policy has no best weights beside it
  assert_true(err_has("no best-validation weights"));
  snprintf(args, sizeof(args), "export --in %s --out %s/x.safetensors --weights first", p, root);
  assert_int_equal(nfp(args), 2);
  assert_true(err_has("last or best"));
  free(best);
  nfp_model_free(ck);
}

static pid_t trainee;

// The test's guard: a training run that ignores Ctrl-C is killed instead of hanging.
static void on_alarm(int sig) {
  (void)sig;
  if (trainee > 0) kill(trainee, SIGKILL);
}

// `nfp train` (long) in a child with stdout on a pipe, stderr in root/err.txt; its pid.
static pid_t start_training(const char* demos, const char* out, int* out_fd) {
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  char err[128];
  path_in(err, sizeof(err), "err.txt");
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (e < 0 || dup2(fds[1], 1) < 0 || dup2(e, 2) < 0) _exit(127);
    close(fds[0]);
    close(fds[1]);
    execl(NFP_EXE, NFP_EXE, "train", "--data", demos, "--out", out, "--epochs", "100000",
          "--ckpt-every", "0", "--batch", "16", "--hidden", "16", "--layers", "2", "--context",
          "8", "--threads", "1", (char*)NULL);
    _exit(127);
  }
  close(fds[1]);
  *out_fd = fds[0];
  return pid;
}

// Ctrl-C after the first epoch: exit 130, a checkpoint (there was none: --ckpt-every 0)
// that loads, says where it is, and resumes.
static void test_sigint_saves_resumable(void** state) {
  (void)state;
  char demos[128], out[128], out2[128], args[1024];
  path_in(demos, sizeof(demos), "demos");
  path_in(out, sizeof(out), "int.safetensors");
  path_in(out2, sizeof(out2), "int2.safetensors");
  int fd;
  trainee = start_training(demos, out, &fd);
  signal(SIGALRM, on_alarm);
  alarm(120);
  FILE* f = fdopen(fd, "r");
  char line[1024];
  int seen = 0;
  while (!seen && fgets(line, sizeof(line), f)) seen = !strncmp(line, "epoch", 5);
  assert_true(seen);
  assert_int_equal(access(out, F_OK), -1);
  assert_int_equal(kill(trainee, SIGINT), 0);
  while (fgets(line, sizeof(line), f)) continue;  // to the end: it never blocks on the pipe
  fclose(f);
  int st = 0;
  assert_int_equal(waitpid(trainee, &st, 0), trainee);
  alarm(0);
  trainee = 0;
  if (!WIFEXITED(st)) fail_msg("nfp train did not exit (signal %d)", WTERMSIG(st));
  assert_int_equal(WEXITSTATUS(st), 130);
  assert_true(err_has("interrupted (SIGINT)"));
  snprintf(args, sizeof(args), "--resume %s", out);
  assert_true(err_has(args));
  int epoch = saved_epoch(out);
  assert_true(epoch >= 1);
  snprintf(args, sizeof(args), "train --data %s --out %s --resume %s --epochs %d --threads 1",
           demos, out2, out, epoch + 2);
  assert_int_equal(nfp(args), 0);
  assert_true(out_has("resumed from"));
  assert_int_equal(saved_epoch(out2), epoch + 2);
  char metrics[128];
  path_in(metrics, sizeof(metrics), "int2.metrics.jsonl");
  assert_int_equal(metrics_lines(metrics), epoch + 2);
}

// Checkpoint, curve, metrics and exported policy get the umask's permission bits.
static void test_modes_follow_umask(void** state) {
  (void)state;
  char demos[128], out[128], args[1024], prefix[32];
  path_in(demos, sizeof(demos), "demos");
  const int masks[2] = {022, 077}, want[2] = {0644, 0600};
  for (int i = 0; i < 2; i++) {
    snprintf(out, sizeof(out), "%s/mode%03o", root, masks[i]);
    snprintf(prefix, sizeof(prefix), "umask %03o;", masks[i]);
    snprintf(args, sizeof(args), "train --data %s --out %s.safetensors %s --epochs 1", demos, out,
             tiny);
    assert_int_equal(nfp_with(prefix, args), 0);
    snprintf(args, sizeof(args), "export --in %s.safetensors --out %s.policy.safetensors", out,
             out);
    assert_int_equal(nfp_with(prefix, args), 0);
    const char* files[4] = {".safetensors", ".curve.png", ".metrics.jsonl", ".policy.safetensors"};
    for (int k = 0; k < 4; k++) {
      char p[160];
      snprintf(p, sizeof(p), "%s%s", out, files[k]);
      struct stat sb;
      assert_int_equal(stat(p, &sb), 0);
      if ((int)(sb.st_mode & 0777) != want[i]) {
        fail_msg("%s: mode %03o under umask %03o", p, (int)(sb.st_mode & 0777), masks[i]);
      }
    }
  }
}

int main(void) {
  snprintf(root, sizeof(root), "/tmp/nfp_train_cli_XXXXXX");
  if (!mkdtemp(root)) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_train_writes_checkpoint_and_curve),
      cmocka_unit_test(test_bad_input_keeps_checkpoint),
      cmocka_unit_test(test_metrics_and_export),
      cmocka_unit_test(test_sigint_saves_resumable),
      cmocka_unit_test(test_modes_follow_umask),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", root);
  return rc;
}
