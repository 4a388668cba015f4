// Towel Folding: the cloth model, seeded set-ups, the success check on
// hand-made cloth states, and the scripted expert with the cloth kept finite
// and on the table at every step.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "near.h"
#include "nfp/error.h"
#include "nfp/tasks.h"
#include "rig.h"

static int setup(void** state) {
  nfp_task* t = nfp_task_create("towel_folding", NFP_TEST_ASSETS);
  if (!t) fail_msg("%s", nfp_error_last());
  *state = t;
  return 0;
}

static int teardown(void** state) {
  nfp_task_free(*state);
  return 0;
}

static int towel_flex(const mjModel* m) { return mj_name2id(m, mjOBJ_FLEX, "towel"); }

static void test_cloth_loads(void** state) {
  nfp_task* t = *state;
  const mjModel* m = t->m;
  int f = towel_flex(m);
  assert_true(f >= 0);
  assert_int_equal(m->flex_dim[f], 2);
  assert_int_equal(m->flex_vertnum[f], 81);
  assert_int_equal(m->flex_elemnum[f], 128);
  assert_true(m->flex_edgeequality[f]);       // edges hold their length: cloth, not rubber
  assert_true(m->flex_selfcollide[f] != mjFLEXSELF_NONE);
  // The towel's own <option integrator="discrete"/> (flex elasticity needs it) must
  // leave the rest of rig.xml's options as they are.
  assert_int_equal(m->opt.integrator, mjINT_DISCRETE);
  assert_int_equal(m->opt.cone, mjCONE_ELLIPTIC);
  assert_near(m->opt.timestep, 0.002, 1e-12);
  assert_near(m->opt.impratio, 10, 1e-12);
  // The cloth resists bending (the MJCF says why); a limp flex has no bending data.
  assert_true(m->nflexbending > 0);
  assert_true(m->flex_bendingadr[f] >= 0);
  // Flat on the table after the settle, 7 mm thick.
  const double* v = t->d->flexvert_xpos + 3 * m->flex_vertadr[f];
  for (int i = 0; i < m->flex_vertnum[f]; i++) assert_near(v[3 * i + 2], 0.7435, 1e-3);
  double obj[15];
  assert_int_equal(nfp_task_object_state(t, obj, 14), -1);   // too small a buffer
  assert_int_equal(nfp_task_object_state(t, obj, 15), 15);
}

static void test_reset_deterministic(void** state) {
  nfp_task* t = *state;
  const mjModel* m = t->m;
  double qpos0[m->nq], qpos1[m->nq], target[NFP_NJ];
  for (int pass = 0; pass < 2; pass++) {
    nfp_task_reset(t, 100042);
    memcpy(pass ? qpos1 : qpos0, t->d->qpos, sizeof(qpos0));
  }
  assert_memory_equal(qpos0, qpos1, sizeof(qpos0));
  // A different seed in between must not leak into the next episode.
  for (int pass = 0; pass < 2; pass++) {
    nfp_task_reset(t, 100042);
    for (int k = 0; k < 50; k++) {
      nfp_task_expert(t, target);
      nfp_task_step(t, target);
    }
    memcpy(pass ? qpos1 : qpos0, t->d->qpos, sizeof(qpos0));
    nfp_task_reset(t, 5);
  }
  assert_memory_equal(qpos0, qpos1, sizeof(qpos0));
}

// Object state: corners near-left, near-right, far-left, far-right, centroid.
static void test_setups_vary_within_ranges(void** state) {
  nfp_task* t = *state;
  double obj[15], first[15];
  double lo[3] = {1, 1, 1}, hi[3] = {-1, -1, -1};
  for (int seed = 0; seed < 40; seed++) {
    nfp_task_reset(t, 100000 + seed);
    assert_int_equal(nfp_task_object_state(t, obj, 15), 15);
    if (seed == 0) memcpy(first, obj, sizeof(first));
    else assert_memory_not_equal(first, obj, sizeof(first));
    // Near edge from near-left to near-right: the towel's x axis.
    double yaw = atan2(obj[4] - obj[1], obj[3] - obj[0]);
    double v[3] = {obj[12], obj[13] - 0.02, yaw};
    assert_true(fabs(v[0]) <= 0.03 + 2e-3 && fabs(v[1]) <= 0.03 + 2e-3);
    assert_true(fabs(v[2]) <= 0.15 + 0.01);
    // Still a flat 25 cm square.
    assert_near(hypot(obj[3] - obj[0], obj[4] - obj[1]), 0.25, 3e-3);
    assert_near(hypot(obj[6] - obj[0], obj[7] - obj[1]), 0.25, 3e-3);
    for (int i = 0; i < 3; i++) lo[i] = fmin(lo[i], v[i]), hi[i] = fmax(hi[i], v[i]);
  }
  assert_true(lo[0] < -0.015 && hi[0] > 0.015);
  assert_true(lo[1] < -0.015 && hi[1] > 0.015);
  assert_true(lo[2] < -0.07 && hi[2] > 0.07);
}

