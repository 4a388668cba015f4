// Runs the fuzz target over a seeded mutation corpus grown from one valid message of
// every type (and the JPEG variants: a STATE with a JPEG frame, HELLO asking for JPEG,
// a RIG agreeing), so ctest exercises the decoder without libFuzzer. Bounded: argv[1]
// inputs.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "jpeg.h"
#include "nfp/error.h"
#include "nfp/rng.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

#define NSEED 15
#define MAXLEN (NFP_WIRE_MAX_REQUEST * 2)

// A small JPEG frame (h x w, a gradient) for the STATE seed -> *out, its size.
static size_t seed_jpeg(int h, int w, const uint8_t** out) {
  static nfp_jpeg codec;
  static uint8_t rgb[16 * 24 * 3];
  for (int i = 0; i < h * w * 3; i++) rgb[i] = (uint8_t)(i % 3 * 60 + i / (3 * w) * 9);
  size_t n = nfp_jpeg_encode(&codec, rgb, h, w, 75, out);
  if (!n) {
    fprintf(stderr, "fuzz_driver: %s\n", nfp_error_last());
    exit(1);
  }
  return n;
}

// The JPEG seeds: 12 a STATE with a JPEG frame, 13 HELLO asking for JPEG, 14 a RIG that
// agreed to JPEG frames.
static void seed_jpeg_message(nfp_wire_msg* m, int k) {
  if (k == 12) {
    m->type = NFP_WIRE_STATE;
    m->state.nq = 2, m->state.img_h = 16, m->state.img_w = 24;
    m->state.img_encoding = NFP_WIRE_JPEG;
    m->state.img_bytes = (uint32_t)seed_jpeg(16, 24, &m->state.image);
  } else if (k == 13) {
    m->type = NFP_WIRE_HELLO;
    m->hello.flags = NFP_WIRE_HELLO_CONTROL | NFP_WIRE_HELLO_JPEG;
  } else {
    m->type = NFP_WIRE_RIG;
    snprintf(m->rig.name, sizeof(m->rig.name), "null");
    m->rig.nq = 1, m->rig.mode = NFP_WIRE_LOCKSTEP, m->rig.control_hz = 10, m->rig.n_cam = 1;
    m->rig.cam_h = 16, m->rig.cam_w = 24, m->rig.cam_encoding = NFP_WIRE_JPEG;
  }
}

static size_t seed_message(uint8_t* buf, int k) {
  static uint8_t image[3 * 4 * 3];
  nfp_wire_msg m;
  memset(&m, 0, sizeof(m));
  m.seq = 7u + (uint32_t)k;
  switch (k) {
    case 0: m.type = NFP_WIRE_HELLO; m.hello.flags = NFP_WIRE_HELLO_CONTROL; break;
    case 1:
      m.type = NFP_WIRE_RIG;
      snprintf(m.rig.name, sizeof(m.rig.name), "sim:lift_pot");
      m.rig.nq = 3, m.rig.mode = NFP_WIRE_LOCKSTEP, m.rig.control_hz = 16.7;
      m.rig.gripper_mask = 4, m.rig.n_cam = 1, m.rig.cam_h = 3, m.rig.cam_w = 4;
      snprintf(m.rig.cam_name, sizeof(m.rig.cam_name), "head");
      for (int j = 0; j < 3; j++) {
        m.rig.q_lo[j] = -1, m.rig.q_hi[j] = 1;
        snprintf(m.rig.joint_names[j], 32, "j%d", j);
      }
      break;
    case 2: m.type = NFP_WIRE_RESET; m.reset.seed = 42; m.reset.flags = 1; break;
    case 3:
      m.type = NFP_WIRE_OBSERVE;
      m.observe.flags = NFP_WIRE_WITH_IMAGE | 90u << NFP_WIRE_QUALITY_SHIFT;
      break;
    case 4:
      m.type = NFP_WIRE_STEP;
      m.step.nq = 14, m.step.deadline_step = 5;
      for (int j = 0; j < 14; j++) m.step.target[j] = 0.1 * j;
      break;
    case 5:
      m.type = NFP_WIRE_STATE;
      m.state.nq = 2, m.state.n_object = 3, m.state.step = 9, m.state.success = 1;
      m.state.img_h = 3, m.state.img_w = 4, m.state.img_bytes = sizeof(image), m.state.image = image;
      break;
    case 6: m.type = NFP_WIRE_HEARTBEAT; break;
    case 7: m.type = NFP_WIRE_STATUS; m.status.state = 2; m.status.count[3] = 5; break;
    case 8: m.type = NFP_WIRE_STATUS_REQ; break;
    case 9: m.type = NFP_WIRE_ESTOP; m.estop.reason = 3; break;
    case 10: m.type = NFP_WIRE_BYE; break;
    case 12: case 13: case 14: seed_jpeg_message(&m, k); break;
    default:
      m.type = NFP_WIRE_ERROR;
      m.error.code = NFP_WIRE_E_LATE;
      snprintf(m.error.message, sizeof(m.error.message), "late");
      break;
  }
  size_t n = nfp_wire_encode(buf, MAXLEN, &m);
  if (!n) {
    fprintf(stderr, "fuzz_driver: seed %d does not encode\n", k);
    exit(1);
  }
  return n;
}

