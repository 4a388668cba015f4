// nfp finetune: SERNF, RL fine-tuning of an imitation policy with an action-chunked critic
// (critic warm-up, offline RL, then a fixed budget of online episodes) on a task's arms.
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "bridge_flags.h"
#include "commands.h"
#include "files.h"
#include "finetune_log.h"
#include "nfp/arms_sim.h"
#include "nfp/checkpoint.h"
#include "nfp/demo.h"
#include "nfp/error.h"
#include "nfp/rl.h"
#include "nfp/tasks.h"
#include "policy_flags.h"
#include "stop_signal.h"

typedef struct {
  nfp_policy_flags pf;
  nfp_bridge_flags bridge;
  const char *task, *demos, *out, *resume, *log, *chart, *mode, *assets, *actor, *offline_out;
  int online, warmup, critic_steps, offline_steps, updates, batch, save_every, threads, quiet;
  int eval_episodes, first_chunks;
  long long seed, warmup_seed, online_seed, eval_seed;
  double gamma, critic_lr, actor_lr, beta, max_weight;
} finetune_opts;

// The policy's recorded task (nfp train stores the demos' task) against --task and the
// demos' own; a mismatch is refused before any time is spent.
static int check_task(const char* task, const nfp_meta* meta, const nfp_episode* eps, int n,
                      const finetune_opts* o) {
  const char* trained = nfp_meta_get(meta, "demo_task");
  if (trained && trained[0] && strcmp(trained, task)) {
    return nfp_error_set("the policy %s was trained on %s, not on --task %s", o->pf.path, trained,
                         task);
  }
  for (int e = 0; e < n; e++) {
    if (eps[e].task[0] && strcmp(eps[e].task, task)) {
      return nfp_error_set("--demos %s holds %s episodes (seed %lld), not --task %s", o->demos,
                           eps[e].task, (long long)eps[e].seed, task);
    }
  }
  return 0;
}

// Flags -> the run's configuration on top of the defaults for this policy.
static int make_config(nfp_finetune_config* c, const finetune_opts* o, const nfp_model* m) {
  nfp_finetune_config_default(c, m);
  nfp_sample_mode mode;
  if (nfp_sample_mode_parse(&mode, o->mode)) return nfp_error_wrap("--mode");
  nfp_agent_spec spec;
  nfp_policy_flags_spec(&spec, &o->pf, m, mode);
  c->act = spec.controller;
  c->online_episodes = o->online;
  c->warmup_episodes = o->warmup;
  c->critic_warmup_steps = o->critic_steps;
  c->offline_steps = o->offline_steps;
  c->updates_per_episode = o->updates;
  c->batch = o->batch;
  c->gamma = o->gamma;
  c->critic_lr = (float)o->critic_lr;
  c->actor_lr = (float)o->actor_lr;
  c->beta = (float)o->beta;
  c->max_weight = (float)o->max_weight;
  const char* kinds[] = {"awr", "awr-return", "filtered"};
  c->actor = -1;
  for (int k = 0; k < 3; k++) {
    if (!strcmp(o->actor, kinds[k])) c->actor = k;
  }
  if (c->actor < 0) {
    return nfp_error_set("--actor must be awr, awr-return or filtered, got '%s'", o->actor);
  }
  c->seed = (uint64_t)o->seed;
  c->warmup_seed = (uint64_t)o->warmup_seed;
  c->online_seed = (uint64_t)o->online_seed;
  return 0;
}

// Saving after every save_every-th online episode, and logging every episode.
typedef struct {
  const finetune_opts* o;
  nfp_finetune_log* log;
  int failed;
} run_ctx;

// Stop at the next boundary on a signal, or when a hook failed (its message is set).
static int stop_requested(void* ctx) { return nfp_stop_signal() != 0 || ((run_ctx*)ctx)->failed; }

static void on_episode(const nfp_finetune* ft, const nfp_finetune_episode* ep, void* ctx) {
  run_ctx* r = ctx;
  if (r->failed) return;
  int online = ep->index >= 0;
  if (online && (ep->index + 1) % r->o->save_every == 0 && nfp_finetune_save(ft, r->o->out)) {
    r->failed = 1;
    return;
  }
  if (nfp_finetune_log_episode(r->log, ft, ep, !r->o->quiet)) r->failed = 1;
}

