// The task registry: every task is one source file with one nfp_task_def.
#include <stdlib.h>
#include <string.h>

#include "nfp/tasks.h"

extern const nfp_task_def nfp_task_lift_pot;
extern const nfp_task_def nfp_task_stack_block_two;
extern const nfp_task_def nfp_task_beat_block_hammer;
extern const nfp_task_def nfp_task_handover_block;
extern const nfp_task_def nfp_task_towel_folding;

static const nfp_task_def* const kTasks[] = {
  &nfp_task_lift_pot,
  &nfp_task_stack_block_two,
  &nfp_task_beat_block_hammer,
  &nfp_task_handover_block,
  &nfp_task_towel_folding,
};
#define NTASKS ((int)(sizeof(kTasks) / sizeof(kTasks[0])))

int nfp_task_count(void) { return NTASKS; }

const nfp_task_def* nfp_task_at(int i) { return i >= 0 && i < NTASKS ? kTasks[i] : NULL; }

const nfp_task_def* nfp_task_find(const char* name) {
  if (!name) return NULL;
  for (int i = 0; i < NTASKS; i++) {
    if (strcmp(kTasks[i]->name, name) == 0) return kTasks[i];
  }
  return NULL;
}

const char* nfp_task_names(void) {
  // Rebuilt on every call from constant data, so concurrent callers write the same bytes.
  static char names[512];
  size_t n = 0;
  names[0] = '\0';
  for (int i = 0; i < NTASKS; i++) {
    size_t len = strlen(kTasks[i]->name);
    if (n + len + 3 > sizeof(names)) break;
    if (i) names[n++] = ',', names[n++] = ' ';
    memcpy(names + n, kTasks[i]->name, len + 1);
    n += len;
  }
  return names;
}

const char* nfp_asset_dir(void) {
  const char* env = getenv("NFP_ASSETS");
  return env && env[0] ? env : NFP_ASSET_DIR_DEFAULT;
}
