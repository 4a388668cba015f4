// nfp collect: run a task's scripted expert on consecutive seeds and save each
// successful episode as one HDF5 demo file. Progress goes to stderr (progress.h), a line
// per seed with --verbose to stdout. Under mpirun -np N the ranks try seeds in rounds, one
// each, and settle the outcomes in seed order: the folder is the one-process folder.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "files.h"
#include "nfp/agent.h"
#include "nfp/arms_sim.h"
#include "nfp/clock.h"
#include "nfp/cluster.h"
#include "nfp/demo.h"
#include "nfp/error.h"
#include "nfp/render.h"
#include "nfp/rng.h"
#include "nfp/rollout.h"
#include "nfp/tasks.h"
#include "progress.h"

#define OBJ_CAP 256  // widest object state a task may report

typedef struct {
  nfp_arms* arms;          // simulated rig
  nfp_task* task;          // its task (the expert and the recorder read it)
  nfp_agent* agent;
  nfp_renderer* renderer;  // NULL without --images
  nfp_episode ep;          // buffers sized for the step cap, reused across seeds
  double noise;            // std (rad) of the execution perturbation, 0 = clean
  double perturb[NFP_NJ];  // this step's perturbation of the commanded arm joints
  progress prog;           // episodes saved, seeds skipped, steps of the episode in flight
} collector;

// Correlation time of the execution perturbation, in control steps: slow enough that
// the arm follows it off the expert's path (a per-step jitter would be filtered out by
// the position servos), fast enough to change within one expert phase.
#define NOISE_STEPS 10.0

// Ornstein-Uhlenbeck step of the perturbation on the arm joints (grippers untouched),
// stationary std c->noise. As DART (Laskey et al. 2017): the arms execute the expert's
// target plus this, the demo records the clean target, so the policy sees states off
// the expert's path labelled with the way back.
static void perturb_step(collector* c, nfp_rng* rng) {
  double a = exp(-1.0 / NOISE_STEPS), b = c->noise * sqrt(1.0 - a * a);
  for (int arm = 0; arm < 2; arm++) {
    for (int j = 0; j < NFP_ARM_DOF; j++) {
      double* p = &c->perturb[arm * (NFP_ARM_DOF + 1) + j];
      *p = a * *p + b * nfp_rng_normal(rng);
    }
  }
}

static int expert_finished(void* task) { return nfp_task_expert_done(task); }

// One episode: record the observation, then the target commanded from it, until the
// success has held or, for a task whose demos run on, until the expert's script is
// finished (it goes on after the success: letting go, retracting). The episode counts
// as a success if the success condition held and still holds at the end.
static int collect_episode(collector* c, uint64_t seed, nfp_rollout* r) {
  nfp_episode* ep = &c->ep;
  memset(c->perturb, 0, sizeof(c->perturb));
  r->perturb = c->noise > 0 ? c->perturb : NULL;
  r->run_on = c->task->def->demo_runs_on ? expert_finished : NULL;
  r->run_on_ctx = c->task;
  nfp_rng rng;
  nfp_rng_seed(&rng, seed ^ 0x5eed0f0015eULL);
  if (nfp_rollout_begin(r, c->arms, c->agent, seed)) return -1;
  while (!r->done) {
    int t = r->steps;
    if (c->noise > 0) perturb_step(c, &rng);
    nfp_task_observe(c->task, ep->qpos + (size_t)t * NFP_NJ, ep->qvel + (size_t)t * NFP_NJ);
    if (ep->nobj > 0) {
      int k = nfp_task_object_state(c->task, ep->object_state + (size_t)t * ep->nobj, ep->nobj);
      if (k != ep->nobj) {
        return nfp_error_set("task %s reported %d object-state values at step %d, %d at reset",
                             c->task->def->name, k, t, ep->nobj);
      }
    }
    if (c->renderer) {
      uint8_t* img = ep->images + (size_t)t * ep->img_h * ep->img_w * 3;
      if (nfp_render_camera(img, c->renderer, c->task->m, c->task->d, c->task->rig.head_camera)) {
        return nfp_error_wrap("rendering the head camera");
      }
    }
    if (nfp_rollout_step(r, ep->action + (size_t)t * NFP_NJ, NULL)) return -1;
    progress_steps(&c->prog, 0, r->steps);
  }
  progress_steps(&c->prog, 0, -1);
  ep->T = r->steps;
  ep->seed = (int64_t)seed;
  ep->success = r->success && r->obs.success > 0;
  return 0;
}