// One mutation of buf[n] in place; returns the new length.
static size_t mutate(uint8_t* buf, size_t n, nfp_rng* rng) {
  int kind = (int)(nfp_rng_next(rng) % 7);
  size_t at = n ? (size_t)(nfp_rng_next(rng) % n) : 0;
  switch (kind) {
    case 0: if (n) buf[at] ^= (uint8_t)(1u << (nfp_rng_next(rng) % 8)); break;
    case 1: if (n) buf[at] = (uint8_t)nfp_rng_next(rng); break;
    case 2: n = n ? (size_t)(nfp_rng_next(rng) % n) : 0; break;  // truncate
    case 3: {  // grow with random bytes
      size_t add = 1 + nfp_rng_next(rng) % 64;
      for (size_t i = 0; i < add && n < MAXLEN; i++) buf[n++] = (uint8_t)nfp_rng_next(rng);
      break;
    }
    case 4: {  // an interesting 32-bit value at a 4-aligned place
      static const uint32_t v[] = {0, 1, 2, 3, 14, 32, 33, 64, 65, 2048, 2049, 0x7fffffff,
                                   0x80000000u, 0xffffffffu};
      size_t p = at & ~(size_t)3;
      uint32_t x = v[nfp_rng_next(rng) % (sizeof(v) / sizeof(v[0]))];
      for (int i = 0; i < 4 && p + i < n; i++) buf[p + i] = (uint8_t)(x >> (8 * i));
      break;
    }
    case 5: {  // a special double at an 8-aligned place
      double d[] = {NAN, INFINITY, -INFINITY, -0.0, 1e308, 5e-324};
      double x = d[nfp_rng_next(rng) % 6];
      size_t p = at & ~(size_t)7;
      if (p + 8 <= n) memcpy(buf + p, &x, 8);
      break;
    }
    default: break;
  }
  if (n >= NFP_WIRE_HEADER && nfp_rng_next(rng) % 2) {  // keep the length field honest
    uint32_t len = (uint32_t)(n - NFP_WIRE_HEADER);
    for (int i = 0; i < 4; i++) buf[12 + i] = (uint8_t)(len >> (8 * i));
  }
  return n;
}

int main(int argc, char** argv) {
  long iters = argc > 1 ? atol(argv[1]) : 100000;
  static uint8_t seeds[NSEED][MAXLEN], buf[MAXLEN];
  size_t len[NSEED];
  long decoded = 0;
  for (int k = 0; k < NSEED; k++) {
    len[k] = seed_message(seeds[k], k);
    LLVMFuzzerTestOneInput(seeds[k], len[k]);
  }
  nfp_rng rng;
  nfp_rng_seed(&rng, 20240601);
  for (long i = 0; i < iters; i++) {
    int k = (int)(nfp_rng_next(&rng) % NSEED);
    size_t n = len[k];
    memcpy(buf, seeds[k], n);
    int rounds = 1 + (int)(nfp_rng_next(&rng) % 4);
    for (int r = 0; r < rounds; r++) n = mutate(buf, n, &rng);
    LLVMFuzzerTestOneInput(buf, n);
    nfp_wire_msg m;
    decoded += nfp_wire_decode(&m, buf, n) == 0;
  }
  printf("fuzz_driver: %ld inputs, %ld decoded (re-encoded to themselves), %ld refused\n", iters,
         decoded, iters - decoded);
  // Both outcomes must occur, or the corpus is not reaching the decoder's checks.
  return decoded > 0 && decoded < iters ? 0 : 1;
}
