// nfp view: a live rollout in a GLFW window, drawn with MuJoCo's mjv/mjr.
// Interactive mode paces control steps in real time; --frames/--screenshot runs
// a fixed number of steps as fast as possible, saves the window as PNG and exits.
// --record writes the frames shown as a video, one per control step (view_record.h).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <GLFW/glfw3.h>

#include "args.h"
#include "commands.h"
#include "nfp/agent.h"
#include "nfp/arms_sim.h"
#include "nfp/error.h"
#include "nfp/picture.h"
#include "nfp/rollout.h"
#include "nfp/tasks.h"
#include "policy_flags.h"
#include "view_camera.h"
#include "view_encoder.h"
#include "view_plan.h"
#include "view_record.h"

#define VIEW_MAX_GEOM 4000
#define VIEW_MAX_CATCHUP 10  // most control steps per drawn frame when behind

typedef struct {
  nfp_arms* sim;    // simulated rig
  nfp_arms* arms;   // what the rollout drives: sim, or the camera's arms for image policies
  nfp_task* task;   // its task, for drawing
  const nfp_model* model;  // the policy's (NULL for the expert)
  view_camera camera;      // head-camera frames rendered in this window's context
  int has_camera;
  view_encoder encoder;    // what the image encoder got at the last plan (with has_camera)
  int encoder_view;        // key e: show it (or, without a camera, say there is none)
  nfp_agent* agent;
  nfp_agent_spec spec;   // to rebuild the agent when the sampling mode changes
  nfp_rollout ro;
  // policy display
  view_plan plan;
  int has_plan;
  nfp_agent_step last;   // the agent's last step (chunk, log-likelihood, hold)
  int switch_mode;       // 1 + requested nfp_sample_mode, 0 = none
  uint64_t seed;
  int paused, step_once, reset, next_seed;
  int cam_aimed;  // free camera framed on the workspace once
  double next_step_time;  // wall time (glfwGetTime) at which the next control step is due
  view_record rec;        // --record
  int recording;
  int unrecorded;         // control steps (and episode starts) not yet in the recording
  // rendering
  GLFWwindow* win;
  mjvCamera cam;
  mjvOption opt;
  mjvScene scn;
  mjrContext con;
  // mouse
  int left, right, middle;
  double lastx, lasty;
} viewer;

static char glfw_error[512];

static void on_glfw_error(int code, const char* msg) {
  snprintf(glfw_error, sizeof(glfw_error), "%s (GLFW error %d)", msg, code);
}

// Show what the policy sees (on = 1) or the free camera.
static void view_head_camera(viewer* v, int on) {
  if (!on) {
    v->cam.type = mjCAMERA_FREE;
  } else if (v->task->rig.head_camera >= 0) {
    v->cam.type = mjCAMERA_FIXED;
    v->cam.fixedcamid = v->task->rig.head_camera;
  }
}

static void on_key(GLFWwindow* win, int key, int scancode, int action, int mods) {
  (void)scancode;
  viewer* v = glfwGetWindowUserPointer(win);
  if (action == GLFW_RELEASE) return;
  int shift = mods & GLFW_MOD_SHIFT;
  switch (key) {
    case GLFW_KEY_ESCAPE: glfwSetWindowShouldClose(win, GLFW_TRUE); break;
    case GLFW_KEY_SPACE: v->paused = !v->paused; break;
    case GLFW_KEY_RIGHT: v->step_once = 1; break;
    case GLFW_KEY_N: *(shift ? &v->next_seed : &v->step_once) = 1; break;
    case GLFW_KEY_PAGE_DOWN: v->next_seed = 1; break;
    case GLFW_KEY_R: v->reset = 1; break;
    case GLFW_KEY_1: v->switch_mode = 1 + NFP_SAMPLE_SINGLE; break;
    case GLFW_KEY_2: v->switch_mode = 1 + NFP_SAMPLE_SBS; break;
    case GLFW_KEY_3: v->switch_mode = 1 + NFP_SAMPLE_GR; break;
    case GLFW_KEY_C:
      // Toggle between the free camera and what the policy sees.
      view_head_camera(v, v->cam.type != mjCAMERA_FIXED);
      break;
    case GLFW_KEY_E: v->encoder_view = !v->encoder_view; break;
    default: break;
  }
}

