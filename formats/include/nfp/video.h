// nfp videos: RGB frames -> an MP4 file (libavformat/libavcodec), for rollout videos
// (nfp eval --video) and window recordings (nfp view --record). H.264 (libx264) when
// the encoder is there, else MPEG-4 part 2; yuv420p. The file is written atomically
// (nfp/atomic_file.h): it appears whole at nfp_video_close, or not at all.
// NFP_VIDEO_ENCODER=mpeg4 in the environment picks MPEG-4 even where H.264 is there.
#ifndef NFP_VIDEO_H
#define NFP_VIDEO_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nfp_video_ nfp_video;

// Start a w x h video at fps frames per second. The container follows path's extension
// (.mp4 when it names none). yuv420p needs even sizes: an odd last row or column is
// cropped. NULL on failure (error set).
nfp_video* nfp_video_open(const char* path, int w, int h, double fps);
// Append one frame: 8-bit RGB, rows top-down, [h*w*3] of the size given to open.
// 0 or -1 (error set; the caller still closes or discards the video).
int nfp_video_frame(nfp_video* v, const uint8_t* rgb);
// Flush the encoder, finish the file and move it into place; frees v. 0 or -1.
int nfp_video_close(nfp_video* v);
// Drop the video: nothing appears at its path; frees v. NULL is fine.
void nfp_video_discard(nfp_video* v);

// The encoder in use ("libx264", "mpeg4") and the frames written so far.
const char* nfp_video_codec(const nfp_video* v);
long nfp_video_frames(const nfp_video* v);

// Draw text (lines split at '\n') in a dark box at the top left of an RGB image
// [h*w*3] in place, sized to the image height. 0 or -1 (error set).
int nfp_overlay_text(uint8_t* rgb, int w, int h, const char* text);

#ifdef __cplusplus
}
#endif
#endif
