// What the viewer draws of a policy: the planned chunk as gripper paths in the scene
// (SBS candidates faint, the executed chunk bold) and the chunk log-likelihood over time.
#ifndef NFP_APP_VIEW_PLAN_H
#define NFP_APP_VIEW_PLAN_H

#include <mujoco/mujoco.h>

#include "nfp/sampler.h"
#include "nfp/tasks.h"

#define VIEW_PLAN_MAX_CAND 32   // candidates drawn (of up to 128)
#define VIEW_PLAN_HISTORY 400   // log-likelihood points kept

typedef struct {
  mjData* scratch;       // forward kinematics of planned targets (never stepped)
  float* candidates;     // [VIEW_PLAN_MAX_CAND][horizon][action_dim]
  int n_cand;
  int horizon, action_dim;
  mjvFigure figure;      // log-likelihood per control step
  int n_points;
} view_plan;

int view_plan_init(view_plan* p, const mjModel* m, int horizon, int action_dim);
void view_plan_free(view_plan* p);
void view_plan_clear(view_plan* p);
// After a control step: remember the candidates of a new plan and the log-likelihood.
void view_plan_record(view_plan* p, nfp_controller* c, int planned, double loglik);
// Add the paths to the scene (after mjv_updateScene).
void view_plan_draw(view_plan* p, mjvScene* scn, const nfp_task* t, const float* chunk);
// Draw the log-likelihood figure in the bottom-right corner of the viewport.
void view_plan_figure(view_plan* p, mjrRect viewport, const mjrContext* con);

#endif
