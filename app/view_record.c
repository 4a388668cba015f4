// Window frames -> nfp_video (see view_record.h).
#include "view_record.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nfp/error.h"

static volatile sig_atomic_t interrupted;

// SIGINT/SIGTERM -> the flag the interactive loop checks.
static void on_interrupt(int sig) {
  (void)sig;
  interrupted = 1;
}

void view_record_catch_interrupt(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_interrupt;
  sa.sa_flags = SA_RESETHAND;  // a second Ctrl-C ends the process as usual
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

int view_record_interrupted(void) { return interrupted; }

void view_read_window(uint8_t* rgb, int w, int h, const mjrContext* con, uint8_t* row) {
  mjrRect rect = {0, 0, w, h};
  mjr_readPixels(rgb, NULL, rect, con);  // GL rows run bottom-up
  size_t n = (size_t)w * 3;
  for (int y = 0; y < h / 2; y++) {
    uint8_t* a = rgb + (size_t)y * n;
    uint8_t* b = rgb + (size_t)(h - 1 - y) * n;
    memcpy(row, a, n);
    memcpy(a, b, n);
    memcpy(b, row, n);
  }
}

int view_record_open(view_record* vr, const char* path, int w, int h, double fps) {
  memset(vr, 0, sizeof(*vr));
  vr->rgb = malloc((size_t)w * (h + 1) * 3);
  if (!vr->rgb) return nfp_error_set("--record: out of memory for %dx%d frames", w, h);
  vr->video = nfp_video_open(path, w, h, fps);
  if (!vr->video) return nfp_error_wrap("--record");
  vr->w = w;
  vr->h = h;
  vr->path = path;
  return 0;
}

int view_record_frame(view_record* vr, const mjrContext* con, int copies) {
  view_read_window(vr->rgb, vr->w, vr->h, con, vr->rgb + (size_t)vr->w * vr->h * 3);
  for (int i = 0; i < copies; i++) {
    if (nfp_video_frame(vr->video, vr->rgb)) return -1;
  }
  return 0;
}

int view_record_close(view_record* vr) {
  long frames = nfp_video_frames(vr->video);
  char codec[32];
  snprintf(codec, sizeof(codec), "%s", nfp_video_codec(vr->video));
  int rc = nfp_video_close(vr->video);
  vr->video = NULL;
  if (!rc) {
    printf("recorded %s: %ld frames, %dx%d, %s\n", vr->path, frames, vr->w & ~1, vr->h & ~1,
           codec);
    fflush(stdout);
  }
  return rc;
}

void view_record_free(view_record* vr) {
  nfp_video_discard(vr->video);
  free(vr->rgb);
  memset(vr, 0, sizeof(*vr));
}
