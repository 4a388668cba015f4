// The task registry and task loading: lookups, the names listing, and the
// failures a user meets (unknown task, missing asset folder, broken MJCF).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "nfp/error.h"
#include "nfp/tasks.h"

static void test_lookup(void** state) {
  (void)state;
  assert_true(nfp_task_count() >= 1);
  for (int i = 0; i < nfp_task_count(); i++) {
    const nfp_task_def* def = nfp_task_at(i);
    assert_non_null(def);
    assert_ptr_equal(nfp_task_find(def->name), def);
    assert_non_null(strstr(nfp_task_names(), def->name));
    assert_true(def->step_cap > 0);
  }
  assert_null(nfp_task_at(-1));
  assert_null(nfp_task_at(nfp_task_count()));
  assert_null(nfp_task_find("no_such_task"));
  assert_null(nfp_task_find(NULL));
  const nfp_task_def* lp = nfp_task_find("lift_pot");
  assert_non_null(lp);
  assert_int_equal(lp->step_cap, 400);
}

static void test_unknown_task(void** state) {
  (void)state;
  nfp_error_clear();
  assert_null(nfp_task_create("lift_pan", NFP_TEST_ASSETS));
  const char* msg = nfp_error_last();
  assert_non_null(strstr(msg, "unknown task 'lift_pan'"));
  assert_non_null(strstr(msg, "known:"));
  assert_non_null(strstr(msg, "lift_pot"));
}

// A fresh empty folder under /tmp; the caller removes it.
static void make_tmpdir(char* dir, size_t n) {
  snprintf(dir, n, "/tmp/nfp_test_tasksXXXXXX");
  assert_non_null(mkdtemp(dir));
}

static void test_missing_asset(void** state) {
  (void)state;
  char dir[64];
  make_tmpdir(dir, sizeof(dir));
  nfp_error_clear();
  assert_null(nfp_task_create("lift_pot", dir));
  const char* msg = nfp_error_last();
  assert_non_null(strstr(msg, "lift_pot.xml"));
  assert_non_null(strstr(msg, "not found"));
  rmdir(dir);
}

static void write_file(const char* dir, const char* name, const char* text) {
  char path[256];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE* f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void remove_file(const char* dir, const char* name) {
  char path[256];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  unlink(path);
}

static void test_broken_mjcf(void** state) {
  (void)state;
  char dir[64];
  make_tmpdir(dir, sizeof(dir));
  // Not even XML.
  write_file(dir, "lift_pot.xml", "<mujoco><worldbody><body name='pot'>\n");
  nfp_error_clear();
  assert_null(nfp_task_create("lift_pot", dir));
  const char* msg = nfp_error_last();
  assert_non_null(strstr(msg, "cannot load"));
  assert_non_null(strstr(msg, "lift_pot.xml"));
  assert_true(strlen(msg) > strlen("task 'lift_pot': cannot load ''"));

  // Valid MJCF without the rig: loads in MuJoCo, fails rig resolution.
  write_file(dir, "lift_pot.xml",
             "<mujoco><worldbody><body name='pot'><freejoint/>"
             "<geom type='sphere' size='0.1'/></body></worldbody></mujoco>");
  nfp_error_clear();
  assert_null(nfp_task_create("lift_pot", dir));
  msg = nfp_error_last();
  assert_non_null(strstr(msg, "the rig needs 14"));
  assert_non_null(strstr(msg, "lift_pot.xml"));
  remove_file(dir, "lift_pot.xml");
  rmdir(dir);
}

// The rig alone has no pot: Lift Pot's model check refuses it by name.
static void test_task_check(void** state) {
  (void)state;
  char err[1000] = "";
  mjModel* m = mj_loadXML(NFP_TEST_ASSETS "/rig.xml", NULL, err, sizeof(err));
  if (!m) fail_msg("rig.xml: %s", err);
  const nfp_task_def* def = nfp_task_find("lift_pot");
  assert_non_null(def->check);
  nfp_error_clear();
  assert_int_equal(def->check(m), -1);
  assert_non_null(strstr(nfp_error_last(), "'pot'"));
  mj_deleteModel(m);
}

static void test_asset_dir_env(void** state) {
  (void)state;
  setenv("NFP_ASSETS", "/some/where", 1);
  assert_string_equal(nfp_asset_dir(), "/some/where");
  unsetenv("NFP_ASSETS");
  assert_true(strlen(nfp_asset_dir()) > 0);
  assert_string_not_equal(nfp_asset_dir(), "/some/where");
}

// A relative asset folder loads too: the task's MJCF includes rig.xml, which includes
// arm.xml, and MuJoCo alone would look for that one under the relative folder twice.
static void test_relative_asset_dir(void** state) {
  (void)state;
  char cwd[4096];
  assert_non_null(getcwd(cwd, sizeof(cwd)));
  assert_int_equal(chdir(NFP_TEST_ASSETS), 0);
  assert_int_equal(chdir(".."), 0);
  const char* base = strrchr(NFP_TEST_ASSETS, '/');
  assert_non_null(base);
  nfp_task* t = nfp_task_create("lift_pot", base + 1);
  if (!t) fail_msg("%s", nfp_error_last());
  nfp_task_free(t);
  assert_int_equal(chdir(cwd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_lookup),
    cmocka_unit_test(test_unknown_task),
    cmocka_unit_test(test_missing_asset),
    cmocka_unit_test(test_broken_mjcf),
    cmocka_unit_test(test_task_check),
    cmocka_unit_test(test_asset_dir_env),
    cmocka_unit_test(test_relative_asset_dir),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