// At the start of the online stage, the policy after offline RL alone (--offline-out).
static void on_stage(const nfp_finetune* ft, void* ctx) {
  run_ctx* r = ctx;
  if (ft->stage != NFP_FT_ONLINE || !r->o->offline_out || r->failed) return;
  if (nfp_finetune_save(ft, r->o->offline_out)) {
    r->failed = 1;
  } else if (!r->o->quiet) {
    printf("saved the policy after offline RL: %s\n", r->o->offline_out);
  }
}

static void on_updates(const nfp_finetune* ft, void* ctx) {
  run_ctx* r = ctx;
  if (r->o->quiet) return;
  printf("%s %d/%d updates: critic loss %.4g",
         ft->stage == NFP_FT_CRITIC ? "critic warm-up" : "offline RL", ft->stage_step,
         ft->stage == NFP_FT_CRITIC ? ft->cfg.critic_warmup_steps : ft->cfg.offline_steps,
         ft->n_critic ? ft->critic_loss_sum / (double)ft->n_critic : NAN);
  if (ft->n_actor) printf(", advantage weight %.3g", ft->weight_sum / (double)ft->n_actor);
  printf("\n");
  fflush(stdout);
}

// Everything loaded -> the stages run on the task's simulated arms -> saved.
static int run(const finetune_opts* o, nfp_model* policy, const nfp_episode* eps, int n_eps) {
  nfp_finetune_config cfg;
  nfp_finetune ft;
  if (make_config(&cfg, o, policy) || nfp_finetune_init(&ft, policy, eps, n_eps, &cfg)) return -1;
  snprintf(ft.task, sizeof(ft.task), "%s", o->task);
  int rc = -1;
  nfp_arms* arms = NULL;
  nfp_finetune_log* log = NULL;
  if (o->resume && nfp_finetune_resume(&ft, o->resume)) goto done;
  arms = o->bridge.endpoint ? nfp_bridge_flags_connect(&o->bridge, o->task)
                            : nfp_arms_sim_create(o->task, o->assets);
  log = nfp_finetune_log_open(o->log, o->chart, !!o->resume);
  if (!arms || !log) goto done;
  if (!o->quiet) {
    printf(
        "fine-tuning %s on %s: %d demo transitions, stage %d, %d online episodes, "
        "critic %d parameters, chunk of %d steps executed\n",
        o->pf.path, o->task, ft.buf.n, ft.stage, cfg.online_episodes, (int)ft.critic.num_params,
        ft.exec_steps);
  }
  run_ctx ctx = {.o = o, .log = log};
  ft.on_episode = on_episode;
  ft.on_updates = on_updates;
  ft.on_stage = on_stage;
  ft.on_episode_ctx = &ctx;
  ft.stop = stop_requested;
  ft.stop_ctx = &ctx;
  int r = nfp_finetune_run(&ft, arms);
  if (r == 0 && !ctx.failed && o->eval_episodes > 0) {
    nfp_finetune_eval ev;
    if (nfp_finetune_evaluate(&ft, arms, (uint64_t)o->eval_seed, o->eval_episodes, o->first_chunks,
                              &ev) ||
        nfp_finetune_log_eval(log, &ev, (uint64_t)o->eval_seed)) {
      r = -1;
    }
  }
  if (r < 0 || ctx.failed || nfp_finetune_save(&ft, o->out) ||
      nfp_finetune_log_close(log, ft.cfg.online_episodes)) {
    log = NULL;
    goto done;
  }
  log = NULL;
  printf("%s %s (stage %d, %d online episodes done, %d transitions)\n",
         r == 1 ? "stopped; saved" : "saved", o->out, ft.stage,
         ft.stage == NFP_FT_ONLINE  ? ft.stage_step
         : ft.stage > NFP_FT_ONLINE ? cfg.online_episodes
                                    : 0,
         ft.buf.n);
  rc = r == 1 ? 128 + nfp_stop_signal() : 0;
done:
  if (log) nfp_finetune_log_close(log, 0);
  nfp_arms_close(arms);
  nfp_finetune_free(&ft);
  return rc;
}

