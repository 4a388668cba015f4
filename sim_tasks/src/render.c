// Offscreen rendering through OSMesa: software GL, no display, no GPU.
#include "nfp/render.h"

#include <stdlib.h>
#include <string.h>

#include <GL/osmesa.h>

#include "nfp/error.h"

struct nfp_renderer_ {
  OSMesaContext osmesa;
  unsigned char* osmesa_buf;  // OSMesa's own colour buffer [h*w*4]; MuJoCo draws to its FBO
  int width, height;
  uint8_t* flip;  // one row of scratch for the vertical flip [w*3]
  mjvScene scn;
  mjvOption opt;
  mjvCamera cam;
  mjrContext con;
};

static int render_make_current(nfp_renderer* r) {
  if (!OSMesaMakeCurrent(r->osmesa, r->osmesa_buf, GL_UNSIGNED_BYTE, r->width, r->height)) {
    return nfp_error_set("OSMesa: could not make the offscreen GL context current");
  }
  return 0;
}

nfp_renderer* nfp_render_create(const mjModel* m, int width, int height) {
  if (width <= 0 || height <= 0 || width > 4096 || height > 4096) {
    nfp_error_set("offscreen size %dx%d is out of range (1..4096)", width, height);
    return NULL;
  }
  nfp_renderer* r = calloc(1, sizeof(*r));
  if (!r) {
    nfp_error_set("out of memory allocating a renderer");
    return NULL;
  }
  r->width = width;
  r->height = height;
  r->osmesa_buf = malloc((size_t)width * height * 4);
  r->flip = malloc((size_t)width * 3);
  if (!r->osmesa_buf || !r->flip) {
    nfp_error_set("out of memory allocating a %dx%d image", width, height);
    nfp_render_free(r);
    return NULL;
  }
  r->osmesa = OSMesaCreateContextExt(OSMESA_RGBA, 24, 8, 0, NULL);
  if (!r->osmesa) {
    nfp_error_set("OSMesa: could not create an offscreen GL context (is libosmesa6 installed?)");
    nfp_render_free(r);
    return NULL;
  }
  if (render_make_current(r)) {
    nfp_render_free(r);
    return NULL;
  }
  mjv_defaultScene(&r->scn);
  mjv_defaultOption(&r->opt);
  mjv_defaultCamera(&r->cam);
  mjr_defaultContext(&r->con);
  mjv_makeScene(m, &r->scn, 2000);
  mjr_makeContext(m, &r->con, mjFONTSCALE_100);
  mjr_setBuffer(mjFB_OFFSCREEN, &r->con);
  if (r->con.currentBuffer != mjFB_OFFSCREEN) {
    nfp_error_set("MuJoCo could not set up its offscreen framebuffer");
    nfp_render_free(r);
    return NULL;
  }
  // The model's <visual><global offwidth offheight> may be smaller than asked.
  if (r->con.offWidth != width || r->con.offHeight != height) {
    mjr_resizeOffscreen(width, height, &r->con);
    mjr_setBuffer(mjFB_OFFSCREEN, &r->con);
  }
  return r;
}

void nfp_render_free(nfp_renderer* r) {
  if (!r) return;
  if (r->osmesa) {
    // MuJoCo frees GL objects, so its context must be current while it does.
    if (OSMesaMakeCurrent(r->osmesa, r->osmesa_buf, GL_UNSIGNED_BYTE, r->width, r->height)) {
      mjr_freeContext(&r->con);
    }
    mjv_freeScene(&r->scn);
    OSMesaMakeCurrent(NULL, NULL, GL_UNSIGNED_BYTE, 0, 0);  // unbind, so destroy frees all
    OSMesaDestroyContext(r->osmesa);
  }
  free(r->osmesa_buf);
  free(r->flip);
  free(r);
}

int nfp_render_camera(uint8_t* rgb, nfp_renderer* r, const mjModel* m, mjData* d, int camera) {
  if (camera < 0 || camera >= m->ncam) {
    return nfp_error_set("camera id %d is not in the model (it has %d cameras)", camera,
                         (int)m->ncam);
  }
  if (render_make_current(r)) return -1;
  mjr_setBuffer(mjFB_OFFSCREEN, &r->con);
  r->cam.type = mjCAMERA_FIXED;
  r->cam.fixedcamid = camera;
  mjv_updateScene(m, d, &r->opt, NULL, &r->cam, mjCAT_ALL, &r->scn);
  mjrRect viewport = {0, 0, r->width, r->height};
  mjr_render(viewport, &r->scn, &r->con);
  mjr_readPixels(rgb, NULL, viewport, &r->con);
  // GL rows run bottom-up; images are stored top-down.
  size_t row = (size_t)r->width * 3;
  for (int y = 0; y < r->height / 2; y++) {
    uint8_t* a = rgb + (size_t)y * row;
    uint8_t* b = rgb + (size_t)(r->height - 1 - y) * row;
    memcpy(r->flip, a, row);
    memcpy(a, b, row);
    memcpy(b, r->flip, row);
  }
  return 0;
}

int nfp_render_width(const nfp_renderer* r) {
  return r->width;
}
int nfp_render_height(const nfp_renderer* r) {
  return r->height;
}