static int collector_open(collector* c, const char* task_name, const char* assets, int images) {
  memset(c, 0, sizeof(*c));
  c->arms = nfp_arms_sim_create(task_name, assets);
  if (!c->arms) return -1;
  c->task = nfp_arms_sim_task(c->arms);
  nfp_agent_spec spec = {.kind = "expert"};
  c->agent = nfp_agent_create(&spec);
  if (!c->agent) return -1;
  double probe[OBJ_CAP];
  nfp_task_reset(c->task, 0);
  int nobj = nfp_task_object_state(c->task, probe, OBJ_CAP);
  if (nobj < 0 || nobj > OBJ_CAP) {
    return nfp_error_set("task %s: bad object-state size %d", task_name, nobj);
  }
  int h = images ? NFP_HEAD_H : 0, w = images ? NFP_HEAD_W : 0;
  if (nfp_episode_alloc(&c->ep, c->task->def->step_cap, NFP_NJ, nobj, h, w)) return -1;
  snprintf(c->ep.task, sizeof(c->ep.task), "%s", task_name);
  c->ep.control_hz = nfp_task_control_hz(c->task);
  if (images) {
    c->renderer = nfp_render_create(c->task->m, NFP_HEAD_W, NFP_HEAD_H);
    if (!c->renderer) return nfp_error_wrap("offscreen renderer for --images");
  }
  return 0;
}

static void collector_close(collector* c) {
  nfp_render_free(c->renderer);
  nfp_episode_free(&c->ep);
  nfp_agent_free(c->agent);
  nfp_arms_close(c->arms);
}

// nfp collect's flags.
typedef struct {
  const char* task_name;
  const char* out;
  const char* assets;
  int episodes, images, max_attempts;
  int verbose;  // a line per seed
  double noise;
  long long seed0;
  int talk;     // this process prints for the job (rank 0 of an MPI job, or alone)
} collect_opts;

// One seed's outcome, gathered from the rank that ran it (plain bytes, no padding holes).
typedef struct {
  int64_t seed;
  int32_t success, steps;
  double wall_s;
} collect_try;

// What the seeds tried so far gave.
typedef struct {
  long long* skipped;  // [max_attempts] seeds on which the expert failed
  int nsaved, nskipped, attempts;
} collect_tally;

// argv -> o through the flag table. 0 go on, 1 --help printed, 2 bad flags (reported).
static int collect_parse(collect_opts* o, int argc, char** argv) {
  nfp_arg args[] = {
      {"--task", NFP_ARG_STR, &o->task_name, "NAME", "task whose expert is recorded", 0, 0, 0},
      {"--episodes", NFP_ARG_INT, &o->episodes, "N", "successful episodes to save", 1, 1e6, 0},
      {"--out", NFP_ARG_STR, &o->out, "DIR", "output folder, created if its parent exists", 0, 0,
       1},
      {"--images", NFP_ARG_FLAG, &o->images, NULL,
       "also record the head camera (320x240 RGB, rendered offscreen) every step", 0, 0, 0},
      {"--seed", NFP_ARG_SEED, &o->seed0, "S", "first seed; episodes use S, S+1, ...", 0, 9e15,
       0},
      {"--noise", NFP_ARG_DOUBLE, &o->noise, "RAD",
       "perturb the executed arm joint targets by this std (slowly varying); the demos "
       "record the expert's clean targets",
       0, 0.5, 0},
      {"--max-attempts", NFP_ARG_INT, &o->max_attempts, "N",
       "give up after this many seeds (0 = 2*episodes+20)", 0, 1e7, 0},
      {"--assets", NFP_ARG_STR, &o->assets, "DIR",
       "asset folder (default $NFP_ASSETS, else built in)", 0, 0, 0},
      {"--verbose", NFP_ARG_FLAG, &o->verbose, NULL,
       "a line per seed on stdout (success and file, or skipped)", 0, 0, 0},
  };
  int nargs = (int)(sizeof(args) / sizeof(args[0]));
  return nfp_args_parse(argc, argv, args, nargs,
                        "nfp collect --out DIR [--task NAME] [--episodes N] [--images] [--seed S]",
                        "Runs the task's scripted expert on seeds S, S+1, ... and saves every "
                        "successful episode\nas DIR/episode_NNNNNN.hdf5 (qpos, qvel, action, "
                        "object state, optional head images),\nuntil N episodes are saved. "
                        "Seeds on which the expert fails are skipped and listed.\nProgress "
                        "goes to stderr: a line updated in place on a terminal (episodes saved,"
                        "\nseeds skipped, ETA, steps of the episode running), else a line every "
                        "10 % or 10 s.\nUnder mpirun -np N, N processes try seeds at "
                        "once (one each, in rounds) and the folder\nis the one a single "
                        "process writes; DIR must be shared by the ranks' machines.");
}

