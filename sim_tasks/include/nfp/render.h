// nfp_renderer: offscreen camera images with no display (OSMesa, software GL).
//
// A renderer owns one OSMesa context, one MuJoCo render context and one scene.
// OSMesa contexts are bound per thread: create, use and free a renderer on the
// same thread, and give every worker thread its own.
#ifndef NFP_RENDER_H
#define NFP_RENDER_H

#include <stdint.h>

#include <mujoco/mujoco.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NFP_HEAD_W 320
#define NFP_HEAD_H 240

typedef struct nfp_renderer_ nfp_renderer;

// Make a width x height offscreen renderer for model m. NULL on failure (error set).
nfp_renderer* nfp_render_create(const mjModel* m, int width, int height);
void nfp_render_free(nfp_renderer* r);

// Render fixed camera `camera` (id) of the current state of d into rgb
// [height*width*3], rows top-down. 0 or -1 (error set).
int nfp_render_camera(uint8_t* rgb, nfp_renderer* r, const mjModel* m, mjData* d, int camera);

int nfp_render_width(const nfp_renderer* r);
int nfp_render_height(const nfp_renderer* r);

#ifdef __cplusplus
}
#endif
#endif
