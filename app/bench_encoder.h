// nfp bench: the image encoders (ResNet18-GroupNorm and the small CNN of cnn.h) in the
// default model at a fixed network input (one camera, 56 x 72; nfp train's default crop is
// 58 x 76, 9 % more pixels).
#ifndef NFP_APP_BENCH_ENCODER_H
#define NFP_APP_BENCH_ENCODER_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "nfp/model.h"

// Training batch of the encoder models: stage 1 of nfp train's default schedule
// (256 / 4); a ResNet18 step at 256 would take several seconds per side.
#define NFP_BENCH_ENC_BATCH 64

typedef struct {
  const char* name;           // "resnet18" or "cnn" (also the peer's kind)
  nfp_model_config cfg;       // the default model with this encoder
  size_t params, enc_params;  // whole model, encoder (trunk + MLP)
  double enc_ms, enc_p99_ms;  // nfp_model_encode of one observation: median, p99
  double train_ms, train_sps; // whole-model step (NLL fwd + bwd + clip + AdamW)
  // the same medians in process CPU time (steadier than wall time on a loaded machine)
  double enc_cpu_ms, train_cpu_sps;
  // PyTorch peer (NAN / 0 when it did not run)
  long t_params, t_enc_params;
  double t_enc_ms, t_enc_p99_ms, t_train_sps, t_enc_cpu_ms, t_train_cpu_sps;
} nfp_bench_enc;

// The default model config with encoder kind NFP_ENCODER_RESNET18 or NFP_ENCODER_CNN.
void nfp_bench_enc_setup(nfp_bench_enc* r, int kind);
// Times our side: repeats encoder calls after warm-up, train_repeats training steps
// after one warm-up step. 0, or -1 with a message.
int nfp_bench_enc_run(nfp_bench_enc* r, int repeats, int train_repeats);
// Peer keys beyond the model's (appended to the model spec).
void nfp_bench_enc_peer_keys(char* buf, size_t size, const nfp_bench_enc* r);
// The peer's figures from one item of its "encoders" array; -1 with a message if it
// reports an error or misses a figure.
int nfp_bench_enc_from_peer(nfp_bench_enc* r, const cJSON* o);
// Speed-ups (ours over theirs, > 1 is faster) and whether each target is met.
int nfp_bench_enc_encode_met(const nfp_bench_enc* r);
int nfp_bench_enc_train_met(const nfp_bench_enc* r);
cJSON* nfp_bench_enc_json(const nfp_bench_enc* r, int torch);
void nfp_bench_enc_print(const nfp_bench_enc* r, int torch);

#endif
