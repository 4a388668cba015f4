// The head camera of an image policy, rendered in the viewer's own GL context.
//
// MuJoCo loads its GL entry points once per process, from whichever GL library made the
// last context (mjr_makeContext: GLX for the window, OSMesa for the simulated arms'
// offscreen renderer), so a window and an OSMesa renderer cannot take turns in one
// process: after the OSMesa context is made, the window's draws go through OSMesa's
// functions and crash. The viewer therefore gives the rollout arms of its own: they
// forward to the simulated arms and render the head camera into MuJoCo's offscreen
// buffer of the window's context (mjFB_OFFSCREEN + mjr_readPixels), with the scene
// options and camera of nfp_render_camera, only at the steps an image policy plans.
#ifndef NFP_APP_VIEW_CAMERA_H
#define NFP_APP_VIEW_CAMERA_H

#include <stdint.h>

#include <mujoco/mujoco.h>

#include "nfp/arms.h"
#include "nfp/tasks.h"

typedef struct {
  nfp_arms arms;         // what the rollout drives: sim's state, the camera from here
  nfp_arms* sim;         // the simulated arms it forwards to (not owned)
  nfp_task* task;
  mjrContext* con;       // the window's context, current on this thread
  mjvScene scn;
  mjvOption opt;
  mjvCamera cam;
  uint8_t* frame;        // [cam_h][cam_w][3], rows top-down: the last frame rendered
  int has_frame;
  long renders;          // head-camera frames rendered
  double render_ms;      // their total wall time
} view_camera;

// Wrap simulated arms; the window's context con must be current. 0 or -1 (error set).
int view_camera_init(view_camera* vc, nfp_arms* sim, mjrContext* con);
void view_camera_free(view_camera* vc);

#endif
