// nfp_train: maximum-likelihood training of an NF-P model on demonstration windows.
//
// Pieces (each usable alone): AdamW over one flat parameter vector, global-norm gradient
// clipping, the three-stage learning-rate / batch-size schedule, an exponential moving
// average of the weights, the training-curve PNG, and the training loop that ties them
// to a model and a dataset.
#ifndef NFP_TRAIN_H
#define NFP_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

//---------------------------------- AdamW ----------------------------------------------------

typedef struct nfp_adamw_ {
  size_t n;
  float beta1, beta2, eps, weight_decay;
  long t;    // steps taken (bias correction)
  float* m;  // [n] first moment, one contiguous buffer
  float* v;  // [n] second moment, one contiguous buffer
} nfp_adamw;

int nfp_adamw_init(nfp_adamw* opt, size_t n, float beta1, float beta2, float eps,
                   float weight_decay);
void nfp_adamw_free(nfp_adamw* opt);

// One step: bias-corrected Adam update plus decoupled decay lr*wd*param on the entries
// where decay_mask is 1 (all entries when decay_mask is NULL).
void nfp_adamw_step(nfp_adamw* opt, float* params, const float* grads, const uint8_t* decay_mask,
                    float lr);

// Scale grads so their global L2 norm is at most max_norm (<= 0: no clipping).
// Returns the norm before clipping.
float nfp_grad_clip(float* grads, size_t n, float max_norm);

//---------------------------------- schedule -------------------------------------------------

typedef struct nfp_stage_ {
  int first_epoch, epochs;
  int batch;
  float lr;  // the stage's base learning rate
} nfp_stage;

typedef struct nfp_schedule_ {
  nfp_stage stage[3];
  int epochs;
  long warmup_steps;    // linear warm-up at the very start
  float final_lr_frac;  // stage 3 anneals from its lr down to final_lr_frac * its lr
} nfp_schedule;

// Stage 1: 20 % of epochs, batch/4, lr. Stage 2: 50 %, batch/2, lr/3.
// Stage 3: the rest, batch, cosine from lr/10 to lr/100.
void nfp_schedule_default(nfp_schedule* s, int epochs, int batch, float lr);
int nfp_schedule_stage(const nfp_schedule* s, int epoch);  // 0, 1 or 2
int nfp_schedule_batch(const nfp_schedule* s, int epoch);
// Rate at a point of training: epoch, fraction of that epoch done, global step.
float nfp_schedule_lr(const nfp_schedule* s, int epoch, float epoch_frac, long step);

//---------------------------------- EMA ------------------------------------------------------

typedef struct nfp_ema_ {
  size_t n;
  float decay;
  long updates;
  float* w;  // [n] averaged weights
} nfp_ema;

int nfp_ema_init(nfp_ema* ema, const float* params, size_t n, float decay);
void nfp_ema_free(nfp_ema* ema);
// w += (1 - d) (params - w), d = min(decay, (1 + updates) / (10 + updates)).
void nfp_ema_update(nfp_ema* ema, const float* params);

//---------------------------------- curve ----------------------------------------------------

// Train (blue) and validation (orange, may be NULL) values per epoch as a PNG.
int nfp_curve_write_png(const char* path, const float* train, const float* val, int n);

#ifdef __cplusplus
}
#endif
#endif