static void on_button(GLFWwindow* win, int button, int action, int mods) {
  (void)button;
  (void)action;
  (void)mods;
  viewer* v = glfwGetWindowUserPointer(win);
  v->left = glfwGetMouseButton(win, GLFW_MOUSE_BUTTON_LEFT) == GLFW_PRESS;
  v->right = glfwGetMouseButton(win, GLFW_MOUSE_BUTTON_RIGHT) == GLFW_PRESS;
  v->middle = glfwGetMouseButton(win, GLFW_MOUSE_BUTTON_MIDDLE) == GLFW_PRESS;
  glfwGetCursorPos(win, &v->lastx, &v->lasty);
}

static void on_cursor(GLFWwindow* win, double x, double y) {
  viewer* v = glfwGetWindowUserPointer(win);
  double dx = x - v->lastx, dy = y - v->lasty;
  v->lastx = x;
  v->lasty = y;
  if (!v->left && !v->right && !v->middle) return;
  int w, h;
  glfwGetWindowSize(win, &w, &h);
  if (h <= 0) return;
  int shift = glfwGetKey(win, GLFW_KEY_LEFT_SHIFT) == GLFW_PRESS ||
              glfwGetKey(win, GLFW_KEY_RIGHT_SHIFT) == GLFW_PRESS;
  int action = v->right  ? (shift ? mjMOUSE_MOVE_H : mjMOUSE_MOVE_V)
               : v->left ? (shift ? mjMOUSE_ROTATE_H : mjMOUSE_ROTATE_V)
                         : mjMOUSE_ZOOM;
  v->cam.type = mjCAMERA_FREE;
  mjv_moveCamera(v->task->m, action, dx / h, dy / h, &v->cam);
}

static void on_scroll(GLFWwindow* win, double xoff, double yoff) {
  (void)xoff;
  viewer* v = glfwGetWindowUserPointer(win);
  v->cam.type = mjCAMERA_FREE;
  mjv_moveCamera(v->task->m, mjMOUSE_ZOOM, 0, -0.05 * yoff, &v->cam);
}

static int view_begin(viewer* v) {
  if (nfp_rollout_begin(&v->ro, v->arms, v->agent, v->seed)) return -1;
  memset(&v->last, 0, sizeof(v->last));
  if (v->has_plan) view_plan_clear(&v->plan);
  if (v->has_camera) view_encoder_clear(&v->encoder);
  if (!v->cam_aimed) {
    // Frame the workspace: between the two grippers, closer than the whole-model default.
    const mjData* d = v->task->d;
    const int* site = v->task->rig.grasp_site;
    for (int i = 0; i < 3; i++) {
      v->cam.lookat[i] = 0.5 * (d->site_xpos[3 * site[0] + i] + d->site_xpos[3 * site[1] + i]);
    }
    v->cam.distance *= 0.6;
    v->cam_aimed = 1;
  }
  v->next_step_time = glfwGetTime();
  v->unrecorded = 1;  // the episode's first state is a frame of the recording too
  return 0;
}

// One control step; a plan's camera frame (rendered at the observation before it) goes
// to the encoder inset first, as the policy will see it.
static int view_step(viewer* v) {
  if (v->has_camera && v->camera.has_frame && nfp_agent_wants_image(v->agent)) {
    view_encoder_update(&v->encoder, v->camera.frame, v->ro.steps);
  }
  if (nfp_rollout_step(&v->ro, NULL, &v->last)) return -1;
  v->unrecorded++;
  if (v->has_plan) {
    view_plan_record(&v->plan, nfp_agent_controller(v->agent), v->last.planned, v->last.loglik);
  }
  if (v->ro.done) {
    printf("seed %llu: %s after %d steps\n", (unsigned long long)v->seed,
           v->ro.success ? "success" : "failure (step cap)", v->ro.steps);
    fflush(stdout);
  }
  return 0;
}

