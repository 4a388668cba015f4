// Atomic output files: the target holds the old or the new bytes, never a part; the
// permission bits follow the umask (0600 stays 0600); temporaries of writers that died are
// removed by the next write of the same file, those of live writers are left alone.
#include <dirent.h>
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

#include "nfp/atomic_file.h"
#include "nfp/error.h"

static char dir[64];

static void path_in(char* out, size_t cap, const char* name) {
  snprintf(out, cap, "%s/%s", dir, name);
}

static void expect_content(const char* path, const char* want) {
  char got[256] = "";
  FILE* f = fopen(path, "rb");
  assert_non_null(f);
  size_t n = fread(got, 1, sizeof(got) - 1, f);
  fclose(f);
  got[n] = '\0';
  assert_string_equal(got, want);
}

static int exists(const char* path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

static void test_write_and_replace(void** state) {
  (void)state;
  char path[128];
  path_in(path, sizeof(path), "a.txt");
  assert_int_equal(nfp_atomic_write_file(path, "first", 5, 0666), 0);
  expect_content(path, "first");
  // A writer that gives up leaves the old content and no temporary.
  nfp_atomic_file f;
  assert_int_equal(nfp_atomic_begin(&f, path, 0666), 0);
  assert_int_equal(nfp_atomic_write(&f, "sec", 3), 0);
  char tmp[sizeof(f.tmp)];
  snprintf(tmp, sizeof(tmp), "%s", f.tmp);
  assert_true(exists(tmp));
  expect_content(path, "first");
  nfp_atomic_abort(&f);
  assert_false(exists(tmp));
  expect_content(path, "first");
  // Through a stdio stream.
  assert_int_equal(nfp_atomic_begin(&f, path, 0666), 0);
  FILE* s = nfp_atomic_stream(&f);
  assert_non_null(s);
  fprintf(s, "second %d", 2);
  assert_int_equal(nfp_atomic_commit(&f), 0);
  expect_content(path, "second 2");
}

static void test_modes(void** state) {
  (void)state;
  char path[128];
  mode_t old = umask(022);
  path_in(path, sizeof(path), "public");
  assert_int_equal(nfp_atomic_write_file(path, "x", 1, 0666), 0);
  struct stat sb;
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0644);
  umask(077);  // a private umask: even a public file is the owner's alone
  path_in(path, sizeof(path), "private");
  assert_int_equal(nfp_atomic_write_file(path, "x", 1, 0666), 0);
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  umask(022);  // a secret stays 0600 whatever the umask
  path_in(path, sizeof(path), "secret022");
  assert_int_equal(nfp_atomic_write_file(path, "x", 1, 0600), 0);
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  umask(0);
  path_in(path, sizeof(path), "secret");
  assert_int_equal(nfp_atomic_write_file(path, "x", 1, 0600), 0);
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  umask(old);
}

static void test_unwritable(void** state) {
  (void)state;
  assert_int_equal(nfp_atomic_write_file("/nonexistent/dir/x", "x", 1, 0666), -1);
  assert_non_null(strstr(nfp_error_last(), "cannot create /nonexistent/dir/x.tmp."));
}

// The temporary of writer pid in dir (full path into out); 1 when found.
static int find_prefixed(char* out, size_t cap, const char* prefix, long pid) {
  char want[128];
  snprintf(want, sizeof(want), "%s%ld.", prefix, pid);
  DIR* d = opendir(dir);
  struct dirent* e;
  int found = 0;
  while (d && (e = readdir(d))) {
    if (!strncmp(e->d_name, want, strlen(want))) {
      snprintf(out, cap, "%s/%s", dir, e->d_name);
      found++;
    }
  }
  if (d) closedir(d);
  return found;
}

// A writer killed (SIGKILL) half-way leaves its temporary; the next write removes it.
static void test_stale_temporaries(void** state) {
  (void)state;
  char path[128], live[200], other[200];
  path_in(path, sizeof(path), "ckpt.safetensors");
  assert_int_equal(nfp_atomic_write_file(path, "old", 3, 0666), 0);
  int pipefd[2];
  assert_int_equal(pipe(pipefd), 0);
  pid_t child = fork();
  assert_true(child >= 0);
  if (child == 0) {
    nfp_atomic_file f;
    if (nfp_atomic_begin(&f, path, 0666) || nfp_atomic_write(&f, "half", 4)) _exit(1);
    if (write(pipefd[1], "x", 1) != 1) _exit(1);
    pause();  // killed here, mid-write
    _exit(0);
  }
  char c;
  assert_int_equal(read(pipefd[0], &c, 1), 1);
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
  close(pipefd[0]);
  close(pipefd[1]);
  char dead[512];
  assert_int_equal(find_prefixed(dead, sizeof(dead), "ckpt.safetensors.tmp.", (long)child), 1);
  expect_content(path, "old");
  // A live writer's temporary (our parent's pid stands in) and unrelated files stay.
  snprintf(live, sizeof(live), "%s.tmp.%ld.3", path, (long)getppid());
  snprintf(other, sizeof(other), "%s.tmp.notes", path);
  assert_int_equal(nfp_atomic_write_file(live, "", 0, 0666), 0);
  assert_int_equal(nfp_atomic_write_file(other, "", 0, 0666), 0);
  assert_int_equal(nfp_atomic_write_file(path, "new", 3, 0666), 0);
  assert_false(exists(dead));
  assert_true(exists(live));
  assert_true(exists(other));
  expect_content(path, "new");
}

int main(void) {
  snprintf(dir, sizeof(dir), "/tmp/nfp_atomic_XXXXXX");
  if (!mkdtemp(dir)) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_write_and_replace),
      cmocka_unit_test(test_modes),
      cmocka_unit_test(test_unwritable),
      cmocka_unit_test(test_stale_temporaries),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  if (system(cmd) != 0) rc = 1;
  return rc;
}
