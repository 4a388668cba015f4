// nfp/train.h: training: windows cut from episodes (dataset), optimiser, EMA, schedule and
// the training loop.
//
// Sections: dataset, train.
#ifndef NFP_TRAIN_H
#define NFP_TRAIN_H

#include <stdint.h>
#include <stddef.h>
#include <stdio.h>

#include "nfp/checkpoint.h"
#include "nfp/episode.h"
#include "nfp/model.h"
#include "nfp/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

//================================== dataset ===================================================
// nfp_dataset: training windows cut from demonstration episodes.
//
// Every frame t of every episode is an anchor (the window slides by one frame):
//   observation  s[t], s[t-1], ..., s[t-(n_obs-1)]   (newest first, clamped at frame 0), where
//                the state frame s is qpos, or qpos followed by the object state when
//                use_object is set (what the policy agent feeds a model with that width)
//   action chunk action[t], action[t+s], ..., action[t+(H-1)s] (clamped at the last frame, i.e.
//                the end is padded by repeating the last action)
// Episodes are split into training and validation sets as whole episodes, so no validation
// window shares frames with a training window. Values are stored normalised per joint to
// [-1, 1] with statistics from the training episodes only.
#define NFP_NORM_MAX_DIM 64
#define NFP_NORM_MIN_RANGE 0.2f  // floor on max-min (rad or m): a joint or object that barely
                                  // moves in the demos must not turn small drift at run time
                                  // into huge normalised inputs (out of distribution)

// Per-dimension affine map x -> 2 (x - lo) / (hi - lo) - 1.
typedef struct nfp_norm_ {
  int dim;
  float lo[NFP_NORM_MAX_DIM];
  float hi[NFP_NORM_MAX_DIM];
} nfp_norm;

void nfp_norm_apply(float* out, const double* x, const nfp_norm* norm, int n);   // n vectors
void nfp_norm_invert(double* out, const float* y, const nfp_norm* norm, int n);  // n vectors

typedef struct nfp_dataset_config_ {
  int horizon;      // H: actions per chunk
  int stride;       // s: frames between chunk actions
  int n_obs;        // frames of state history in the observation
  int use_object;   // append the object state to every state frame: 1 yes, 0 no,
                    // -1 when the demos have one (the built dataset's cfg holds 0 or 1)
  float val_frac;   // fraction of episodes held out (at least one when there are >= 2)
  uint64_t seed;    // seeds the episode split
  // Head-camera frames (image models; 0 = none): the newest frame of each window, shrunk
  // img_down times at load time and cropped to img_crop_h x img_crop_w when gathered: a
  // window centred and moved by (img_off_y, img_off_x) (the model's acting position), and
  // in training placed within +-img_shift pixels of it, or anywhere when img_shift < 0
  // (the default).
  int img_down;
  int img_crop_h, img_crop_w;
  int img_off_y, img_off_x;
  int img_shift;
  // 1: each window also takes its episode's first frame, cropped at the same place (the
  // model's img_first).
  int img_first;
  // Also keep every frame's object state alone, normalised with its own statistics, as
  // the target of an image encoder's object-state head (1), or not (0).
  int aux_object;
  // Optional augmentation (NULL: none): writes the twin of an episode (its left-right
  // mirror image, say) into *twin, allocated with nfp_episode_alloc; 0 or -1 (error set).
  // The dataset then holds every episode and its twin, the twin in its original's split.
  // The caller knows the rig and the task; the dataset does not.
  int (*twin)(nfp_episode* twin, const nfp_episode* ep, void* ctx);
  void* twin_ctx;
} nfp_dataset_config;

