// nfp eval --video: the first episodes of every batch rendered offscreen (OSMesa, no
// display) from a camera of the scene at each control step, one MP4 per episode with the
// task, mode, seed, step, chunk log p and outcome drawn on; it plays in real time (a frame
// per control step) and holds the last frame a second. Rendering reads the
// simulation and touches neither its state nor any random stream: outcomes are unchanged.
#ifndef NFP_APP_EVAL_VIDEO_H
#define NFP_APP_EVAL_VIDEO_H

#include <stdint.h>

#include "args.h"
#include "nfp/agent.h"
#include "nfp/arms.h"
#include "nfp/render.h"
#include "nfp/rollout.h"
#include "nfp/tasks.h"
#include "nfp/video.h"

#define EVAL_VIDEO_DEFAULT_EPISODES 3
#define EVAL_VIDEO_DEFAULT_CAMERA "head"
#define EVAL_VIDEO_HOLD_S 1.0  // the last frame, with the outcome, stays this long

typedef struct {
  const char* dir;     // --video DIR (NULL: no videos)
  int episodes;        // --video-episodes N: the first N of each batch
  const char* camera;  // --camera NAME (NULL: not given)
} eval_video_opts;

#define EVAL_VIDEO_NARGS 3

// Fill args[0..EVAL_VIDEO_NARGS) pointing into o, o holding the defaults.
void eval_video_args(nfp_arg* args, eval_video_opts* o);
// The flags checked together, defaults filled in: the camera is in every task's scene
// (task, or every task when all), DIR is a folder this process can write into (made when
// missing), no --arms (bridge). 0 to go on, else the exit code (message on stderr).
int eval_video_check(eval_video_opts* o, const char* task, int all, const char* assets,
                     int bridge);

// A worker's recorder: made on its thread, as its renderer must be.
typedef struct {
  const eval_video_opts* opts;
  nfp_task* task;          // the simulated scene rendered
  nfp_renderer* renderer;  // made at the worker's first recorded episode
  uint8_t* frame;          // [h][w][3]
  int w, h, camera;        // the head camera's frame size; camera id in the scene
  nfp_video* video;        // open during a recorded episode
  char path[4096];         // DIR/<task>_<mode>_seed<S>.mp4
  char title[256];         // overlay line 1: task, mode, seed
  double task_hz;          // the control rate: frames per second
  double loglik;           // log p of the chunk being executed
} eval_video;

// Episode ro just begun on simulated arms -> its video opened, the first frame written.
// 0 or -1 (error set).
int eval_video_begin(eval_video* ev, nfp_arms* arms, const char* task, const char* label,
                     const nfp_rollout* ro);
// A control step taken (s: what the agent did) -> one frame. 0 or -1 (error set).
int eval_video_step(eval_video* ev, const nfp_rollout* ro, const nfp_agent_step* s);
// The episode is over with status st (0, or -1 when it failed): the video is finished
// and moved into place, or dropped when st is -1. Returns st, or -1 when finishing failed.
int eval_video_end(eval_video* ev, int st);
void eval_video_free(eval_video* ev);

#endif