// Move every towel vertex to fold(position) through its slide joints (which
// run along the world axes), then recompute the state.
typedef void (*fold_fn)(double out[3], const double in[3], double fold_y);

static void place_cloth(nfp_task* t, fold_fn fn) {
  const mjModel* m = t->m;
  mjData* d = t->d;
  int f = towel_flex(m);
  int adr = m->flex_vertadr[f], n = m->flex_vertnum[f];
  double fold_y = 0;
  for (int v = 0; v < n; v++) fold_y += d->flexvert_xpos[3 * (adr + v) + 1] / n;
  for (int v = 0; v < n; v++) {
    const double* p = d->flexvert_xpos + 3 * (adr + v);
    double q[3], delta[3];
    fn(q, p, fold_y);
    mju_sub3(delta, q, p);
    int b = m->flex_vertbodyid[adr + v];
    for (int j = m->body_jntadr[b]; j < m->body_jntadr[b] + 3; j++) {
      d->qpos[m->jnt_qposadr[j]] += mju_dot3(delta, d->xaxis + 3 * j);
    }
  }
  mju_zero(d->qvel, m->nv);
  mj_forward(m, d);
}

// The near half mirrored over the fold line, one layer (7 mm) up.
static void fold_half(double out[3], const double in[3], double fold_y) {
  mju_copy3(out, in);
  if (in[1] < fold_y) out[1] = 2 * fold_y - in[1], out[2] = in[2] + 0.007;
}

// Folded, but the top layer slid 6 cm along the fold line.
static void fold_shifted(double out[3], const double in[3], double fold_y) {
  fold_half(out, in, fold_y);
  if (in[1] < fold_y) out[0] += 0.06;
}

// Folded only a quarter of the way: the near quarter over onto the middle.
static void fold_quarter(double out[3], const double in[3], double fold_y) {
  double line = fold_y - 0.0625;
  mju_copy3(out, in);
  if (in[1] < line) out[1] = 2 * line - in[1], out[2] = in[2] + 0.007;
}

static void close_grippers(nfp_task* t) {
  for (int a = 0; a < 2; a++) {
    for (int k = 0; k < 2; k++) t->d->qpos[t->rig.finger_qadr[a][k]] = 0;
  }
  mj_forward(t->m, t->d);
}

static void test_success_check(void** state) {
  nfp_task* t = *state;
  nfp_task_reset(t, 100007);
  assert_false(nfp_task_success(t));   // flat towel

  nfp_task_reset(t, 100007);
  place_cloth(t, fold_half);
  assert_true(nfp_task_success(t));    // folded in half, grippers open at home

  nfp_task_reset(t, 100007);
  place_cloth(t, fold_half);
  close_grippers(t);
  assert_false(nfp_task_success(t));   // folded but still held

  nfp_task_reset(t, 100007);
  place_cloth(t, fold_shifted);
  assert_false(nfp_task_success(t));   // corners 6 cm from their partners

  nfp_task_reset(t, 100007);
  place_cloth(t, fold_quarter);
  assert_false(nfp_task_success(t));   // footprint only down to 75 %
}

// The cloth must stay finite and on the table top, with no MuJoCo warning.
static void assert_cloth_sane(const nfp_task* t) {
  const mjModel* m = t->m;
  int f = towel_flex(m);
  const double* v = t->d->flexvert_xpos + 3 * m->flex_vertadr[f];
  for (int i = 0; i < m->flex_vertnum[f]; i++) {
    const double* p = v + 3 * i;
    if (!(fabs(p[0]) < 0.6 && fabs(p[1]) < 0.4 && p[2] > 0.73 && p[2] < 1.2)) {
      fail_msg("step %d: vertex %d at (%g, %g, %g) left the table box", t->step, i, p[0], p[1],
               p[2]);
    }
  }
  for (int w = 0; w < mjNWARNING; w++) {
    if (t->d->warning[w].number) fail_msg("step %d: MuJoCo warning %d", t->step, w);
  }
}

