// Decoding a video file back with libavformat/libavcodec, for the tests: its size, codec,
// frame count and the mean RGB colour of each frame.
#ifndef NFP_TEST_VIDEO_DECODE_H
#define NFP_TEST_VIDEO_DECODE_H

#include <stdio.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>

#define VIDEO_DECODE_MAX_FRAMES 4096

typedef struct {
  int w, h;
  char codec[32];
  int frames;                            // frames decoded
  double fps;                            // the stream's average frame rate
  float mean[VIDEO_DECODE_MAX_FRAMES][3];  // mean R, G, B of the first frames
} video_info;

// frame (any pixel format) -> its mean RGB in out[3].
static void video_decode_mean(const AVFrame* f, float out[3]) {
  struct SwsContext* sws = sws_getContext(f->width, f->height, f->format, f->width, f->height,
                                          AV_PIX_FMT_RGB24, SWS_BILINEAR, NULL, NULL, NULL);
  uint8_t* rgb = malloc((size_t)f->width * f->height * 3);
  uint8_t* dst[1] = {rgb};
  int stride[1] = {3 * f->width};
  sws_scale(sws, (const uint8_t* const*)f->data, f->linesize, 0, f->height, dst, stride);
  double sum[3] = {0, 0, 0};
  for (size_t i = 0; i < (size_t)f->width * f->height; i++) {
    for (int c = 0; c < 3; c++) sum[c] += rgb[3 * i + c];
  }
  for (int c = 0; c < 3; c++) out[c] = (float)(sum[c] / ((double)f->width * f->height));
  free(rgb);
  sws_freeContext(sws);
}

// Every frame's mean colour from the decoder into vi. 0, or -1 on a decode error.
static int video_decode_drain(AVCodecContext* dec, AVFrame* f, video_info* vi) {
  for (;;) {
    int err = avcodec_receive_frame(dec, f);
    if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return 0;
    if (err < 0) return -1;
    if (vi->frames < VIDEO_DECODE_MAX_FRAMES) video_decode_mean(f, vi->mean[vi->frames]);
    vi->frames++;
  }
}

// Decode every frame of path's first video stream into *vi. 0, or -1 (message on stderr).
static int video_decode(const char* path, video_info* vi) {
  memset(vi, 0, sizeof(*vi));
  AVFormatContext* fc = NULL;
  if (avformat_open_input(&fc, path, NULL, NULL) < 0) {
    fprintf(stderr, "cannot open %s\n", path);
    return -1;
  }
  int rc = avformat_find_stream_info(fc, NULL) < 0 ? -1 : 0;
  int s = rc ? -1 : av_find_best_stream(fc, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
  const AVCodec* codec = s >= 0 ? avcodec_find_decoder(fc->streams[s]->codecpar->codec_id) : NULL;
  AVCodecContext* dec = codec ? avcodec_alloc_context3(codec) : NULL;
  if (!dec || avcodec_parameters_to_context(dec, fc->streams[s]->codecpar) < 0 ||
      avcodec_open2(dec, codec, NULL) < 0) {
    fprintf(stderr, "%s: no decodable video stream\n", path);
    avcodec_free_context(&dec);
    avformat_close_input(&fc);
    return -1;
  }
  vi->w = dec->width;
  vi->h = dec->height;
  snprintf(vi->codec, sizeof(vi->codec), "%s", codec->name);
  vi->fps = av_q2d(fc->streams[s]->avg_frame_rate);
  AVPacket* pkt = av_packet_alloc();
  AVFrame* f = av_frame_alloc();
  while (!rc && av_read_frame(fc, pkt) >= 0) {
    if (pkt->stream_index == s && avcodec_send_packet(dec, pkt) < 0) rc = -1;
    av_packet_unref(pkt);
    if (!rc) rc = video_decode_drain(dec, f, vi);
  }
  if (!rc) avcodec_send_packet(dec, NULL);  // flush the frames held back
  if (!rc) rc = video_decode_drain(dec, f, vi);
  av_frame_free(&f);
  av_packet_free(&pkt);
  avcodec_free_context(&dec);
  avformat_close_input(&fc);
  if (rc) fprintf(stderr, "%s: decoding failed\n", path);
  return rc;
}

#endif
