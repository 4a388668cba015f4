// Every assets/*.xml loads with mj_loadXML from any working directory, by an absolute
// path and by relative ones ("assets/lift_pot.xml" from the repository root, and a
// "../.." path from a temporary folder), as a Python or `simulate` user would load it.
// lift_pot_nfp.xml needs the plugin library loaded first (mj_loadPluginLibrary).
#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <mujoco/mujoco.h>

#define MAX_FILES 64

static char names[MAX_FILES][256];  // the asset folder's *.xml, sorted
static int nnames;
static char tmp[64];                // an empty working directory elsewhere
static char home[PATH_MAX];         // the test's own working directory

// Two names[] rows -> their strcmp order.
static int by_name(const void* a, const void* b) { return strcmp(a, b); }

// NFP_TEST_ASSETS -> names[]: the folder's top-level MJCF files (parts/ is not listed).
static int list_assets(void) {
  DIR* d = opendir(NFP_TEST_ASSETS);
  if (!d) return -1;
  struct dirent* e;
  while ((e = readdir(d)) && nnames < MAX_FILES) {
    size_t n = strlen(e->d_name);
    if (n > 4 && n < sizeof(names[0]) && !strcmp(e->d_name + n - 4, ".xml"))
      memcpy(names[nnames++], e->d_name, n + 1);
  }
  closedir(d);
  qsort(names, (size_t)nnames, sizeof(names[0]), by_name);
  return nnames > 0 ? 0 : -1;
}

// Plugin library + asset list + temp dir -> ready state, or -1 with a message.
static int setup(void** state) {
  (void)state;
  if (!getcwd(home, sizeof(home))) return -1;
  snprintf(tmp, sizeof(tmp), "/tmp/nfp_cwd_XXXXXX");
  if (!mkdtemp(tmp)) return -1;
  mj_loadPluginLibrary(NFP_PLUGIN_PATH);
  if (!mjp_getPlugin("nfp.controller", NULL) || !mjp_getPlugin("nfp.task", NULL)) {
    fprintf(stderr, "plugins not registered by %s\n", NFP_PLUGIN_PATH);
    return -1;
  }
  if (list_assets()) {
    fprintf(stderr, "no MJCF files in %s\n", NFP_TEST_ASSETS);
    return -1;
  }
  return 0;
}

// Back to the first working directory; the temp dir is removed.
static int teardown(void** state) {
  (void)state;
  int rc = chdir(home);
  rmdir(tmp);
  return rc;
}

// cwd + path -> loads (fails the test with MuJoCo's message otherwise).
static void load_ok(const char* cwd, const char* path) {
  assert_int_equal(chdir(cwd), 0);
  char err[1024] = "";
  mjModel* m = mj_loadXML(path, NULL, err, sizeof(err));
  if (!m) fail_msg("mj_loadXML('%s') from '%s': %s", path, cwd, err);
  printf("%-44s from %s: %ld bodies, %ld actuators\n", path, cwd, (long)m->nbody, (long)m->nu);
  mj_deleteModel(m);
  assert_int_equal(chdir(home), 0);
}

// Absolute path from an unrelated folder -> every file loads.
static void test_absolute(void** state) {
  (void)state;
  for (int i = 0; i < nnames; i++) {
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%.255s", NFP_TEST_ASSETS, names[i]);
    load_ok(tmp, path);
  }
}

// "assets/NAME.xml" from the asset folder's parent (the repository root) -> loads.
static void test_relative_from_parent(void** state) {
  (void)state;
  char parent[PATH_MAX];
  snprintf(parent, sizeof(parent), "%s", NFP_TEST_ASSETS);
  char* base = strrchr(parent, '/');
  assert_non_null(base);
  *base++ = '\0';
  for (int i = 0; i < nnames; i++) {
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%.255s", base, names[i]);
    load_ok(parent[0] ? parent : "/", path);
  }
}

// "../../<asset folder>/NAME.xml" from the temp dir (up to / and down again) -> loads.
static void test_relative_from_elsewhere(void** state) {
  (void)state;
  char up[PATH_MAX] = "";
  for (const char* c = tmp; *c; c++)
    if (*c == '/') strcat(up, "../");
  for (int i = 0; i < nnames; i++) {
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s%s/%.255s", up, NFP_TEST_ASSETS + 1, names[i]);
    load_ok(tmp, path);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_absolute),
    cmocka_unit_test(test_relative_from_parent),
    cmocka_unit_test(test_relative_from_elsewhere),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