// Rollout state -> the label / value table at the top left; with the encoder view on and
// no camera, a row saying so.
static void view_draw_status(viewer* v, mjrRect rect) {
  const char* state = v->ro.done  ? (v->ro.success ? "SUCCESS" : "failed (step cap)")
                      : v->paused ? "paused"
                                  : "running";
  char labels[128] = "task\nagent\nseed\nstep\nsuccess\nstate", values[512], agent[64] = "";
  if (v->has_plan) {
    snprintf(agent, sizeof(agent), " (%s)", nfp_sample_mode_name(v->spec.controller.sample.mode));
  }
  snprintf(values, sizeof(values), "%s\n%s%s\n%llu\n%d / %d\n%s\n%s", v->task->def->name,
           v->agent->kind, agent, (unsigned long long)v->seed, v->ro.steps,
           v->task->def->step_cap, nfp_task_success(v->task) ? "yes" : "no", state);
  size_t n = strlen(values);
  if (v->has_plan) {
    strcat(labels, "\nlog p");
    snprintf(values + n, sizeof(values) - n, "\n%.1f%s", v->last.loglik,
             v->last.hold ? "  HOLDING (below --min-loglik)" : "");
    n = strlen(values);
  }
  if (v->encoder_view && !v->has_camera) {
    strcat(labels, "\nencoder");
    snprintf(values + n, sizeof(values) - n, "\n%s",
             v->has_plan ? "this policy has no camera (state input)"
                         : "the scripted expert has no camera");
  }
  mjr_overlay(mjFONT_NORMAL, mjGRID_TOPLEFT, rect, labels, values, &v->con);
}

// Scene, plan paths, status table, log p figure, encoder inset and (interactive) key help
// -> the window's back buffer.
static void view_draw(viewer* v, int interactive) {
  mjrRect rect = {0, 0, 0, 0};
  glfwGetFramebufferSize(v->win, &rect.width, &rect.height);
  mjv_updateScene(v->task->m, v->task->d, &v->opt, NULL, &v->cam, mjCAT_ALL, &v->scn);
  if (v->has_plan) view_plan_draw(&v->plan, &v->scn, v->task, v->last.chunk);
  mjr_render(rect, &v->scn, &v->con);
  view_draw_status(v, rect);
  if (v->has_plan) view_plan_figure(&v->plan, rect, &v->con);
  if (v->has_camera && v->encoder_view) view_encoder_draw(&v->encoder, rect, &v->con);
  if (interactive) {
    mjr_overlay(mjFONT_NORMAL, mjGRID_BOTTOMLEFT, rect,
                "space\nright / n\nr\nN / page down\n1 2 3\nc\ne\nmouse\nesc",
                "pause\nstep (paused)\nreset\nnext seed\nsingle / sbs / gr (policy)\nhead "
                "camera\nencoder input (image policy)\nrotate, zoom\nquit",
                &v->con);
  }
}

static int view_screenshot(viewer* v, const char* path) {
  int w, h;
  glfwGetFramebufferSize(v->win, &w, &h);
  uint8_t* rgb = malloc((size_t)w * (h + 1) * 3);  // the image, then a row of scratch
  if (!rgb) return nfp_error_set("out of memory for a %dx%d screenshot", w, h);
  view_read_window(rgb, w, h, &v->con, rgb + (size_t)w * h * 3);  // the back buffer just drawn
  int st = nfp_png_write(path, rgb, w, h);
  free(rgb);
  return st;
}

// --record FILE: the window keeps its size (the video's), frames at the control rate.
static int view_record_start(viewer* v, const char* path) {
  if (!path) return 0;
  glfwSetWindowAttrib(v->win, GLFW_RESIZABLE, GLFW_FALSE);
  int w, h;
  glfwGetFramebufferSize(v->win, &w, &h);
  if (view_record_open(&v->rec, path, w, h, 1.0 / v->task->control_dt)) return -1;
  v->recording = 1;
  view_record_catch_interrupt();
  return 0;
}

// The frame just drawn -> the recording, once for each control step it shows (--record).
static int view_record_drawn(viewer* v) {
  int k = v->unrecorded;
  v->unrecorded = 0;
  return v->recording && k > 0 ? view_record_frame(&v->rec, &v->con, k) : 0;
}

// The recording finished into its file (--record). 0 or -1.
static int view_record_finish(viewer* v) {
  if (!v->recording) return 0;
  v->recording = 0;
  return view_record_close(&v->rec);
}