// The task and the seed budget, checked; defaults that depend on other flags. 0 or 2
// (reported).
static int collect_check(collect_opts* o) {
  if (!nfp_task_find(o->task_name)) {
    fprintf(stderr, "nfp collect: unknown task '%s' (known: %s)\n", o->task_name,
            nfp_task_names());
    return 2;
  }
  if (!o->assets) o->assets = nfp_asset_dir();
  o->talk = nfp_cluster_world()->rank == 0;
  if (o->max_attempts == 0) o->max_attempts = 2 * o->episodes + 20;
  if (o->max_attempts < o->episodes) {
    fprintf(stderr, "nfp collect: --max-attempts %d is below --episodes %d\n", o->max_attempts,
            o->episodes);
    return 2;
  }
  return 0;
}

// The output folder, made if missing (said so) by rank 0 before the other ranks check it:
// one mkdir, one line. 0 or 1 (reported by the rank that failed).
static int collect_prepare_out(const collect_opts* o) {
  int created = 0, failed = o->talk && nfp_dir_prepare(o->out, &created);
  if (failed) fprintf(stderr, "nfp collect: %s\n", nfp_error_last());
  int any = failed;
  if (nfp_cluster_max_int(&any)) {
    fprintf(stderr, "nfp collect: %s\n", nfp_error_last());
    return 1;
  }
  if (!any && !o->talk && nfp_dir_prepare(o->out, &created)) {
    fprintf(stderr, "nfp collect: %s\n", nfp_error_last());
    return 1;
  }
  if (created) printf("created output folder %s\n", o->out);
  return any ? 1 : 0;
}

// The output folder and the collector for the task. 0 or 1 (reported; c is closed).
static int collect_open(collector* c, const collect_opts* o) {
  if (collect_prepare_out(o)) return 1;
  int opened = collector_open(c, o->task_name, o->assets, o->images);
  c->noise = o->noise;
  if (opened) {
    fprintf(stderr, "nfp collect: %s\n", nfp_error_last());
    collector_close(c);
    return 1;
  }
  return 0;
}

// One round: this rank's seed (the next untried one plus its rank, within --max-attempts)
// -> its episode in c->ep; every rank's outcome -> (*all)[0..*n), in seed order (rank r
// tried the r-th). 0 or -1 (error set).
static int collect_round(collector* c, const collect_opts* o, const collect_tally* t,
                         nfp_rollout* r, collect_try** all, int* n) {
  const nfp_cluster* w = nfp_cluster_world();
  int left = o->max_attempts - t->attempts;
  collect_try mine = {.seed = o->seed0 + t->attempts + w->rank};
  if (w->rank < left) {
    double te = nfp_clock_seconds();
    if (collect_episode(c, (uint64_t)mine.seed, r)) return -1;
    mine.success = c->ep.success;
    mine.steps = r->steps;
    mine.wall_s = nfp_clock_seconds() - te;
  }
  void* buf = NULL;
  size_t* off = NULL;
  if (nfp_cluster_allgather(&mine, sizeof(mine), &buf, &off)) return -1;
  free(off);
  *all = buf;
  *n = w->size < left ? w->size : left;
  return 0;
}

// An outcome, settled in seed order on every rank as one process would: a failure is
// listed as skipped, a success becomes the next episode file, written by the rank that
// holds the episode (`mine`). Rank 0 counts and reports. 0 or -1 (error set).
static int collect_settle(collector* c, const collect_opts* o, collect_tally* t,
                          const collect_try* x, int mine) {
  t->attempts++;
  if (!x->success) {
    t->skipped[t->nskipped++] = (long long)x->seed;
    progress_item(&c->prog, 0, 0, 1);
    if (o->verbose && o->talk) {
      progress_printf(&c->prog, "seed %lld: expert failed after %d steps, skipped\n",
                      (long long)x->seed, x->steps);
    }
    return 0;
  }
  char path[4096];
  snprintf(path, sizeof(path), "%s/episode_%06d.hdf5", o->out, t->nsaved);
  if (mine && nfp_demo_write(path, &c->ep)) return -1;
  t->nsaved++;
  progress_item(&c->prog, 1, 0, 0);
  if (o->verbose && o->talk) {
    progress_printf(&c->prog, "seed %lld: success in %d steps (%.1f s) -> %s [%d/%d]\n",
                    (long long)x->seed, x->steps, x->wall_s, path, t->nsaved, o->episodes);
  }
  return 0;
}

