// nfp eval --video: flags, checks and the per-worker recorder (see eval_video.h).
#include "eval_video.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "files.h"
#include "nfp/arms_sim.h"
#include "nfp/error.h"

void eval_video_args(nfp_arg* args, eval_video_opts* o) {
  o->episodes = EVAL_VIDEO_DEFAULT_EPISODES;
  args[0] = (nfp_arg){"--video", NFP_ARG_STR, &o->dir, "DIR",
                      "write an MP4 of the first episodes of each mode here, "
                      "DIR/<task>_<mode>_seed<S>.mp4 (rendered offscreen at the control rate; "
                      "outcomes unchanged, their wall time includes the rendering)", 0, 0, 0};
  args[1] = (nfp_arg){"--video-episodes", NFP_ARG_INT, &o->episodes, "N",
                      "episodes recorded per mode with --video", 1, 1e6, 0};
  args[2] = (nfp_arg){"--camera", NFP_ARG_STR, &o->camera, "NAME",
                      "scene camera of the --video recordings (default: head, what an image "
                      "policy sees)", 0, 0, 0};
}

// The cameras of m as "a, b, c" into buf.
static void camera_names(const mjModel* m, char* buf, size_t cap) {
  buf[0] = '\0';
  for (int i = 0; i < m->ncam; i++) {
    const char* name = mj_id2name(m, mjOBJ_CAMERA, i);
    size_t n = strlen(buf);
    snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", name ? name : "(unnamed)");
  }
  if (!m->ncam) snprintf(buf, cap, "none");
}

// The camera `name` is in task's scene. 0, or -1 with the error naming the cameras there.
static int camera_check(const char* task, const char* assets, const char* name) {
  nfp_task* t = nfp_task_create(task, assets);
  if (!t) return -1;
  int rc = 0;
  if (mj_name2id(t->m, mjOBJ_CAMERA, name) < 0) {
    char names[1024];
    camera_names(t->m, names, sizeof(names));
    rc = nfp_error_set("--camera: %s has no camera '%s' (its cameras: %s)", task, name, names);
  }
  nfp_task_free(t);
  return rc;
}

int eval_video_check(eval_video_opts* o, const char* task, int all, const char* assets,
                     int bridge) {
  if (!o->dir) {
    if (o->episodes == EVAL_VIDEO_DEFAULT_EPISODES && !o->camera) return 0;
    fprintf(stderr, "nfp eval: --video-episodes and --camera go with --video DIR\n");
    return 2;
  }
  if (bridge) {
    fprintf(stderr, "nfp eval: --video renders the in-process simulator; it cannot record an "
                    "arm server (--arms)\n");
    return 2;
  }
  if (!o->camera) o->camera = EVAL_VIDEO_DEFAULT_CAMERA;
  for (int k = 0; k < (all ? nfp_task_count() : 1); k++) {
    if (camera_check(all ? nfp_task_at(k)->name : task, assets, o->camera)) {
      fprintf(stderr, "nfp eval: %s\n", nfp_error_last());
      return 2;
    }
  }
  // Under mpirun every rank writes its own episodes' videos and checks the folder: one
  // of them makes it, the others find it there.
  mkdir(o->dir, 0755);
  int created;
  if (nfp_dir_prepare(o->dir, &created)) {
    fprintf(stderr, "nfp eval: --video: %s\n", nfp_error_last());
    return 1;
  }
  return 0;
}

// The worker's renderer and frame for arms' scene, made on this thread the first time.
static int video_renderer(eval_video* ev, nfp_arms* arms) {
  ev->task = nfp_arms_sim_task(arms);
  if (!ev->task) {
    return nfp_error_set("--video: %s is not the in-process simulator", arms->info.name);
  }
  if (ev->renderer) return 0;
  ev->w = arms->info.cam_w;
  ev->h = arms->info.cam_h;
  ev->camera = mj_name2id(ev->task->m, mjOBJ_CAMERA, ev->opts->camera);
  if (ev->camera < 0) return nfp_error_set("--camera: no camera '%s'", ev->opts->camera);
  ev->frame = malloc((size_t)ev->w * ev->h * 3);
  if (!ev->frame) return nfp_error_set("--video: out of memory for %dx%d frames", ev->w, ev->h);
  ev->renderer = nfp_render_create(ev->task->m, ev->w, ev->h);
  return ev->renderer ? 0 : nfp_error_wrap("--video: offscreen renderer");
}

// The scene now, with the overlay (title; step, log p once the agent planned, the outcome
// once done) -> a frame of the open video; the last one is held for a second, so the
// outcome can be read. 0 or -1 (error set).
static int video_shoot(eval_video* ev, const nfp_rollout* ro) {
  nfp_task* t = ev->task;
  if (nfp_render_camera(ev->frame, ev->renderer, t->m, t->d, ev->camera)) return -1;
  char text[512], logp[32] = "";
  if (ro->plans > 0) snprintf(logp, sizeof(logp), "  log p %.1f", ev->loglik);
  const char* outcome = ro->success ? "  success" : ro->done ? "  failure" : "";
  snprintf(text, sizeof(text), "%s\nstep %d%s%s", ev->title, ro->steps, logp, outcome);
  if (nfp_overlay_text(ev->frame, ev->w, ev->h, text)) return -1;
  int copies = ro->done ? 1 + (int)lround(ev->task_hz * EVAL_VIDEO_HOLD_S) : 1;
  for (int i = 0; i < copies; i++) {
    if (nfp_video_frame(ev->video, ev->frame)) return -1;
  }
  return 0;
}

int eval_video_begin(eval_video* ev, nfp_arms* arms, const char* task, const char* label,
                     const nfp_rollout* ro) {
  if (video_renderer(ev, arms)) return -1;
  unsigned long long seed = (unsigned long long)ro->seed;
  snprintf(ev->path, sizeof(ev->path), "%s/%s_%s_seed%llu.mp4", ev->opts->dir, task, label,
           seed);
  snprintf(ev->title, sizeof(ev->title), "%s  %s  seed %llu", task, label, seed);
  ev->loglik = NAN;
  ev->task_hz = arms->info.control_hz;
  ev->video = nfp_video_open(ev->path, ev->w, ev->h, ev->task_hz);
  if (!ev->video) return -1;
  return video_shoot(ev, ro);
}

int eval_video_step(eval_video* ev, const nfp_rollout* ro, const nfp_agent_step* s) {
  ev->loglik = s->loglik;
  return video_shoot(ev, ro);
}

int eval_video_end(eval_video* ev, int st) {
  if (st) {
    nfp_video_discard(ev->video);
  } else if (ev->video) {
    st = nfp_video_close(ev->video);
  }
  ev->video = NULL;
  return st;
}

void eval_video_free(eval_video* ev) {
  nfp_video_discard(ev->video);
  nfp_render_free(ev->renderer);
  free(ev->frame);
  memset(ev, 0, sizeof(*ev));
}
