// Host API of libnfp_plugin.so: camera frames for nfp.controller instances that run an
// image policy (a checkpoint whose encoder looks at the head camera).
//
// The plugin cannot render: MuJoCo gives plugins no GL context, and a host's viewer may
// own the only one. A host that renders therefore hands the controller its frames. Before
// each mj_step (physics step) it asks nfp_plugin_wants_frame; on 1 it renders the head
// camera of d as it stands and passes the pixels to nfp_plugin_set_frame:
//
//   mj_resetData(m, d);
//   for (;;) {
//     if (nfp_plugin_wants_frame(m, d, -1) == 1) {
//       render_head_camera(rgb, m, d);              // the host's own renderer
//       nfp_plugin_set_frame(m, d, -1, rgb, h, w);
//     }
//     mj_step(m, d);
//   }
//
// Frames are asked for only at the control steps where the policy samples a chunk, and a
// frame serves that one physics step: at a step that plans with no fresh frame the
// controller keeps its last command and reports a MuJoCo warning (once per episode)
// instead of planning blind. Rendering d after the host's mj_step calls (no mj_forward in
// between) shows the same state `nfp eval` renders, so the trial equals the in-process
// one bit for bit (tests/plugin/test_plugin_image.c).
//
// The functions are the library's only exported symbols. Link libnfp_plugin.so, or look
// them up in the library mj_loadPluginLibrary opened:
//   void* lib = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
//   nfp_plugin_set_frame_fn set_frame = (nfp_plugin_set_frame_fn)dlsym(lib, "nfp_plugin_set_frame");
//
// `instance` is the nfp.controller's plugin instance id, or -1 for the model's only one.
// Each returns -1 and reports a MuJoCo warning (mju_warning) for an instance that is
// not a live nfp.controller or a frame of the wrong size.
#ifndef NFP_PLUGIN_PUBLIC_H
#define NFP_PLUGIN_PUBLIC_H

#include <stdint.h>

#include <mujoco/mujoco.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NFP_PLUGIN_API __attribute__((visibility("default")))

// The frames the policy takes: n_cam cameras of h x w RGB pixels. 0 (all zero for a
// policy that sees no camera) or -1.
NFP_PLUGIN_API int nfp_plugin_frame_size(const mjModel* m, const mjData* d, int instance,
                                         int* n_cam, int* h, int* w);

// 1 if the controller will sample a chunk from the camera in the next mj_step (or
// mj_forward) of d, so it needs a frame now; 0 if not; -1 on a bad instance. A pending
// episode starts first (the nfp.task set-up runs on d, as in the step itself), so the
// host renders the state the controller will observe.
NFP_PLUGIN_API int nfp_plugin_wants_frame(const mjModel* m, mjData* d, int instance);

// Copy the frames rgb [n_cam][h][w][3] (row 0 = top) for the controller's next planning
// step; h x w must be the policy's frame size. 0 or -1.
NFP_PLUGIN_API int nfp_plugin_set_frame(const mjModel* m, mjData* d, int instance,
                                        const uint8_t* rgb, int h, int w);

// The same, as pointer types for dlsym.
typedef int (*nfp_plugin_frame_size_fn)(const mjModel*, const mjData*, int, int*, int*, int*);
typedef int (*nfp_plugin_wants_frame_fn)(const mjModel*, mjData*, int);
typedef int (*nfp_plugin_set_frame_fn)(const mjModel*, mjData*, int, const uint8_t*, int, int);

#ifdef __cplusplus
}
#endif
#endif