typedef struct nfp_dataset_ {
  nfp_dataset_config cfg;
  int nq;            // joint width of actions (14)
  int ns;            // state frame width: nq, plus the object width with use_object
  int64_t seed_min, seed_max;  // range of the episodes' seeds (evaluation must avoid it)
  char task[64];     // the episodes' task ("" when they disagree)
  int obs_dim;       // n_obs * ns
  int act_dim;       // horizon * nq
  int n_episodes;
  int n_frames;      // total over all episodes
  int* ep_start;     // [n_episodes + 1] first frame of each episode in the flat arrays
  int* frame_ep;     // [n_frames] episode of each frame
  char* is_val;      // [n_episodes] 1 for validation episodes
  float* state;      // [n_frames * ns] normalised
  float* action;     // [n_frames * nq] normalised
  int n_train, n_val;
  int* train_idx;    // [n_train] anchor frames of training windows
  int* val_idx;      // [n_val] anchor frames of validation windows
  nfp_norm state_norm;
  nfp_norm action_norm;
  int img_src_h, img_src_w;  // recorded frame size (images only)
  int img_h, img_w;          // after shrinking
  uint8_t* images;           // [n_frames][img_h][img_w][3] shrunk frames, or NULL
  int nobj;                  // object values per frame with cfg.aux_object, else 0
  float* object;             // [n_frames * nobj] normalised with object_norm, or NULL
  nfp_norm object_norm;
} nfp_dataset;

void nfp_dataset_config_default(nfp_dataset_config* cfg);

// Build from episodes in memory (all must share nq, and nobj with use_object or
// aux_object). The statistics are fitted on the
// training episodes unless state_norm and action_norm are given (e.g. from a checkpoint
// being resumed); then they are used as they are. 0, or -1 with a message.
int nfp_dataset_build(nfp_dataset* ds, const nfp_episode* eps, int n_episodes,
                      const nfp_dataset_config* cfg, const nfp_norm* state_norm,
                      const nfp_norm* action_norm);

void nfp_dataset_free(nfp_dataset* ds);

// Gather the windows at anchors[0..n): obs [n * obs_dim], act [n * act_dim], normalised.
void nfp_dataset_gather(float* obs, float* act, const nfp_dataset* ds, const int* anchors, int n);
// The newest frame's object state of each window, out[n][nobj] (cfg.aux_object only).
void nfp_dataset_gather_object(float* out, const nfp_dataset* ds, const int* anchors, int n);

// The newest frame of each window at anchors[0..n) into out[n][img_crop_h][img_crop_w][3]
// (out[n][2][...] with cfg.img_first: the newest, then the episode's first, both cropped
// at the window's one placement): a random placement per window drawn from rng (training
// augmentation), or the acting position when rng is NULL (validation, and what the policy
// sees when acting).
void nfp_dataset_gather_images(uint8_t* out, const nfp_dataset* ds, const int* anchors, int n,
                               nfp_rng* rng);

//================================== train =====================================================
// nfp_train: maximum-likelihood training of an NF-P model on demonstration windows.
//
// Pieces (each usable alone): AdamW over one flat parameter vector, global-norm gradient
// clipping, the three-stage learning-rate / batch-size schedule, an exponential moving
// average of the weights, the training-curve PNG, and the training loop that ties them
// to a model and a dataset.
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
// Its two halves, for gradients spread over several processes: the sum of squares of a
// part (summed across the parts by the caller), and the factor that clips the whole.
double nfp_grad_sumsq(const float* grads, size_t n);
float nfp_grad_clip_scale(double sumsq, float max_norm);

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
  float aux_weight;    // weight of the object-state head's mean squared error in the loss
                       // (models with aux_dim > 0; the demos' object state is the target)
  uint64_t seed;       // shuffling and noise (epoch e uses a stream derived from seed, e)
  int ckpt_every;      // epochs between periodic checkpoints (0: only at the end)
  int threads;         // threads sharing the elementwise AdamW + EMA update (results do not
                       // depend on it; the matrix maths uses OpenBLAS's own threads)
} nfp_train_config;

void nfp_train_config_default(nfp_train_config* cfg);

