// The simulated rig as an nfp_arms: a task's MuJoCo scene stepped in process.
#ifndef NFP_ARMS_SIM_H
#define NFP_ARMS_SIM_H

#include "nfp/arms.h"
#include "nfp/tasks.h"

#ifdef __cplusplus
extern "C" {
#endif

// Load task `name` from asset_dir (NULL: nfp_asset_dir()). The head camera is rendered
// offscreen (OSMesa) on the first observe that asks for it, on the calling thread.
// NULL with a message (unknown task, broken asset).
nfp_arms* nfp_arms_sim_create(const char* name, const char* asset_dir);

// The task behind simulated arms (for the scripted expert, the viewer and recording);
// NULL when `a` is not a simulated rig.
nfp_task* nfp_arms_sim_task(nfp_arms* a);

#ifdef __cplusplus
}
#endif
#endif