// Rebuild the policy agent with another sampling mode (same flags otherwise).
static int view_switch_mode(viewer* v, nfp_sample_mode mode) {
  nfp_controller_opts keep = v->spec.controller;
  nfp_controller_opts_default(&v->spec.controller, v->spec.model, mode);
  v->spec.controller.sample.sigma = keep.sample.sigma;
  v->spec.controller.replan = keep.replan;
  v->spec.controller.interpolate = keep.interpolate;
  v->spec.controller.min_loglik = keep.min_loglik;
  nfp_agent* a = nfp_agent_create(&v->spec);
  if (!a) return -1;
  nfp_agent_free(v->agent);
  v->agent = a;
  printf("sampling mode: %s\n", nfp_sample_mode_name(mode));
  fflush(stdout);
  return 0;
}

// Interactive loop: real-time pacing, keys handled between frames.
static int view_interactive(viewer* v) {
  while (!glfwWindowShouldClose(v->win) && !view_record_interrupted()) {
    if (v->switch_mode && v->has_plan) {
      if (view_switch_mode(v, (nfp_sample_mode)(v->switch_mode - 1))) return -1;
      v->reset = 1;
    }
    v->switch_mode = 0;
    if (v->next_seed) v->seed++;
    if (v->reset || v->next_seed) {
      v->reset = v->next_seed = 0;
      if (view_begin(v)) return -1;
    }
    double now = glfwGetTime();
    if (v->paused || v->ro.done) {
      if (v->step_once && !v->ro.done && view_step(v)) return -1;
      v->next_step_time = now;
    } else {
      if (now - v->next_step_time > 0.25) v->next_step_time = now;  // too far behind: drop time
      for (int k = 0; k < VIEW_MAX_CATCHUP && now >= v->next_step_time && !v->ro.done; k++) {
        if (view_step(v)) return -1;
        v->next_step_time += v->task->control_dt;
      }
    }
    v->step_once = 0;
    view_draw(v, 1);
    if (view_record_drawn(v)) return -1;
    glfwSwapBuffers(v->win);
    glfwPollEvents();
  }
  return 0;
}

static int view_batch(viewer* v, int frames, const char* screenshot) {
  for (int i = 0; i < frames && !v->ro.done; i++) {
    if (v->recording) view_draw(v, 0);  // every state is a frame of the recording
    if (view_record_drawn(v) || view_step(v)) return -1;
  }
  view_draw(v, 0);
  if (view_record_drawn(v)) return -1;
  if (screenshot) {
    if (view_screenshot(v, screenshot)) return -1;
    printf("saved %s after %d steps (seed %llu, success %s)\n", screenshot, v->ro.steps,
           (unsigned long long)v->seed, nfp_task_success(v->task) ? "yes" : "no");
  }
  if (v->has_camera && v->camera.renders) {
    printf("head camera: %ld frames rendered for the policy, %.1f ms each\n",
           v->camera.renders, v->camera.render_ms / (double)v->camera.renders);
  }
  glfwSwapBuffers(v->win);
  return 0;
}

static int view_open_window(viewer* v, int width, int height, int batch, int head) {
  glfwSetErrorCallback(on_glfw_error);
  if (!glfwInit()) {
    return nfp_error_set(
        "cannot start GLFW: %s; no display? run under xvfb-run, or use "
        "'nfp eval' for headless runs",
        glfw_error);
  }
  glfwWindowHint(GLFW_SAMPLES, batch ? 0 : 4);
  v->win = glfwCreateWindow(width, height, "nfp view", NULL, NULL);
  if (!v->win && !batch) {
    glfwWindowHint(GLFW_SAMPLES, 0);  // some displays offer no multisampling
    v->win = glfwCreateWindow(width, height, "nfp view", NULL, NULL);
  }
  if (!v->win) return nfp_error_set("cannot open a window: %s", glfw_error);
  glfwMakeContextCurrent(v->win);
  glfwSwapInterval(batch ? 0 : 1);
  glfwSetWindowUserPointer(v->win, v);
  glfwSetKeyCallback(v->win, on_key);
  glfwSetMouseButtonCallback(v->win, on_button);
  glfwSetCursorPosCallback(v->win, on_cursor);
  glfwSetScrollCallback(v->win, on_scroll);

  const mjModel* m = v->task->m;
  mjv_defaultCamera(&v->cam);
  mjv_defaultFreeCamera(m, &v->cam);
  v->cam.elevation = -25;
  view_head_camera(v, head);
  mjv_defaultOption(&v->opt);
  mjv_defaultScene(&v->scn);
  mjr_defaultContext(&v->con);
  mjv_makeScene(m, &v->scn, VIEW_MAX_GEOM);
  mjr_makeContext(m, &v->con, mjFONTSCALE_150);
  mjr_setBuffer(mjFB_WINDOW, &v->con);
  if (v->agent->wants_image) {
    // An image policy sees the head camera, rendered here (view_camera.h says why).
    if (view_camera_init(&v->camera, v->sim, &v->con)) return -1;
    v->has_camera = 1;
    v->arms = &v->camera.arms;
    const nfp_arms_info* info = &v->sim->info;
    if (view_encoder_init(&v->encoder, v->model, info->cam_h, info->cam_w)) return -1;
  }
  if (!v->has_camera) v->encoder_view = 0;  // nothing to show until key e asks
  return 0;
}

