// Running the nfp command from tests: exit code plus captured stdout/stderr.
#ifndef NFP_TEST_CLI_UTIL_H
#define NFP_TEST_CLI_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
  int code;  // exit code, or -1 if killed by a signal
  char out[65536];
  char err[65536];
} cli_result;

static void cli_slurp(const char* path, char* buf, size_t cap) {
  buf[0] = '\0';
  FILE* f = fopen(path, "r");
  if (!f) return;
  size_t n = fread(buf, 1, cap - 1, f);
  buf[n] = '\0';
  fclose(f);
  remove(path);
}

// Run `prefix NFP_BIN args` through the shell (prefix sets env vars or wraps, may be "").
static int cli_run(cli_result* r, const char* prefix, const char* args) {
  char cmd[8192], outp[64], errp[64];
  snprintf(outp, sizeof(outp), "/tmp/nfp_cli_out.%d", (int)getpid());
  snprintf(errp, sizeof(errp), "/tmp/nfp_cli_err.%d", (int)getpid());
  snprintf(cmd, sizeof(cmd), "%s '%s' %s >%s 2>%s", prefix, NFP_BIN, args, outp, errp);
  int st = system(cmd);
  r->code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  cli_slurp(outp, r->out, sizeof(r->out));
  cli_slurp(errp, r->err, sizeof(r->err));
  return r->code;
}

static char cli_tmpdir[256];

static int cli_setup(void** state) {
  (void)state;
  snprintf(cli_tmpdir, sizeof(cli_tmpdir), "/tmp/nfp_test_cli.XXXXXX");
  return mkdtemp(cli_tmpdir) ? 0 : -1;
}

static int cli_teardown(void** state) {
  (void)state;
  char cmd[300];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", cli_tmpdir);
  return system(cmd);
}

#endif
