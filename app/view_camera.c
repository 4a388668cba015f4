// Head-camera frames for image policies from the viewer's GL context (see view_camera.h).
#include "view_camera.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nfp/arms_sim.h"
#include "nfp/clock.h"
#include "nfp/error.h"

#define VIEW_CAMERA_MAX_GEOM 2000   // as nfp_render's scene

static view_camera* camera_of(nfp_arms* a) { return (view_camera*)a->impl; }

static int cam_reset(nfp_arms* a, uint64_t seed) {
  view_camera* vc = camera_of(a);
  vc->has_frame = 0;
  return nfp_arms_reset(vc->sim, seed);
}

// The frame as nfp_render_camera makes it: default options, the fixed head camera,
// a cam_w x cam_h viewport of the offscreen buffer, rows flipped to top-down.
static void cam_render(view_camera* vc) {
  double t0 = nfp_clock_seconds();
  const nfp_task* t = vc->task;
  int w = vc->arms.info.cam_w, h = vc->arms.info.cam_h;
  mjv_updateScene(t->m, t->d, &vc->opt, NULL, &vc->cam, mjCAT_ALL, &vc->scn);
  mjr_setBuffer(mjFB_OFFSCREEN, vc->con);
  mjrRect viewport = {0, 0, w, h};
  mjr_render(viewport, &vc->scn, vc->con);
  mjr_readPixels(vc->frame, NULL, viewport, vc->con);
  mjr_setBuffer(mjFB_WINDOW, vc->con);
  size_t row = (size_t)w * 3;
  for (int y = 0; y < h / 2; y++) {
    uint8_t* a = vc->frame + (size_t)y * row;
    uint8_t* b = vc->frame + (size_t)(h - 1 - y) * row;
    for (size_t i = 0; i < row; i++) {
      uint8_t c = a[i];
      a[i] = b[i];
      b[i] = c;
    }
  }
  vc->has_frame = 1;
  vc->renders++;
  vc->render_ms += 1e3 * (nfp_clock_seconds() - t0);
}

static int cam_observe(nfp_arms* a, nfp_arms_obs* obs, int with_image) {
  view_camera* vc = camera_of(a);
  if (nfp_arms_observe(vc->sim, obs, 0)) return -1;
  if (with_image) {
    cam_render(vc);
    obs->image = vc->frame;
  }
  return 0;
}

static int cam_command(nfp_arms* a, const double* target, int hold) {
  return nfp_arms_command(camera_of(a)->sim, target, hold);
}

static int cam_step(nfp_arms* a) { return nfp_arms_step(camera_of(a)->sim); }

// The viewer closes the simulated arms and frees the camera itself.
static void cam_close(nfp_arms* a) { (void)a; }

static const nfp_arms_ops cam_ops = {cam_reset, cam_observe, cam_command, cam_step, cam_close};

int view_camera_init(view_camera* vc, nfp_arms* sim, mjrContext* con) {
  memset(vc, 0, sizeof(*vc));
  vc->sim = sim;
  vc->task = nfp_arms_sim_task(sim);
  vc->con = con;
  vc->arms.ops = &cam_ops;
  vc->arms.info = sim->info;
  vc->arms.impl = vc;
  if (!vc->task || vc->task->rig.head_camera < 0) {
    return nfp_error_set("viewer: %s has no head camera to show an image policy", sim->info.name);
  }
  int w = sim->info.cam_w, h = sim->info.cam_h;
  if (w <= 0 || h <= 0) return nfp_error_set("viewer: %s reports no camera size", sim->info.name);
  vc->frame = malloc((size_t)w * h * 3);
  if (!vc->frame) return nfp_error_set("viewer: out of memory for camera frames");
  mjv_defaultOption(&vc->opt);
  mjv_defaultCamera(&vc->cam);
  vc->cam.type = mjCAMERA_FIXED;
  vc->cam.fixedcamid = vc->task->rig.head_camera;
  mjv_defaultScene(&vc->scn);
  mjv_makeScene(vc->task->m, &vc->scn, VIEW_CAMERA_MAX_GEOM);
  // The model's <visual><global offwidth offheight> may be smaller than the camera.
  if (con->offWidth < w || con->offHeight < h) {
    mjr_resizeOffscreen(con->offWidth > w ? con->offWidth : w,
                        con->offHeight > h ? con->offHeight : h, con);
  }
  mjr_setBuffer(mjFB_OFFSCREEN, con);
  int ok = con->currentBuffer == mjFB_OFFSCREEN;
  mjr_setBuffer(mjFB_WINDOW, con);
  if (!ok) return nfp_error_set("viewer: MuJoCo could not set up its offscreen framebuffer");
  return 0;
}

void view_camera_free(view_camera* vc) {
  mjv_freeScene(&vc->scn);
  free(vc->frame);
  memset(vc, 0, sizeof(*vc));
}
