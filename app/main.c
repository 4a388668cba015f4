// nfp: train, run and evaluate Normalizing Flows Policies on bi-manual tasks.
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "nfp/cluster.h"
#include "nfp/error.h"
#include "nfp/tasks.h"

typedef struct {
  const char* name;
  int (*run)(int argc, char** argv);
  const char* summary;
  int ranks;  // runs as several MPI processes (mpirun -np N): 1 yes, 0 one process only
} verb;

static const verb verbs[] = {
    {"collect", nfp_cmd_collect,
     "run a task's scripted expert and save successful episodes as HDF5 demos", 1},
    {"train", nfp_cmd_train, "train an NF-P policy on demos by exact negative log-likelihood", 1},
    {"finetune", nfp_cmd_finetune, "fine-tune a policy by RL with an action-chunked critic", 0},
    {"eval", nfp_cmd_eval, "headless success-rate evaluation of an expert or a policy", 1},
    {"view", nfp_cmd_view, "watch a rollout live in a window (or save screenshots)", 0},
    {"export", nfp_cmd_export, "strip a training checkpoint down to the deployable policy", 0},
    {"bench", nfp_cmd_bench, "measure policy latency and training speed (JSON report)", 1},
    {"run", nfp_cmd_run, "drive a rig (an arm server, or the simulator) with a policy", 0},
    {"arms", nfp_cmd_arms, "serve a rig over the ZeroMQ bridge; query or e-stop a server", 0},
    {"keys", nfp_cmd_keys, "make CURVE key pairs for the arm bridge", 0},
    {"inspect", nfp_cmd_inspect, "show what a checkpoint, policy or episode file holds", 0},
    {"version", nfp_cmd_version, "print the version of nfp, MuJoCo and OpenBLAS", 0},
};
static const int nverbs = (int)(sizeof(verbs) / sizeof(verbs[0]));

static void usage(FILE* f) {
  fprintf(f,
          "usage: nfp VERB [options]     (nfp VERB --help for a verb's options)\n\n"
          "verbs:\n");
  for (int i = 0; i < nverbs; i++) fprintf(f, "  %-8s %s\n", verbs[i].name, verbs[i].summary);
  fprintf(f, "\ntasks: %s\n", nfp_task_names());
}

// One verb in this process, one of an MPI job's ranks or alone. A rank that fails ends
// the whole job (the others may be waiting for it in a collective).
static int run_verb(const verb* v, int argc, char** argv) {
  if (nfp_cluster_init() != 0) {
    fprintf(stderr, "nfp %s: %s\n", v->name, nfp_error_last());
    return 1;
  }
  const nfp_cluster* w = nfp_cluster_world();
  if (w->size > 1 && !v->ranks) {
    if (w->rank == 0) {
      fprintf(stderr, "nfp %s runs as one process; under mpirun -np N use collect, train, "
                      "eval or bench --ranks\n", v->name);
    }
    nfp_cluster_finalize();
    return 2;
  }
  int rc = v->run(argc, argv);
  // 128 + a signal: every rank agreed to stop (train saves first), no need to kill them.
  if (rc != 0 && rc < 128 && w->size > 1) {
    fflush(stdout);
    fflush(stderr);
    nfp_cluster_abort(rc);
  }
  nfp_cluster_finalize();
  return rc;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
    return nfp_cmd_version(argc - 1, argv + 1);
  }
  for (int i = 0; i < nverbs; i++) {
    if (!strcmp(argv[1], verbs[i].name)) return run_verb(&verbs[i], argc - 1, argv + 1);
  }
  fprintf(stderr, "nfp: unknown verb '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}