// Seeds from --seed on, a round at a time, until --episodes are saved or --max-attempts
// are tried: each successful episode -> DIR/episode_NNNNNN.hdf5, each failure ->
// t->skipped; progress on stderr from rank 0. 0, or 1 (reported) on this rank alone: it
// calls no collective after that, main() ends the job.
static int collect_seeds(collector* c, const collect_opts* o, collect_tally* t) {
  nfp_rollout r = {0};
  int rc = 0, rank = nfp_cluster_world()->rank;
  char label[160];
  snprintf(label, sizeof(label), "collect %s", o->task_name);
  progress_spec ps = {.label = label, .unit = "episodes", .skipped = "skipped seeds",
                      .total = o->episodes, .silent = !o->talk};
  progress_start(&c->prog, &ps);
  while (!rc && t->nsaved < o->episodes && t->attempts < o->max_attempts) {
    collect_try* all = NULL;
    int n = 0;
    rc = collect_round(c, o, t, &r, &all, &n);
    // Seeds past the last episode needed are dropped, as one process never tries them.
    for (int k = 0; !rc && k < n && t->nsaved < o->episodes; k++) {
      rc = collect_settle(c, o, t, &all[k], k == rank);
    }
    free(all);
  }
  // Every rank's files are written before rank 0 says so.
  int pending = 0;
  if (!rc) rc = nfp_cluster_max_int(&pending);
  nfp_rollout_free(&r);
  progress_finish(&c->prog);
  if (rc) fprintf(stderr, "nfp collect: %s\n", nfp_error_last());
  return rc ? 1 : 0;
}

// The closing line (rank 0): episodes saved, seeds tried and the ones skipped.
static void collect_summary(const collect_opts* o, const collect_tally* t, double seconds) {
  if (!o->talk) return;
  printf("saved %d of %d episodes in %.1f s; tried seeds %lld..%lld", t->nsaved, o->episodes,
         seconds, o->seed0, o->seed0 + t->attempts - 1);
  printf("; skipped %d failed seed%s", t->nskipped, t->nskipped == 1 ? "" : "s");
  for (int i = 0; i < t->nskipped; i++) printf("%s%lld", i ? ", " : ": ", t->skipped[i]);
  printf("\n");
  fflush(stdout);  // before a failing job ends
}

// Were --episodes saved? Else rank 0 says so, before any rank may end the job (the ranks
// agree on it: they all wait here). 0 or 1.
static int collect_enough(const collect_opts* o, const collect_tally* t) {
  if (t->nsaved >= o->episodes) return 0;
  if (o->talk) {
    fprintf(stderr,
            "nfp collect: the expert succeeded on only %d of %d seeds (raise --max-attempts)\n",
            t->nsaved, t->attempts);
  }
  int said = 0;
  nfp_cluster_max_int(&said);
  return 1;
}

// The opening line (rank 0): what is collected where.
static void collect_header(const collect_opts* o) {
  if (!o->talk) return;
  printf("collecting %d %s episodes%s into %s, seeds from %lld", o->episodes, o->task_name,
         o->images ? " with head images" : "", o->out, o->seed0);
  if (o->noise > 0) printf(", execution perturbed by %.3g rad", o->noise);
  int ranks = nfp_cluster_world()->size;
  if (ranks > 1) printf(", %d MPI ranks trying a seed each", ranks);
  printf("\n");
  fflush(stdout);  // before the progress lines on stderr
}

// Flags -> output folder and collector -> an HDF5 file per successful seed -> summary.
int nfp_cmd_collect(int argc, char** argv) {
  collect_opts o = {.task_name = "lift_pot", .episodes = 50};
  int rc = collect_parse(&o, argc, argv);
  if (rc) return rc == 1 ? 0 : 2;
  if (collect_check(&o)) return 2;
  collector c;
  if (collect_open(&c, &o)) return 1;
  collect_tally t = {.skipped = calloc((size_t)o.max_attempts, sizeof(long long))};
  if (!t.skipped) {
    fprintf(stderr, "nfp collect: out of memory\n");
    collector_close(&c);
    return 1;
  }
  collect_header(&o);
  double t0 = nfp_clock_seconds();
  rc = collect_seeds(&c, &o, &t);
  collect_summary(&o, &t, nfp_clock_seconds() - t0);
  if (!rc) rc = collect_enough(&o, &t);
  free(t.skipped);
  collector_close(&c);
  return rc;
}