// The defaults of every flag.
static void opts_default(finetune_opts* o) {
  *o = (finetune_opts){.online = 100, .warmup = 50, .critic_steps = 2000, .offline_steps = 500,
                       .updates = 20, .batch = 256, .save_every = 1, .threads = 1,
                       .eval_episodes = 100, .first_chunks = 3, .eval_seed = 100000, .seed = 1,
                       .warmup_seed = 200000, .online_seed = 300000, .gamma = 0.998,
                       .critic_lr = 3e-4, .actor_lr = 1e-5, .beta = 30, .max_weight = 20,
                       .mode = "sbs", .actor = "awr"};
  nfp_policy_flags_default(&o->pf);
  nfp_bridge_flags_default(&o->bridge);
}

// argv -> o through the flag table. 0 go on, 1 --help printed, 2 bad flags (reported).
static int finetune_parse(finetune_opts* o, int argc, char** argv) {
  nfp_arg args[30 + NFP_POLICY_NARGS + NFP_BRIDGE_NARGS] = {
      {"--task", NFP_ARG_STR, &o->task, "NAME", "the task the policy was imitated on", 0, 0, 1},
      {"--demos", NFP_ARG_STR, &o->demos, "DIR", "its demos (the offline data)", 0, 0, 1},
      {"--out", NFP_ARG_STR, &o->out, "FILE",
       "the fine-tuned policy and the resumable state (.safetensors; nfp eval loads it)", 0, 0, 1},
      {"--online-episodes", NFP_ARG_INT, &o->online, "N", "online episodes (the budget)", 1, 1e6, 0},
      {"--warmup-episodes", NFP_ARG_INT, &o->warmup, "N",
       "rollouts of the imitation policy for the offline data", 0, 1e6, 0},
      {"--critic-steps", NFP_ARG_INT, &o->critic_steps, "N", "critic warm-up updates", 0, 1e8, 0},
      {"--offline-steps", NFP_ARG_INT, &o->offline_steps, "N", "offline RL updates", 0, 1e8, 0},
      {"--updates", NFP_ARG_INT, &o->updates, "N", "updates after each online episode", 0, 1e6, 0},
      {"--batch", NFP_ARG_INT, &o->batch, "N", "transitions per update", 2, 65536, 0},
      {"--gamma", NFP_ARG_DOUBLE, &o->gamma, "X", "discount per control step", 1e-6, 1, 0},
      {"--critic-lr", NFP_ARG_DOUBLE, &o->critic_lr, "X", "critic learning rate", 1e-9, 1, 0},
      {"--actor-lr", NFP_ARG_DOUBLE, &o->actor_lr, "X",
       "actor learning rate (0: the critic learns, the policy stays)", 0, 1, 0},
      {"--actor", NFP_ARG_STR, &o->actor, "HOW",
       "awr: likelihood weighted by exp(beta (Q(o, c) - V(o))); awr-return: the same with the "
       "return observed after c in place of Q; filtered: likelihood of successful episodes' "
       "chunks only (the baseline without a critic)",
       0, 0, 0},
      {"--beta", NFP_ARG_DOUBLE, &o->beta, "X", "advantage weight exp(beta A)", 0, 1e4, 0},
      {"--max-weight", NFP_ARG_DOUBLE, &o->max_weight, "X", "cap on the weight", 1, 1e6, 0},
      {"--mode", NFP_ARG_STR, &o->mode, "M", "how the policy acts in rollouts: single, sbs or gr", 0,
       0, 0},
      {"--seed", NFP_ARG_SEED, &o->seed, "S", "seeds the updates' sampling", 0, 9e18, 0},
      {"--warmup-seed", NFP_ARG_SEED, &o->warmup_seed, "S", "first seed of the warm-up rollouts", 0,
       9e18, 0},
      {"--online-seed", NFP_ARG_SEED, &o->online_seed, "S", "first seed of the online episodes", 0,
       9e18, 0},
      {"--eval-episodes", NFP_ARG_INT, &o->eval_episodes, "N",
       "closing evaluation episodes of the fine-tuned policy (0: none)", 0, 1e6, 0},
      {"--eval-seed", NFP_ARG_SEED, &o->eval_seed, "S",
       "their first seed (keep it apart from demos, warm-up and online seeds)", 0, 9e18, 0},
      {"--first-chunks", NFP_ARG_INT, &o->first_chunks, "K",
       "chunks at an episode's start that predict its outcome (AUROC)", 1, 1000, 0},
      {"--offline-out", NFP_ARG_STR, &o->offline_out, "FILE",
       "also save the policy as it stands after offline RL, before any online episode", 0, 0, 0},
      {"--resume", NFP_ARG_STR, &o->resume, "FILE", "continue a run saved in FILE", 0, 0, 0},
      {"--save-every", NFP_ARG_INT, &o->save_every, "N", "save after every N online episodes", 1,
       1e6, 0},
      {"--log", NFP_ARG_STR, &o->log, "FILE",
       "one JSON line per episode (default: --out with .episodes.jsonl)", 0, 0, 0},
      {"--chart", NFP_ARG_STR, &o->chart, "FILE",
       "success rate and the critic's estimate over online episodes (default: --out with .png)", 0,
       0, 0},
      {"--threads", NFP_ARG_INT, &o->threads, "N", "OpenBLAS threads", 1, 256, 0},
      {"--assets", NFP_ARG_STR, &o->assets, "DIR", "task assets folder", 0, 0, 0},
      {"--quiet", NFP_ARG_FLAG, &o->quiet, NULL, "print only the final line", 0, 0, 0},
  };
  int nargs = 30;
  nfp_policy_flags_args(args + nargs, &o->pf);
  args[nargs].help = "the imitation policy (nfp train / nfp export output)";
  args[nargs].required = 1;
  nargs += NFP_POLICY_NARGS;
  nfp_bridge_flags_args(args + nargs, &o->bridge);
  nargs += NFP_BRIDGE_NARGS;
  return nfp_args_parse(argc, argv, args, nargs,
                           "nfp finetune --policy P --task T --demos DIR "
                           "--out FILE [options]",
                           "SERNF: fine-tune a state policy by offline-to-online RL with an "
                           "action-chunked critic; the output loads in nfp eval.\n"
                           "Rollouts run on the simulated --task, or on the rig behind --arms "
                           "(its success signal is the reward).");
}

