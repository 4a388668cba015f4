#include "view_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nfp/error.h"

int view_plan_init(view_plan* p, const mjModel* m, int horizon, int action_dim) {
  memset(p, 0, sizeof(*p));
  p->horizon = horizon;
  p->action_dim = action_dim;
  p->scratch = mj_makeData(m);
  p->candidates = malloc(sizeof(float) * VIEW_PLAN_MAX_CAND * (size_t)horizon * action_dim);
  if (!p->scratch || !p->candidates) return nfp_error_set("viewer: out of memory");
  mjv_defaultFigure(&p->figure);
  snprintf(p->figure.title, sizeof(p->figure.title), "chunk log-likelihood");
  snprintf(p->figure.xlabel, sizeof(p->figure.xlabel), "control step");
  snprintf(p->figure.linename[0], sizeof(p->figure.linename[0]), "log p");
  p->figure.figurergba[3] = 0.5f;
  p->figure.flg_extend = 1;   // x grows with the steps
  // y fits the data (min >= max: automatic): log p lives far from 0, and a range from
  // 0 would flatten the dips that matter.
  p->figure.range[1][0] = p->figure.range[1][1] = 0;
  return 0;
}

void view_plan_free(view_plan* p) {
  if (p->scratch) mj_deleteData(p->scratch);
  free(p->candidates);
  memset(p, 0, sizeof(*p));
}

void view_plan_clear(view_plan* p) {
  p->n_cand = 0;
  p->n_points = 0;
  p->figure.linepnt[0] = 0;
}

void view_plan_record(view_plan* p, nfp_controller* c, int planned, double loglik) {
  if (planned) p->n_cand = nfp_controller_candidates(c, p->candidates, VIEW_PLAN_MAX_CAND);
  mjvFigure* f = &p->figure;
  int n = f->linepnt[0];
  if (n == VIEW_PLAN_HISTORY || n == mjMAXLINEPNT) {  // scroll: drop the oldest point
    memmove(f->linedata[0], f->linedata[0] + 2, sizeof(float) * 2 * (size_t)(n - 1));
    n--;
  }
  f->linedata[0][2 * n] = (float)p->n_points++;
  f->linedata[0][2 * n + 1] = (float)loglik;
  f->linepnt[0] = n + 1;
}

// Gripper positions of each chunk step: forward kinematics of the targets.
static void chunk_sites(view_plan* p, const nfp_task* t, const float* chunk, mjtNum* out) {
  double q[NFP_NJ];
  for (int k = 0; k < p->horizon; k++) {
    for (int j = 0; j < NFP_NJ; j++) q[j] = chunk[k * p->action_dim + j];
    mju_copy(p->scratch->qpos, t->d->qpos, t->m->nq);
    nfp_rig_set_qpos(p->scratch, &t->rig, q);
    mj_kinematics(t->m, p->scratch);
    for (int arm = 0; arm < 2; arm++) {
      mju_copy3(out + 3 * (2 * k + arm), p->scratch->site_xpos + 3 * t->rig.grasp_site[arm]);
    }
  }
}

static void add_path(mjvScene* scn, const mjtNum* sites, int horizon, const float rgba[4],
                     double width) {
  for (int arm = 0; arm < 2; arm++) {
    for (int k = 0; k < horizon && scn->ngeom < scn->maxgeom; k++) {
      const mjtNum* a = sites + 3 * (2 * k + arm);
      mjvGeom* g = scn->geoms + scn->ngeom++;
      mjtNum size[3] = {1.6 * width, 0, 0};
      mjv_initGeom(g, mjGEOM_SPHERE, size, a, NULL, rgba);
      g->category = mjCAT_DECOR;
      if (k + 1 < horizon && scn->ngeom < scn->maxgeom) {
        g = scn->geoms + scn->ngeom++;
        mjv_initGeom(g, mjGEOM_CAPSULE, NULL, NULL, NULL, rgba);
        mjv_connector(g, mjGEOM_CAPSULE, width, a, sites + 3 * (2 * (k + 1) + arm));
        g->category = mjCAT_DECOR;
      }
    }
  }
}

void view_plan_draw(view_plan* p, mjvScene* scn, const nfp_task* t, const float* chunk) {
  mjtNum sites[2 * 3 * 64];
  if (p->horizon > 64) return;
  const float faint[4] = {0.3f, 0.6f, 1.0f, 0.15f};
  const float bold[4] = {1.0f, 0.55f, 0.1f, 0.9f};
  for (int c = 0; c < p->n_cand; c++) {
    chunk_sites(p, t, p->candidates + (size_t)c * p->horizon * p->action_dim, sites);
    add_path(scn, sites, p->horizon, faint, 0.002);
  }
  if (chunk) {
    chunk_sites(p, t, chunk, sites);
    add_path(scn, sites, p->horizon, bold, 0.004);
  }
}

void view_plan_figure(view_plan* p, mjrRect viewport, const mjrContext* con) {
  if (p->figure.linepnt[0] == 0) return;
  int w = viewport.width / 3, h = viewport.height / 4;
  // Title, tick labels and axis label take about 150 px: keep room for the plot itself
  // in small windows.
  if (h < 240) h = viewport.height / 2 < 240 ? viewport.height / 2 : 240;
  if (w < 360) w = viewport.width / 2 < 360 ? viewport.width / 2 : 360;
  mjrRect r = {viewport.left + viewport.width - w, viewport.bottom, w, h};
  mjr_figure(r, &p->figure, con);
}