static void view_close(viewer* v) {
  view_record_free(&v->rec);
  if (v->has_camera) view_camera_free(&v->camera);
  view_encoder_free(&v->encoder);
  if (v->win) {
    mjr_freeContext(&v->con);
    mjv_freeScene(&v->scn);
    glfwDestroyWindow(v->win);
  }
  glfwTerminate();
  nfp_agent_free(v->agent);
  nfp_rollout_free(&v->ro);
  if (v->has_plan) view_plan_free(&v->plan);
  nfp_arms_close(v->sim);
}

// nfp view's flags.
typedef struct {
  const char* task_name;
  const char* agent;
  const char* mode_name;
  nfp_policy_flags pf;
  const char* screenshot;
  const char* record;     // --record FILE.mp4
  const char* assets;
  long long seed;
  int frames, width, height, head, no_encoder_view;
} view_opts;

// argv -> o through the flag table. 0 go on, 1 --help printed, 2 bad flags (reported).
static int view_parse(view_opts* o, int argc, char** argv) {
  nfp_arg args[12 + NFP_POLICY_NARGS] = {
      {"--task", NFP_ARG_STR, &o->task_name, "NAME", "task to show", 0, 0, 0},
      {"--agent", NFP_ARG_STR, &o->agent, "KIND",
       "who acts: expert (scripted) or policy (default: policy when --policy is given)", 0, 0, 0},
      {"--mode", NFP_ARG_STR, &o->mode_name, "M", "policy sampling: single, sbs or gr (keys 1-3)",
       0, 0, 0},
      {"--seed", NFP_ARG_SEED, &o->seed, "S",
       "first seed (N moves to the next); the default is eval's first",
       0, 9e15, 0},
      {"--frames", NFP_ARG_INT, &o->frames, "N",
       "run N control steps unpaced, draw once and exit (no interaction)", 0, 1e6, 0},
      {"--screenshot", NFP_ARG_STR, &o->screenshot, "FILE.png",
       "save the window after --frames steps as PNG and exit", 0, 0, 0},
      {"--width", NFP_ARG_INT, &o->width, "PX", "window width", 64, 8192, 0},
      {"--height", NFP_ARG_INT, &o->height, "PX", "window height", 64, 8192, 0},
      {"--head", NFP_ARG_FLAG, &o->head, NULL, "start on the head camera (key c)", 0, 0, 0},
      {"--no-encoder-view", NFP_ARG_FLAG, &o->no_encoder_view, NULL,
       "hide an image policy's encoder input (top right, key e; shown by default, "
       "screenshots too)", 0, 0, 0},
      {"--assets", NFP_ARG_STR, &o->assets, "DIR",
       "asset folder (default $NFP_ASSETS, else built in)", 0, 0, 0},
      {"--record", NFP_ARG_STR, &o->record, "FILE.mp4",
       "record the window as a video, a frame per control step (real-time playback; "
       "H.264, else MPEG-4); with --frames too", 0, 0, 0},
  };
  int nargs = 12;
  nfp_policy_flags_args(args + nargs, &o->pf);
  args[nargs].help = "policy checkpoint (.safetensors)";  // one file: no eval folder here
  nargs += NFP_POLICY_NARGS;
  return nfp_args_parse(argc, argv, args, nargs,
                        "nfp view [--task NAME] [--agent KIND] [--policy FILE --mode M] [--seed S] "
                        "[--frames N --screenshot FILE.png]",
                        "Shows a live rollout in a window with MuJoCo's renderer, paced in real "
                        "time.\nKeys: space pause, right arrow or n single step while paused, r "
                        "reset,\nN or page down next seed, c head camera, e encoder input, esc "
                        "quit;\nmouse drag rotates (shift: other axis, right button: pan), scroll "
                        "zooms.\nAn image policy's encoder input at its last plan (the head camera "
                        "shrunk and\ncentre-cropped as when acting; cnn-kp keypoints marked) is "
                        "shown top right.\nWith --frames/--screenshot it runs unpaced and exits "
                        "(works under xvfb-run).");
}

