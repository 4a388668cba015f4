// Video files through FFmpeg's libraries: swscale RGB -> yuv420p, libavcodec encodes,
// libavformat muxes into an atomic temporary through custom I/O (see nfp/video.h).
#include "nfp/video.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#include "nfp/atomic_file.h"
#include "nfp/error.h"

#define VIDEO_IO_BUF 65536

// libavformat's write callback takes a const buffer from major version 61 on.
#if LIBAVFORMAT_VERSION_MAJOR >= 61
typedef const uint8_t video_io_byte;
#else
typedef uint8_t video_io_byte;
#endif

struct nfp_video_ {
  nfp_atomic_file file;     // the temporary the muxer writes, renamed at close
  AVFormatContext* fmt;
  AVIOContext* io;
  AVCodecContext* enc;
  AVStream* st;
  AVFrame* frame;           // yuv420p, reused for every frame
  AVPacket* pkt;
  struct SwsContext* sws;
  int w, h;                 // the size frames are given in (the encoded size is even)
  long frames;
  int io_failed;            // a write or seek of the temporary failed (error set then)
};

// Muxer bytes -> the temporary file.
static int video_io_write(void* opaque, video_io_byte* buf, int n) {
  nfp_video* v = opaque;
  if (nfp_atomic_write(&v->file, buf, (size_t)n)) {
    v->io_failed = 1;
    return AVERROR(EIO);
  }
  return n;
}

// The mp4 muxer seeks back to fill in sizes; AVSEEK_SIZE asks for the file size.
static int64_t video_io_seek(void* opaque, int64_t off, int whence) {
  nfp_video* v = opaque;
  if (whence & AVSEEK_SIZE) {
    struct stat sb;
    return fstat(v->file.fd, &sb) ? AVERROR(errno) : (int64_t)sb.st_size;
  }
  off_t at = lseek(v->file.fd, (off_t)off, whence & ~AVSEEK_FORCE);
  if (at < 0) {
    v->io_failed = 1;
    nfp_error_set("writing %s: seek failed: %s", v->file.path, strerror(errno));
    return AVERROR(errno);
  }
  return (int64_t)at;
}

// An FFmpeg error code -> the error message "writing PATH: WHAT: REASON"; -1.
static int video_fail(nfp_video* v, const char* what, int err) {
  if (v->io_failed) return -1;  // the I/O callback set the more useful message
  char why[AV_ERROR_MAX_STRING_SIZE];
  av_strerror(err, why, sizeof(why));
  return nfp_error_set("writing %s: %s: %s", v->file.path, what, why);
}

// H.264 through libx264 when this FFmpeg has it, else MPEG-4 part 2 (always built in);
// NFP_VIDEO_ENCODER=mpeg4 takes the fallback on purpose (its tests).
static const AVCodec* video_pick_encoder(void) {
  const char* force = getenv("NFP_VIDEO_ENCODER");
  const AVCodec* c = force && !strcmp(force, "mpeg4") ? NULL
                                                      : avcodec_find_encoder_by_name("libx264");
  return c ? c : avcodec_find_encoder(AV_CODEC_ID_MPEG4);
}

// Encoder settings for w x h at fps -> v->enc opened. 0 or -1 (error set).
static int video_open_encoder(nfp_video* v, const AVCodec* codec, double fps) {
  AVCodecContext* c = v->enc = avcodec_alloc_context3(codec);
  if (!c) return nfp_error_set("writing %s: out of memory", v->file.path);
  c->width = v->w & ~1;
  c->height = v->h & ~1;
  c->pix_fmt = AV_PIX_FMT_YUV420P;
  c->framerate = av_d2q(fps, 100000);  // the control rate 16.67 Hz is exactly 50/3
  c->time_base = av_inv_q(c->framerate);
  c->gop_size = 50;
  c->thread_count = 1;  // eval already runs a worker per core
  if (!strcmp(codec->name, "libx264")) {
    av_opt_set(c->priv_data, "preset", "veryfast", 0);
    av_opt_set(c->priv_data, "crf", "23", 0);
  } else {
    c->flags |= AV_CODEC_FLAG_QSCALE;  // constant quality rather than a bit rate
    c->global_quality = FF_QP2LAMBDA * 3;
  }
  if (v->fmt->oformat->flags & AVFMT_GLOBALHEADER) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  int err = avcodec_open2(c, codec, NULL);
  if (err < 0) return video_fail(v, codec->name, err);
  return 0;
}

