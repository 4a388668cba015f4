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
#include <stdio.h>

#include "nfp/dataset.h"
#include "nfp/model.h"

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

//---------------------------------- training loop --------------------------------------------

typedef struct nfp_train_config_ {
  int epochs;          // passes over the training windows
  int batch;           // stage-3 batch (stages 1, 2 use batch/4, batch/2)
  float lr;            // stage-1 learning rate
  float weight_decay;  // AdamW decoupled decay, weight matrices only
  float beta1, beta2, eps;
  float clip;          // max global gradient norm (<= 0: off)
  float ema_decay;     // EMA of the weights; the EMA is evaluated and saved
  float action_noise;  // std of Gaussian noise on normalised training actions (0: off)
  float obs_noise;     // std of Gaussian noise on the normalised observed state (0: off)
  uint64_t seed;       // shuffling and noise (epoch e uses a stream derived from seed, e)
  int ckpt_every;      // epochs between periodic checkpoints (0: only at the end)
  int threads;         // threads sharing the elementwise AdamW + EMA update (results do not
                       // depend on it; the matrix maths uses OpenBLAS's own threads)
} nfp_train_config;

void nfp_train_config_default(nfp_train_config* cfg);

// Everything one training run holds. The model's params are the live weights.
typedef struct nfp_trainer_ {
  nfp_model* model;
  const nfp_dataset* ds;
  nfp_train_config cfg;
  nfp_schedule sched;
  nfp_model_ws* ws;
  nfp_adamw opt;
  nfp_ema ema;
  float* grads;         // [num_params]
  uint8_t* decay_mask;  // [num_params] 1 on weight matrices
  float* obs;           // [max_batch * obs_dim] batch buffers
  float* act;           // [max_batch * act_dim]
  uint8_t* img;         // [max_batch][n_cam][img_h][img_w][3] cropped frames (image models)
  double* logp;         // [max_batch]
  double* dlogp;        // [max_batch]
  int* order;           // [n_train] shuffled anchors
  int epoch;            // epochs completed
  long step;            // optimiser steps taken
  float* hist_train;    // [cfg.epochs] mean training NLL per epoch (live weights)
  float* hist_val;      // [cfg.epochs] validation NLL per epoch (EMA weights; NaN if none)
  double samples_per_s; // training throughput of the last epoch
  double seconds;       // wall time spent in epochs so far (this process)
} nfp_trainer;

// Model and dataset must agree (chunk and observation sizes); the model's normalisation
// statistics are set from the dataset. 0, or -1 with a message.
int nfp_trainer_init(nfp_trainer* tr, nfp_model* model, const nfp_dataset* ds,
                     const nfp_train_config* cfg);
void nfp_trainer_free(nfp_trainer* tr);

// One AdamW step on the windows at anchors[0..n) with rate lr; *nll = their mean NLL
// (nats per normalised chunk) before the step.
int nfp_trainer_step(nfp_trainer* tr, const int* anchors, int n, float lr, double* nll);
// Mean NLL of the EMA weights over the windows at anchors[0..n) (no update).
int nfp_trainer_evaluate(nfp_trainer* tr, const int* anchors, int n, double* nll);
// One epoch (shuffled, batch and rate from the schedule), then validation; fills the history.
int nfp_trainer_epoch(nfp_trainer* tr);

// Checkpoint: the EMA weights as the model, the configuration in __metadata__
// ("train_config", "train_state" JSON), and for --resume the live weights, AdamW moments
// and the NLL history as "train.*" tensors. Atomic.
int nfp_trainer_save(const nfp_trainer* tr, const char* path, const char* data_dir);
// Restore live weights, EMA weights, AdamW moments and step count, epoch counter and
// history from a checkpoint written by nfp_trainer_save for the same model configuration.
int nfp_trainer_resume(nfp_trainer* tr, const char* path);

// Epochs from tr->epoch to cfg.epochs with a progress line each on log (may be NULL),
// a checkpoint every ckpt_every epochs and at the end, and the curve PNG beside it
// (nfp_train_curve_path). 0, or -1 with a message.
int nfp_trainer_run(nfp_trainer* tr, const char* out_path, const char* data_dir, FILE* log);

// "x.safetensors" -> "x.curve.png" (other names: name + ".curve.png"). Caller frees.
char* nfp_train_curve_path(const char* out_path);

// The training configuration stored with a checkpoint (read back for --resume).
char* nfp_train_config_to_json(const nfp_train_config* cfg, const nfp_dataset_config* dcfg,
                               const char* data_dir);
int nfp_train_config_from_json(nfp_train_config* cfg, nfp_dataset_config* dcfg,
                               const char* json);

#ifdef __cplusplus
}
#endif
#endif
