// nfp view --record: the window's frames as a video, one frame per control step shown, so
// it plays back at the rig's real pace (a paused viewer adds no frames).
#ifndef NFP_APP_VIEW_RECORD_H
#define NFP_APP_VIEW_RECORD_H

#include <stdint.h>

#include <mujoco/mujoco.h>

#include "nfp/video.h"

typedef struct {
  nfp_video* video;  // open while recording
  uint8_t* rgb;      // [h][w][3] the frame, then one row of scratch [w][3]
  int w, h;          // the window's framebuffer size
  const char* path;
} view_record;

// Read the w x h framebuffer just drawn through con into rgb [h*w*3], rows top-down;
// row is scratch [w*3] for the flip.
void view_read_window(uint8_t* rgb, int w, int h, const mjrContext* con, uint8_t* row);

// Start recording a w x h framebuffer into path at fps. 0 or -1 (error set).
int view_record_open(view_record* vr, const char* path, int w, int h, double fps);
// The framebuffer just drawn -> `copies` frames (the control steps it stands for). 0 or -1.
int view_record_frame(view_record* vr, const mjrContext* con, int copies);
// Finish the file and say so on stdout. 0 or -1 (error set).
int view_record_close(view_record* vr);
// Ctrl-C (SIGINT) or SIGTERM while recording ends the viewer like esc, so the file is
// finished rather than lost: after this, view_record_interrupted() turns 1 on the first.
void view_record_catch_interrupt(void);
int view_record_interrupted(void);
// Drop an unfinished recording (nothing appears at its path) and free vr.
void view_record_free(view_record* vr);

#endif