// Data-parallel training over the processes of one job (an MPI job, say; the policy library
// knows no MPI: the caller passes its collectives). Every rank runs the same trainer on the
// same windows, schedule and seed; each computes the log-likelihood and gradient of its
// contiguous share of every batch (and of the validation windows), the shares are summed
// across ranks, and every rank takes the same step. Noise and crops are drawn for the whole
// batch as in one process, so the run does not depend on the rank count beyond the order of
// float sums.
//
// The optimiser's work is shared too (as ZeRO stage 1 does): rank r owns the contiguous
// share r of the parameter vector (n * r / size .. n * (r + 1) / size). The gradients are
// summed onto their owners (reduce-scatter), each rank clips (by the global norm), steps
// AdamW and the EMA on its share, and the updated weights are gathered to every rank; the
// EMA and the AdamW moments are gathered at the end of each epoch and before a save.
typedef struct nfp_train_group_ {
  int rank, size;
  // In place: rank r's share of buf ends up holding the sum over ranks of that share (the
  // rest of buf is left undefined). 0 or -1.
  int (*sum_scatter_float)(float* buf, size_t n);
  // In place: every rank's share of buf to every rank. 0 or -1.
  int (*gather_float)(float* buf, size_t n);
  int (*sum_double)(double* buf, size_t n);  // in place, every rank gets the sum. 0 or -1
  int (*max_int)(int* flag);                 // the largest flag over ranks. 0 or -1
} nfp_train_group;

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
  float* aux;           // [max_batch * aux_dim] object-state targets (models with a head)
  double* logp;         // [max_batch]
  double* dlogp;        // [max_batch]
  int* order;           // [n_train] shuffled anchors
  int epoch;            // epochs completed
  long step;            // optimiser steps taken
  float* hist_train;    // [cfg.epochs] mean training NLL per epoch (live weights)
  float* hist_val;      // [cfg.epochs] validation NLL per epoch (EMA weights; NaN if none)
  double samples_per_s; // training throughput of the last epoch
  double aux_mse;       // the object-state head's mean squared error over the last epoch
                        // (normalised units; NAN without a head)
  double val_aux_mse;   // and on the validation windows (EMA weights) at the last evaluation
  double aux_sum;       // its running sum and count within the epoch
  long aux_steps;
  double seconds;       // wall time spent in epochs so far (this process)
  double epoch_seconds; // wall time of the last finished epoch (this process's part of it)
  // The EMA weights at the lowest validation NLL so far, kept beside the last ones (runs
  // with validation windows; otherwise best_w is NULL and best_epoch stays 0).
  float* best_w;        // [num_params]
  int best_epoch;       // epochs finished when they were taken (1-based; 0: none yet)
  float best_val;       // their validation NLL
  int overfit_warned;   // nfp_trainer_run printed its overfitting warning (once per run)
  // An epoch stopped part-way (stop below): the steps of epoch `epoch` already taken and
  // their summed NLL; 0 at epoch boundaries. Saved and resumed, so a run stopped mid-epoch
  // continues at the next step exactly as if it had not stopped.
  int epoch_step;
  double epoch_sum;
  // Asked before every optimiser step and before validation (NULL: never): non-zero makes
  // nfp_trainer_epoch return 1 at once, the epoch part-done (e.g. on Ctrl-C).
  int (*stop)(void* ctx);
  void* stop_ctx;
  // Data-parallel ranks (NULL: this process alone). Only rank 0 writes checkpoints, logs
  // and metrics in nfp_trainer_run; a stop asked on any rank stops every rank.
  const nfp_train_group* group;
  double comm_seconds;  // time in the group's sums during the last finished epoch
  // Closed-loop success of the EMA weights measured after the last finished epoch by the
  // caller's on_epoch hook (nfp train --eval-every): successes of rollout_episodes, or
  // rollout_episodes = 0 when none ran then.
  int rollout_successes, rollout_episodes;
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
// One epoch (shuffled, batch and rate from the schedule), then validation; fills the history
// and keeps the best EMA weights. 0 done, 1 stopped part-way by tr->stop (call again to
// finish it, or save), -1 with a message.
int nfp_trainer_epoch(nfp_trainer* tr);

// Epochs finished since the best validation NLL (0 without validation windows).
int nfp_trainer_epochs_since_best(const nfp_trainer* tr);