// Mirror the cloth x -> -x: each vertex takes the mirrored place of its partner across
// the grid's centre column (flex_vert0 holds the grid scaled onto [0, 1]^2).
static void mirror_cloth(nfp_task* t) {
  const mjModel* m = t->m;
  mjData* d = t->d;
  int f = towel_flex(m);
  int adr = m->flex_vertadr[f], n = m->flex_vertnum[f];
  static double p[1024][3];
  assert_true(n <= 1024);
  for (int v = 0; v < n; v++) mju_copy3(p[v], d->flexvert_xpos + 3 * (adr + v));
  for (int v = 0; v < n; v++) {
    const double* u = m->flex_vert0 + 3 * (adr + v);
    int w = -1;
    for (int k = 0; k < n && w < 0; k++) {
      const double* uk = m->flex_vert0 + 3 * (adr + k);
      if (fabs(uk[0] - (1 - u[0])) < 1e-9 && fabs(uk[1] - u[1]) < 1e-9) w = k;
    }
    assert_true(w >= 0);
    double q[3] = {-p[w][0], p[w][1], p[w][2]}, delta[3];
    mju_sub3(delta, q, p[v]);
    int b = m->flex_vertbodyid[adr + v];
    for (int j = m->body_jntadr[b]; j < m->body_jntadr[b] + 3; j++) {
      d->qpos[m->jnt_qposadr[j]] += mju_dot3(delta, d->xaxis + 3 * j);
    }
  }
  mju_zero(d->qvel, m->nv);
  mj_forward(m, d);
}

// Training on mirror images relies on them being episodes of the mirrored set-up: the
// task's mirror of the object state is the object state of the mirrored cloth, and the
// mirrored targets fold the mirrored cloth.
static void test_mirror_image_succeeds(void** state) {
  nfp_task* t = *state;
  enum { CAP = 400 };
  static double targets[CAP][NFP_NJ];
  double obj0[15], obj[15], want[15];
  nfp_task_reset(t, 100001);
  nfp_task_object_state(t, obj0, 15);
  int T = 0;
  while (!nfp_task_expert_done(t) && T < CAP) {
    nfp_task_expert(t, targets[T]);
    nfp_task_step(t, targets[T++]);
  }
  assert_true(nfp_task_success(t));

  nfp_task_reset(t, 100001);
  mirror_cloth(t);
  nfp_task_object_state(t, obj, 15);
  assert_int_equal(nfp_task_mirror_object(t->def, want, obj0, 15), 0);
  for (int i = 0; i < 15; i++) assert_near(obj[i], want[i], 1e-9);
  for (int k = 0; k < T; k++) {
    double q[NFP_NJ];
    nfp_rig_mirror(q, targets[k]);
    nfp_task_step(t, q);
    assert_cloth_sane(t);
  }
  assert_true(nfp_task_success(t));
  assert_int_equal(nfp_task_mirror_object(t->def, want, obj0, 14), -1);
}

static void test_expert_succeeds(void** state) {
  nfp_task* t = *state;
  double target[NFP_NJ];
  const char* order[] = {"pregrasp", "approach", "pinch",   "fold", "settle",
                         "release",  "retract",  "rest",    "done"};
  const int nphase = sizeof(order) / sizeof(order[0]);
  for (uint64_t seed = 100000; seed < 100003; seed++) {
    nfp_task_reset(t, seed);
    assert_false(nfp_task_success(t));
    int next = 0, succeeded = 0;
    while (!nfp_task_expert_done(t) && t->step < t->def->step_cap) {
      nfp_task_expert(t, target);
      nfp_task_step(t, target);
      assert_cloth_sane(t);
      const char* phase = nfp_task_expert_phase(t);
      if (next < nphase && strcmp(phase, order[next]) == 0) next++;
      else assert_string_equal(phase, order[next - 1]);
      succeeded |= nfp_task_success(t);
    }
    assert_int_equal(next, nphase);
    // The fold must last: hold still 2 s more and check again.
    for (int k = 0; k < 33; k++) {
      nfp_task_expert(t, target);
      nfp_task_step(t, target);
      assert_cloth_sane(t);
    }
    if (!succeeded || !nfp_task_success(t)) {
      fail_msg("expert failed on seed %lu (success seen %d, at the end %d)", (unsigned long)seed,
               succeeded, nfp_task_success(t));
    }
    // Folded: each near corner lies on top of its far partner.
    double obj[15];
    nfp_task_object_state(t, obj, 15);
    for (int a = 0; a < 2; a++) {
      const double* held = obj + 3 * a;
      const double* partner = obj + 6 + 3 * a;
      assert_true(held[2] > partner[2]);
      assert_true(hypot(held[0] - partner[0], held[1] - partner[1]) < 0.04);
    }
  }
}

