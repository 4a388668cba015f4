// nfp: train, run and evaluate Normalizing Flows Policies on bi-manual tasks.
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "nfp/tasks.h"

typedef struct {
  const char* name;
  int (*run)(int argc, char** argv);
  const char* summary;
} verb;

static const verb verbs[] = {
    {"collect", nfp_cmd_collect, "run a task's scripted expert and save successful episodes as HDF5 demos"},
    {"train", nfp_cmd_train, "train an NF-P policy on demos by exact negative log-likelihood"},
    {"eval", nfp_cmd_eval, "headless success-rate evaluation of an expert or a policy"},
    {"view", nfp_cmd_view, "watch a rollout live in a window (or save screenshots)"},
    {"export", nfp_cmd_export, "strip a training checkpoint down to the deployable policy"},
    {"bench", nfp_cmd_bench, "measure policy latency and training speed (JSON report)"},
    {"run", nfp_cmd_run, "drive a rig (an arm server, or the simulator) with a policy"},
    {"arms", nfp_cmd_arms, "serve a rig over the ZeroMQ bridge; query or e-stop a server"},
    {"keys", nfp_cmd_keys, "make CURVE key pairs for the arm bridge"},
    {"inspect", nfp_cmd_inspect, "show what a checkpoint, policy or episode file holds"},
    {"version", nfp_cmd_version, "print the version of nfp, MuJoCo and OpenBLAS"},
};
static const int nverbs = (int)(sizeof(verbs) / sizeof(verbs[0]));

static void usage(FILE* f) {
  fprintf(f,
          "usage: nfp VERB [options]     (nfp VERB --help for a verb's options)\n\n"
          "verbs:\n");
  for (int i = 0; i < nverbs; i++) fprintf(f, "  %-8s %s\n", verbs[i].name, verbs[i].summary);
  fprintf(f, "\ntasks: %s\n", nfp_task_names());
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
    if (!strcmp(argv[1], verbs[i].name)) return verbs[i].run(argc - 1, argv + 1);
  }
  fprintf(stderr, "nfp: unknown verb '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}