// Checkpoint: the last EMA weights as the model (what eval and the samplers load), the
// configuration in __metadata__ ("train_config", "train_state" JSON with the epoch, step,
// best_epoch and best_val_nll; "policy_weights" JSON naming the weights the model tensors
// hold), and as "train.*" tensors the best-validation EMA weights ("train.best_params"), and
// for --resume the live weights, AdamW moments and the NLL history. Also mid-epoch (after
// tr->stop): the part-done epoch resumes at its next step. Atomic.
int nfp_trainer_save(const nfp_trainer* tr, const char* path, const char* data_dir);
// Restore live, EMA and best weights, AdamW moments and step count, epoch counter (and a
// part-done epoch) and history from a checkpoint written by nfp_trainer_save for the same
// model configuration. The file is read once (nfp_checkpoint_read).
int nfp_trainer_resume(nfp_trainer* tr, const char* path);
// The same from a checkpoint already in memory.
int nfp_trainer_resume_from(nfp_trainer* tr, const nfp_checkpoint* ck);

// "policy_weights" metadata: which weights a checkpoint's model tensors hold ("last" or
// "best"), after how many epochs (and epoch_step steps of the next, for a run stopped
// mid-epoch; 0: left out) and their validation NLL (non-finite: left out). JSON text;
// caller frees; NULL when out of memory.
char* nfp_train_weights_json(const char* which, int epoch, int epoch_step, double val_nll);

// Extra tensor of a training checkpoint holding the best-validation EMA weights.
#define NFP_TRAIN_BEST_TENSOR "train.best_params"
// Epochs the validation NLL may stay above its best before nfp_trainer_run warns.
#define NFP_TRAIN_OVERFIT_EPOCHS 20

// Called after each checkpoint is written (nfp train draws the curve there). 0 or -1.
typedef int (*nfp_trainer_hook)(const nfp_trainer* tr, const char* out_path, void* ctx);

typedef struct nfp_train_run_opts_ {
  const char* out_path;      // checkpoint, every cfg.ckpt_every epochs, at the end and on stop
  const char* data_dir;      // recorded in the checkpoint's train_config (may be NULL)
  FILE* log;                 // a progress line per epoch (NULL: none)
  FILE* warn;                // the one-line overfitting warning (NULL: none)
  // One JSON object per finished epoch (nfp_trainer_metrics_json), the whole file rewritten
  // atomically after each epoch (NULL: none). Lines for epochs up to tr->epoch already in it
  // are kept (a resumed run; later ones, from after the checkpoint, are dropped); when it
  // does not exist yet they are taken from metrics_prior (may be NULL).
  const char* metrics_path;
  const char* metrics_prior;
  int overfit_epochs;        // epochs above the best val NLL before the warning (0: the default)
  nfp_trainer_hook on_save;  // after every checkpoint (may be NULL)
  // After every finished epoch, before its progress line and metrics (may be NULL): e.g.
  // rollouts of the EMA weights, written into tr->rollout_*. 0 or -1.
  int (*on_epoch)(nfp_trainer* tr, void* ctx);
  void* ctx;
} nfp_train_run_opts;

// Epochs from tr->epoch (finishing a part-done one) to cfg.epochs, with what o asks for.
// 0 when all are done; 1 when tr->stop stopped it (a resumable checkpoint was saved to
// o->out_path first); -1 with a message.
int nfp_trainer_run(nfp_trainer* tr, const nfp_train_run_opts* o);

// The last finished epoch as one JSON object on one line (no newline): epoch, stage, batch,
// lr, train_nll, val_nll (null without validation), object_mse and val_object_mse (models
// with an object-state head), rollout_success and rollout_episodes (epochs with rollouts),
// samples_per_s, seconds (the epoch's wall time), ranks and
// comm_share (data-parallel runs: the share of the epoch spent summing), best_epoch.
// NULL when out of memory. Caller frees.
char* nfp_trainer_metrics_json(const nfp_trainer* tr);

// "x.safetensors" -> "x.curve.png" (other names: name + ".curve.png"). Caller frees.
char* nfp_train_curve_path(const char* out_path);
// "x.safetensors" -> "x.metrics.jsonl" (other names: name + ".metrics.jsonl"). Caller frees.
char* nfp_train_metrics_path(const char* out_path);

// The training configuration stored with a checkpoint (read back for --resume).
char* nfp_train_config_to_json(const nfp_train_config* cfg, const nfp_dataset_config* dcfg,
                               const char* data_dir);
int nfp_train_config_from_json(nfp_train_config* cfg, nfp_dataset_config* dcfg,
                               const char* json);

#ifdef __cplusplus
}
#endif
#endif