// The muxer on the temporary, its stream, and the frame/packet/scaler of the encoder.
// 0 or -1 (error set).
static int video_open_streams(nfp_video* v, const char* path, double fps) {
  const AVOutputFormat* of = av_guess_format(NULL, path, NULL);
  if (!of) of = av_guess_format("mp4", NULL, NULL);
  int err = avformat_alloc_output_context2(&v->fmt, of, NULL, NULL);
  if (err < 0) return video_fail(v, "no muxer", err);
  uint8_t* buf = av_malloc(VIDEO_IO_BUF);
  v->io = buf ? avio_alloc_context(buf, VIDEO_IO_BUF, 1, v, NULL, video_io_write, video_io_seek)
              : NULL;
  if (!v->io) {
    av_free(buf);
    return nfp_error_set("writing %s: out of memory", path);
  }
  v->io->seekable = AVIO_SEEKABLE_NORMAL;
  v->fmt->pb = v->io;
  v->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
  if (video_open_encoder(v, video_pick_encoder(), fps)) return -1;
  v->st = avformat_new_stream(v->fmt, NULL);
  if (!v->st) return nfp_error_set("writing %s: out of memory", path);
  v->st->time_base = v->enc->time_base;
  v->st->avg_frame_rate = v->enc->framerate;
  err = avcodec_parameters_from_context(v->st->codecpar, v->enc);
  if (err < 0) return video_fail(v, "stream parameters", err);
  v->frame = av_frame_alloc();
  v->pkt = av_packet_alloc();
  if (!v->frame || !v->pkt) return nfp_error_set("writing %s: out of memory", path);
  v->frame->format = AV_PIX_FMT_YUV420P;
  v->frame->width = v->enc->width;
  v->frame->height = v->enc->height;
  err = av_frame_get_buffer(v->frame, 0);
  if (err < 0) return video_fail(v, "frame buffer", err);
  v->sws = sws_getContext(v->enc->width, v->enc->height, AV_PIX_FMT_RGB24, v->enc->width,
                          v->enc->height, AV_PIX_FMT_YUV420P, SWS_BILINEAR, NULL, NULL, NULL);
  if (!v->sws) return nfp_error_set("writing %s: no RGB -> yuv420p converter", path);
  err = avformat_write_header(v->fmt, NULL);
  if (err < 0) return video_fail(v, "header", err);
  return 0;
}

// Everything v holds, the temporary removed unless it was committed.
static void video_free(nfp_video* v) {
  sws_freeContext(v->sws);
  av_packet_free(&v->pkt);
  av_frame_free(&v->frame);
  avcodec_free_context(&v->enc);
  avformat_free_context(v->fmt);  // custom I/O: the AVIOContext is ours to free
  if (v->io) av_freep(&v->io->buffer);
  avio_context_free(&v->io);
  nfp_atomic_abort(&v->file);
  av_free(v);
}

static pthread_once_t video_log_once = PTHREAD_ONCE_INIT;

// FFmpeg's log -> errors only: not the encoder's statistics on stderr.
static void video_log_quiet(void) { av_log_set_level(AV_LOG_ERROR); }

nfp_video* nfp_video_open(const char* path, int w, int h, double fps) {
  if (w < 2 || h < 2 || w > 8192 || h > 8192) {
    nfp_error_set("writing %s: video size %dx%d is out of range (2..8192)", path, w, h);
    return NULL;
  }
  if (!(fps > 0 && fps <= 1000)) {
    nfp_error_set("writing %s: frame rate %g is out of range (0..1000]", path, fps);
    return NULL;
  }
  pthread_once(&video_log_once, video_log_quiet);
  nfp_video* v = av_mallocz(sizeof(*v));
  if (!v) {
    nfp_error_set("writing %s: out of memory", path);
    return NULL;
  }
  v->file.fd = -1;
  v->w = w;
  v->h = h;
  if (nfp_atomic_begin(&v->file, path, 0666) || video_open_streams(v, path, fps)) {
    video_free(v);
    return NULL;
  }
  return v;
}

// Hand `frame` (NULL: flush) to the encoder and mux every packet it gives back. 0 or -1.
static int video_encode(nfp_video* v, AVFrame* frame) {
  int err = avcodec_send_frame(v->enc, frame);
  if (err < 0) return video_fail(v, "encoding", err);
  for (;;) {
    err = avcodec_receive_packet(v->enc, v->pkt);
    if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return 0;
    if (err < 0) return video_fail(v, "encoding", err);
    av_packet_rescale_ts(v->pkt, v->enc->time_base, v->st->time_base);
    v->pkt->stream_index = v->st->index;
    err = av_interleaved_write_frame(v->fmt, v->pkt);  // takes the packet's data
    if (err < 0) return video_fail(v, "muxing", err);
  }
}

int nfp_video_frame(nfp_video* v, const uint8_t* rgb) {
  int err = av_frame_make_writable(v->frame);
  if (err < 0) return video_fail(v, "frame buffer", err);
  const uint8_t* src[1] = {rgb};
  const int stride[1] = {3 * v->w};  // an odd last column is skipped by the stride
  sws_scale(v->sws, src, stride, 0, v->enc->height, v->frame->data, v->frame->linesize);
  v->frame->pts = v->frames;
  if (!strcmp(v->enc->codec->name, "mpeg4")) v->frame->quality = v->enc->global_quality;
  if (video_encode(v, v->frame)) return -1;
  v->frames++;
  return 0;
}

int nfp_video_close(nfp_video* v) {
  int rc = video_encode(v, NULL);
  if (!rc) {
    int err = av_write_trailer(v->fmt);
    if (err < 0) rc = video_fail(v, "trailer", err);
  }
  if (!rc) {
    avio_flush(v->io);
    if (v->io->error < 0) rc = video_fail(v, "flush", v->io->error);
  }
  if (!rc) rc = nfp_atomic_commit(&v->file);
  video_free(v);
  return rc;
}

void nfp_video_discard(nfp_video* v) {
  if (v) video_free(v);
}

const char* nfp_video_codec(const nfp_video* v) {
  return v->enc->codec->name;
}

long nfp_video_frames(const nfp_video* v) {
  return v->frames;
}