int nfp_cmd_finetune(int argc, char** argv) {
  finetune_opts o;
  opts_default(&o);
  int prc = finetune_parse(&o, argc, argv);
  if (prc) return prc == 1 ? 0 : 2;
  openblas_set_num_threads(o.threads);
  if (nfp_bridge_flags_check(&o.bridge)) {
    fprintf(stderr, "nfp finetune: %s\n", nfp_error_last());
    return 2;
  }
  char *log = NULL, *chart = NULL;
  nfp_meta meta = {0};
  nfp_model* policy = NULL;
  nfp_episode* eps = NULL;
  int n_eps = -1, rc = 1;
  if (!nfp_task_find(o.task)) {
    nfp_error_set("unknown --task %s (nfp --help lists the tasks)", o.task);
    goto fail;
  }
  log = nfp_finetune_log_path(o.out, o.log, ".episodes.jsonl");
  chart = nfp_finetune_log_path(o.out, o.chart, ".png");
  if (!log || !chart || nfp_file_check_writable(o.out)) goto fail;
  o.log = log;
  o.chart = chart;
  policy = nfp_checkpoint_load(o.pf.path, NULL, &meta);
  if (!policy) goto fail;
  n_eps = nfp_demo_read_folder(o.demos, &eps, 0);
  if (n_eps < 0) goto fail;
  if (n_eps == 0) {
    nfp_error_set("--demos %s holds no episodes", o.demos);
    goto fail;
  }
  if (check_task(o.task, &meta, eps, n_eps, &o)) goto fail;
  nfp_stop_signals_catch();
  rc = run(&o, policy, eps, n_eps);
  if (rc >= 0) goto done;
fail:
  fprintf(stderr, "nfp finetune: %s\n", nfp_error_last());
  rc = 1;
done:
  if (n_eps > 0) nfp_demo_free_all(eps, n_eps);
  nfp_model_free(policy);
  nfp_meta_free(&meta);
  free(log);
  free(chart);
  return rc;
}