// The task, agent and mode checked; a policy's checkpoint -> *model and spec. 0 to go on,
// else the exit code (message on stderr).
static int view_agent_spec(view_opts* o, nfp_agent_spec* spec, nfp_model** model) {
  if (!nfp_task_find(o->task_name)) {
    fprintf(stderr, "nfp view: unknown task '%s' (known: %s)\n", o->task_name, nfp_task_names());
    return 2;
  }
  if (!o->agent) o->agent = o->pf.path ? "policy" : "expert";
  *spec = (nfp_agent_spec){.kind = o->agent, .policy_path = o->pf.path};
  nfp_sample_mode mode;
  if (nfp_agent_check(spec) || nfp_sample_mode_parse(&mode, o->mode_name)) {
    fprintf(stderr, "nfp view: %s\n", nfp_error_last());
    return 2;
  }
  if (nfp_agent_needs_policy(o->agent)) {
    if (nfp_policy_flags_load(&o->pf, model)) {
      fprintf(stderr, "nfp view: %s\n", nfp_error_last());
      return 1;
    }
    nfp_policy_flags_spec(spec, &o->pf, *model, mode);
  }
  return 0;
}

// The simulated task and the agent acting in it (with the plan display for a policy)
// -> v. 0, or -1 with v->agent NULL.
static int viewer_setup(viewer* v, const view_opts* o, const nfp_agent_spec* spec,
                        const nfp_model* model) {
  memset(v, 0, sizeof(*v));
  v->seed = (uint64_t)o->seed;
  v->encoder_view = !o->no_encoder_view;  // kept only for an image policy (view_open_window)
  v->sim = nfp_arms_sim_create(o->task_name, o->assets);
  v->arms = v->sim;
  v->task = nfp_arms_sim_task(v->sim);
  v->model = model;
  v->spec = *spec;
  v->agent = v->sim ? nfp_agent_create(spec) : NULL;
  if (v->agent && model) {
    v->has_plan = 1;
    if (view_plan_init(&v->plan, v->task->m, model->cfg.horizon, model->cfg.action_dim)) {
      nfp_agent_free(v->agent);
      v->agent = NULL;
    }
  }
  return v->agent ? 0 : -1;
}

// Flags -> agent spec -> window -> batch frames (and screenshot) or the interactive loop.
int nfp_cmd_view(int argc, char** argv) {
  // Seed 100000: nfp eval's first seed (--seed), not a training seed (demos use 0..49).
  view_opts o = {.task_name = "lift_pot", .mode_name = "sbs", .seed = 100000, .width = 1280,
                 .height = 720};
  nfp_policy_flags_default(&o.pf);
  int rc = view_parse(&o, argc, argv);
  if (rc) return rc == 1 ? 0 : 2;
  nfp_agent_spec spec;
  nfp_model* model = NULL;
  rc = view_agent_spec(&o, &spec, &model);
  if (rc) return rc;
  if (!o.assets) o.assets = nfp_asset_dir();
  int batch = o.frames > 0 || o.screenshot;

  viewer v;
  rc = viewer_setup(&v, &o, &spec, model) ||
       view_open_window(&v, o.width, o.height, batch, o.head) ||
       view_record_start(&v, o.record) || view_begin(&v) ||
       (batch ? view_batch(&v, o.frames, o.screenshot) : view_interactive(&v)) ||
       view_record_finish(&v);
  if (rc) fprintf(stderr, "nfp view: %s\n", nfp_error_last());
  view_close(&v);
  nfp_model_free(model);
  return rc ? 1 : 0;
}