// The loaded model's custom numeric `name` (tests change it in place), which the
// shipped MJCF sets to `shipped`.
static double* mjcf_numeric(nfp_task* t, const char* name, double shipped) {
  int n = mj_name2id(t->m, mjOBJ_NUMERIC, name);
  assert_true(n >= 0);
  double* v = t->m->numeric_data + t->m->numeric_adr[n];
  assert_near(*v, shipped, 1e-12);
  return v;
}

// The MJCF sets where the expert pinches (custom numeric towel_pinch_inset): the
// grasp site comes down that far in from each near corner, along its bisector.
// Out-of-range values are refused when the task is attached.
static void test_pinch_inset_from_mjcf(void** state) {
  nfp_task* t = *state;
  double* inset = mjcf_numeric(t, "towel_pinch_inset", 0.012);
  const int site[2] = {mj_name2id(t->m, mjOBJ_SITE, "left_grasp"),
                       mj_name2id(t->m, mjOBJ_SITE, "right_grasp")};
  assert_true(site[0] >= 0 && site[1] >= 0);
  const double want[2] = {0.012, 0.03};
  for (int k = 0; k < 2; k++) {
    *inset = want[k];
    nfp_task_reset(t, 100000);
    double target[NFP_NJ], obj[15];
    nfp_task_object_state(t, obj, 15);   // the flat towel's corners, before any touch
    while (strcmp(nfp_task_expert_phase(t), "pinch") != 0 && t->step < 60) {
      nfp_task_expert(t, target);
      nfp_task_step(t, target);
    }
    assert_string_equal(nfp_task_expert_phase(t), "pinch");
    for (int a = 0; a < 2; a++) {
      const double* p = t->d->site_xpos + 3 * site[a];
      assert_near(hypot(p[0] - obj[3 * a], p[1] - obj[3 * a + 1]), want[k], 0.003);
    }
  }
  *inset = -0.01;
  assert_null(nfp_task_attach("towel_folding", t->m, t->d));
  assert_non_null(strstr(nfp_error_last(), "towel_pinch_inset"));
  *inset = 0.012;
}

// The MJCF sets how hard the expert pinches (custom numeric towel_pinch_grip, the
// gripper command): the fingers hold that command while pinching, and a command
// outside 0..1 is refused when the task is attached.
static void test_pinch_grip_from_mjcf(void** state) {
  nfp_task* t = *state;
  double* grip = mjcf_numeric(t, "towel_pinch_grip", 0.04);
  const double want[2] = {0.04, 0.3};
  for (int k = 0; k < 2; k++) {
    *grip = want[k];
    nfp_task_reset(t, 100000);
    double target[NFP_NJ];
    while (strcmp(nfp_task_expert_phase(t), "fold") != 0 && t->step < 80) {
      nfp_task_expert(t, target);
      nfp_task_step(t, target);
    }
    assert_string_equal(nfp_task_expert_phase(t), "fold");
    nfp_task_expert(t, target);
    assert_near(target[nfp_rig_grip_slot(NFP_LEFT)], want[k], 1e-9);
    assert_near(target[nfp_rig_grip_slot(NFP_RIGHT)], want[k], 1e-9);
  }
  *grip = 1.5;
  assert_null(nfp_task_attach("towel_folding", t->m, t->d));
  assert_non_null(strstr(nfp_error_last(), "towel_pinch_grip"));
  *grip = 0.04;
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_cloth_loads),
    cmocka_unit_test(test_reset_deterministic),
    cmocka_unit_test(test_setups_vary_within_ranges),
    cmocka_unit_test(test_success_check),
    cmocka_unit_test(test_expert_succeeds),
    cmocka_unit_test(test_mirror_image_succeeds),
    cmocka_unit_test(test_pinch_inset_from_mjcf),
    cmocka_unit_test(test_pinch_grip_from_mjcf),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
