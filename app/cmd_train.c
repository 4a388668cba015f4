// nfp train: fit an NF-P policy to a folder of demonstrations by exact maximum likelihood.
#include <cblas.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "args.h"
#include "commands.h"
#include "demo_mirror.h"
#include "nfp/checkpoint.h"
#include "nfp/cluster.h"
#include "nfp/demo.h"
#include "nfp/error.h"
#include "nfp/model.h"
#include "nfp/picture.h"
#include "nfp/tasks.h"
#include "nfp/train.h"
#include "stop_signal.h"
#include "train_group.h"
#include "train_rollouts.h"

// Fails early when the output of flag cannot be written, before any training time is spent.
static int check_output(const char* flag, const char* out) {
  struct stat st;
  if (stat(out, &st) == 0 && S_ISDIR(st.st_mode)) {
    return nfp_error_set("%s %s is a folder", flag, out);
  }
  char* dir = strdup(out);
  if (!dir) return nfp_error_set("out of memory");
  char* slash = strrchr(dir, '/');
  const char* d = ".";
  if (slash) {
    *slash = '\0';
    d = slash == dir ? "/" : dir;
  }
  int rc = 0;
  if (stat(d, &st) != 0 || !S_ISDIR(st.st_mode)) {
    rc = nfp_error_set("%s %s: folder '%s' does not exist", flag, out, d);
  } else if (access(d, W_OK) != 0) {
    rc = nfp_error_set("%s %s: folder '%s' is not writable", flag, out, d);
  }
  free(dir);
  return rc;
}

static void norm_from_model(nfp_norm* s, nfp_norm* a, const nfp_model* m) {
  s->dim = m->cfg.state_dim;
  a->dim = m->cfg.action_dim;
  for (int j = 0; j < s->dim && j < NFP_NORM_MAX_DIM; j++) {
    s->lo[j] = m->state_lo[j];
    s->hi[j] = m->state_hi[j];
  }
  for (int j = 0; j < a->dim && j < NFP_NORM_MAX_DIM; j++) {
    a->lo[j] = m->action_lo[j];
    a->hi[j] = m->action_hi[j];
  }
}

// Did the run stored in train_config JSON train on twins (mirror images)? Runs from
// before --mirror existed did not.
static int stored_twins(const char* json) {
  cJSON* j = cJSON_Parse(json);
  int on = j && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "twins"));
  cJSON_Delete(j);
  return on;
}

// --mirror WHEN for the demos in dir: 1 train on mirror images too, 0 not, -1 error.
static int mirror_wanted(const char* when, const char* dir) {
  if (!strcmp(when, "off")) return 0;
  if (strcmp(when, "on") && strcmp(when, "auto")) {
    return nfp_error_set("--mirror must be auto, on or off, got '%s'", when);
  }
  int on = !strcmp(when, "on");
  const nfp_task_def* def;
  if (nfp_demo_task(dir, &def) != 0) return -1;
  int symmetric = def && def->mirror_object;
  if (on && !symmetric) {
    return nfp_error_set("--mirror on: the task of the demos in '%s' is not left-right "
                         "symmetric", dir);
  }
  return on || (symmetric && def->mirror_by_default);
}

static const char* about =
    "Trains an NF-P policy on every episode (*.hdf5) in DIR by maximising\n"
    "the exact log-likelihood of action chunks. Windows: at every frame t the observation is\n"
    "the state at t, t-1, ... (n-obs frames, clamped at the first frame; the state is qpos, or\n"
    "qpos then the object pose with --obs qpos+object) and the chunk is action\n"
    "at t, t+s, ..., t+(H-1)s (the end padded with the last action). Whole episodes are held\n"
    "out for validation; min/max statistics come from the training episodes.\n"
    "Schedule: 20% of epochs at batch/4 and lr, 50% at batch/2 and lr/3, 30% at batch with\n"
    "lr cosine-annealed from lr/10 to lr/100 (100-step warm-up). AdamW, global-norm clipping,\n"
    "EMA of the weights; the EMA weights are validated and saved.\n"
    "Writes FILE (atomically, every --ckpt-every epochs and at the end) and FILE's curve as\n"
    "FILE.curve.png (.safetensors replaced). FILE's model is the last EMA weights; it also\n"
    "keeps the EMA weights of the epoch with the best validation NLL (nfp export --weights\n"
    "best), and a warning goes to stderr once validation NLL has stayed above its best for\n"
    "20 epochs. One JSON line per epoch goes to FILE.metrics.jsonl (--metrics elsewhere).\n"
    "Ctrl-C (SIGINT) or SIGTERM finishes the current step, saves a resumable FILE and exits\n"
    "with 130 (143). --resume restores live, EMA and best weights, AdamW moments and step,\n"
    "epoch (even part-done) and NLL history; model, chunking, split and statistics come from\n"
    "the checkpoint, and training flags given now override the stored ones (e.g. --epochs).\n"
    "Under mpirun -np N, training is data-parallel: each rank computes 1/N of every batch\n"
    "and updates 1/N of the weights, the batch and schedule stay what the flags say, and\n"
    "rank 0 prints and writes (one core per rank: --threads 1).";

// --obs image+state: the encoder kind and the frame preparation (the frame size itself
// comes from the demos).
static const char* const encoder_names[] = {"state", "resnet18", "cnn", "cnn-kp"};

static int image_config(nfp_model_config* mc, const char* encoder, int img_down,
                        const char* crop) {
  mc->encoder = NFP_ENCODER_STATE;
  for (int k = NFP_ENCODER_RESNET18; k <= NFP_ENCODER_CNN_KP; k++) {
    if (!strcmp(encoder, encoder_names[k])) mc->encoder = (nfp_encoder_kind)k;
  }
  if (mc->encoder == NFP_ENCODER_STATE) {
    return nfp_error_set("--encoder must be resnet18, cnn or cnn-kp, got '%s'", encoder);
  }
  int h = 0, w = 0;
  char tail = 0;
  if (sscanf(crop, "%dx%d%c", &h, &w, &tail) != 2 || h < 8 || w < 8 || h > 1024 || w > 1024) {
    return nfp_error_set("--crop must be HxW with sides 8..1024 (e.g. 58x76), got '%s'", crop);
  }
  mc->n_cam = 1;
  mc->img_down = img_down;
  mc->img_h = h;
  mc->img_w = w;
  return 0;
}

// After every checkpoint: its training curve beside it (FILE.curve.png), the schedule's
// stages and the best epoch marked.
static int draw_curve(const nfp_trainer* tr, const char* out_path, void* ctx) {
  (void)ctx;
  if (tr->epoch == 0) return 0;  // stopped in the first epoch: no curve yet
  char* curve = nfp_train_curve_path(out_path);
  if (!curve) return nfp_error_set("out of memory");
  const char* slash = strrchr(out_path, '/');
  char title[256];
  snprintf(title, sizeof(title), "%s: training curve", slash ? slash + 1 : out_path);
  nfp_curve c = {.train = tr->hist_train, .val = tr->ds->n_val > 0 ? tr->hist_val : NULL,
                 .n = tr->epoch, .n_stages = 3, .best_epoch = tr->best_epoch, .title = title};
  for (int k = 0; k < 3; k++) c.stage_starts[k] = tr->sched.stage[k].first_epoch;
  int rc = nfp_curve_write(curve, &c);
  free(curve);
  return rc;
}

// nfp train's flags, and the model, training and dataset configs they fill.
typedef struct {
  int argc;
  char** argv;  // kept to tell a flag given now from its default (nfp_args_given)
  nfp_model_config mc;
  nfp_train_config tc;
  nfp_dataset_config dc;
  const char *data, *out, *resume, *obs_kind, *encoder, *crop, *mirror, *metrics;
  const char* crop_at;  // --crop-at Y,X: the acting window's top-left (NULL: centred)
  const char* camera;  // --camera: the demos' camera to read (NULL: their default)
  int img_down, threads, quiet, object_bottleneck;
  double val_frac, lr, wd, clip, ema, noise, obs_noise;  // parsed as doubles, kept as floats
  double object_head;  // weight of the object-state head's error; 0: no head
  long long seed;
  int image;  // --obs image+state
  nfp_train_rollouts rollouts;  // --eval-every: closed-loop success during training
} train_opts;

// What one run builds, freed together by train_job_free.
typedef struct {
  nfp_model* model;  // resumed from the checkpoint, or created for the dataset
  nfp_checkpoint* ck;  // the --resume checkpoint, read once, freed once restored
  nfp_norm sn, an;   // a resumed run's state and action statistics
  int have_norm;
  int twins;         // the dataset holds mirror images too
  nfp_dataset ds;
  int have_ds;
  nfp_trainer tr;
} train_job;

// Library defaults -> o, before parsing (they are what --help shows).
static void train_opts_default(train_opts* o, int argc, char** argv) {
  memset(o, 0, sizeof(*o));
  o->argc = argc;
  o->argv = argv;
  nfp_model_config_default(&o->mc);
  nfp_train_config_default(&o->tc);
  nfp_dataset_config_default(&o->dc);
  o->obs_kind = "auto";
  o->encoder = "cnn";  // the camera recipe measured best (docs/experiments.md)
  o->crop = "58x76";
  o->mirror = "auto";
  o->img_down = 4;
  o->val_frac = o->dc.val_frac;
  o->lr = o->tc.lr;
  o->wd = o->tc.weight_decay;
  o->clip = o->tc.clip;
  o->ema = o->tc.ema_decay;
  o->noise = o->tc.action_noise;
  o->obs_noise = o->tc.obs_noise;
  o->seed = (long long)o->tc.seed;
  o->rollouts = (nfp_train_rollouts){.episodes = 10, .seed0 = 100000};  // eval's first seed
}

// argv -> o through the flag table. 0 go on, 1 --help printed, 2 bad flags (reported).
static int train_parse(train_opts* o) {
  nfp_arg args[] = {
      {"--data", NFP_ARG_STR, &o->data, "DIR", "folder of demo episodes (*.hdf5)", 0, 0, 1},
      {"--out", NFP_ARG_STR, &o->out, "FILE", "checkpoint to write (.safetensors)", 0, 0, 1},
      {"--resume", NFP_ARG_STR, &o->resume, "FILE", "continue the run saved in FILE", 0, 0, 0},
      {"--horizon", NFP_ARG_INT, &o->mc.horizon, "H", "actions per chunk", 1, 256, 0},
      {"--stride", NFP_ARG_INT, &o->mc.stride, "S", "frames between chunk actions", 1, 1000, 0},
      {"--n-obs", NFP_ARG_INT, &o->mc.n_obs, "N", "frames of state history", 1, 64, 0},
      {"--obs", NFP_ARG_STR, &o->obs_kind, "KIND",
       "state frame: qpos (joints), qpos+object (joints, then the object pose), auto "
       "(qpos+object when the demos record an object state), or image+state (the head camera "
       "through --encoder, plus qpos; demos from nfp collect --images)", 0, 0, 0},
      {"--encoder", NFP_ARG_STR, &o->encoder, "KIND",
       "image encoder for --obs image+state: resnet18 (GroupNorm), cnn (small, faster) or "
       "cnn-kp (small, spatial-softmax keypoints)", 0, 0, 0},
      {"--img-down", NFP_ARG_INT, &o->img_down, "N",
       "box-average camera frames N times before cropping (240x320 -> 60x80 at 4)", 1, 16, 0},
      {"--crop", NFP_ARG_STR, &o->crop, "HxW",
       "encoder input: a window of the shrunk frames, the same place when acting (see "
       "--crop-at), placed at random in training (see --shift)", 0, 0, 0},
      {"--crop-at", NFP_ARG_STR, &o->crop_at, "Y,X",
       "top-left of the --crop window in the shrunk frame when acting, a region of interest "
       "(default: centred)", 0, 0, 0},
      {"--shift", NFP_ARG_INT, &o->dc.img_shift, "N",
       "training: place the window within +-N pixels of where it sits when acting (edge "
       "pixels repeated past the frame); -1 = anywhere inside the frame", -1, 4096, 0},
      {"--first-frame", NFP_ARG_FLAG, &o->mc.img_first, NULL,
       "the encoder also sees the episode's first camera frame (same window, same weights): "
       "the scene before the arms hide parts of it", 0, 0, 0},
      {"--camera", NFP_ARG_STR, &o->camera, "NAME",
       "the demos' camera for --obs image+state: nfp's record 'head'; ALOHA / ACT episodes "
       "(read as they are) have cam_high, cam_left_wrist, ... (default: cam_high, else the "
       "first by name)", 0, 0, 0},
      {"--mirror", NFP_ARG_STR, &o->mirror, "WHEN",
       "also train on the left-right mirror image of every demo (camera frames flipped left "
       "to right): auto (for the tasks where it helps, lift_pot and stack_block_two), on (any "
       "symmetric task: also towel_folding) or off", 0, 0, 0},
      {"--val-frac", NFP_ARG_DOUBLE, &o->val_frac, "F",
       "fraction of episodes held out (>= 1 when there are 2+)", 0, 0.9, 0},
      {"--layers", NFP_ARG_INT, &o->mc.n_layers, "L", "spline coupling layers", 1, 64, 0},
      {"--bins", NFP_ARG_INT, &o->mc.n_bins, "K", "spline bins per coordinate", 2, 64, 0},
      {"--hidden", NFP_ARG_INT, &o->mc.hidden, "N", "conditioner width", 1, 4096, 0},
      {"--blocks", NFP_ARG_INT, &o->mc.n_blocks, "N", "conditioner residual blocks", 0, 8, 0},
      {"--context", NFP_ARG_INT, &o->mc.context_dim, "N", "observation context size", 1, 4096, 0},
      {"--epochs", NFP_ARG_INT, &o->tc.epochs, "N", "passes over the training windows", 1, 1e6, 0},
      {"--batch", NFP_ARG_INT, &o->tc.batch, "N", "stage-3 batch (stages 1, 2: batch/4, batch/2)",
       4, 65536, 0},
      {"--lr", NFP_ARG_DOUBLE, &o->lr, "X", "stage-1 learning rate", 1e-9, 1, 0},
      {"--weight-decay", NFP_ARG_DOUBLE, &o->wd, "X", "AdamW decay of weight matrices", 0, 1, 0},
      {"--clip", NFP_ARG_DOUBLE, &o->clip, "X", "max global gradient norm, 0 = off", 0, 1e9, 0},
      {"--ema", NFP_ARG_DOUBLE, &o->ema, "X", "EMA decay of the saved weights", 0, 0.99999, 0},
      {"--action-noise", NFP_ARG_DOUBLE, &o->noise, "X",
       "std of Gaussian noise on normalised training actions, 0 = off", 0, 1, 0},
      {"--obs-noise", NFP_ARG_DOUBLE, &o->obs_noise, "X",
       "std of Gaussian noise on the normalised observed state in training, 0 = off", 0, 1, 0},
      {"--object-head", NFP_ARG_DOUBLE, &o->object_head, "W",
       "image models: also train a linear head from the camera features to the demos' "
       "object state (training-only supervision), weight W on its mean squared error; 0 = no "
       "head", 0, 1e6, 0},
      {"--object-bottleneck", NFP_ARG_FLAG, &o->object_bottleneck, NULL,
       "with --object-head: the encoder's MLP sees the head's object-state estimate instead of "
       "the camera features", 0, 0, 0},
      {"--seed", NFP_ARG_SEED, &o->seed, "N", "seeds init, episode split, shuffling", 0, 9e15, 0},
      {"--ckpt-every", NFP_ARG_INT, &o->tc.ckpt_every, "N",
       "epochs between periodic checkpoints, 0 = only at the end", 0, 1e6, 0},
      {"--threads", NFP_ARG_INT, &o->threads, "N",
       "threads for OpenBLAS and the optimiser update, 0 = OpenBLAS's choice", 0,
       256, 0},
      {"--metrics", NFP_ARG_STR, &o->metrics, "FILE",
       "per-epoch metrics as JSON lines (epoch, stage, batch, lr, train_nll, val_nll, "
       "object_mse, samples_per_s, seconds, best_epoch); default: FILE.metrics.jsonl beside "
       "--out", 0, 0, 0},
      {"--quiet", NFP_ARG_FLAG, &o->quiet, NULL, "no per-epoch progress lines", 0, 0, 0},
      {"--eval-every", NFP_ARG_INT, &o->rollouts.every, "N",
       "every N epochs (and after the last) run the EMA weights in the simulated task, SBS, "
       "and log the success beside the NLL; 0 = never", 0, 1e6, 0},
      {"--eval-episodes", NFP_ARG_INT, &o->rollouts.episodes, "K", "rollouts per evaluation",
       1, 1e5, 0},
      {"--eval-seed", NFP_ARG_SEED, &o->rollouts.seed0, "S",
       "first seed of those rollouts (must avoid the demos' seeds)", 0, 9e15, 0},
  };
  int nargs = (int)(sizeof(args) / sizeof(args[0]));
  return nfp_args_parse(o->argc, o->argv, args, nargs,
                        "nfp train --data DIR --out FILE.safetensors [options]", about);
}

// The flags parsed as doubles -> the float (and seed) fields of the configs.
static void train_opts_store_numbers(train_opts* o) {
  o->dc.val_frac = (float)o->val_frac;
  o->tc.lr = (float)o->lr;
  o->tc.weight_decay = (float)o->wd;
  o->tc.clip = (float)o->clip;
  o->tc.ema_decay = (float)o->ema;
  o->tc.action_noise = (float)o->noise;
  o->tc.obs_noise = (float)o->obs_noise;
  if (o->object_head > 0) o->tc.aux_weight = (float)o->object_head;
  o->tc.seed = (uint64_t)o->seed;
}

// The flags that shape the model, chunking or split, which a resumed run takes from its
// checkpoint: were any given?
static int arch_flags_given(const train_opts* o) {
  static const char* arch_flags[] = {"--horizon", "--stride", "--n-obs", "--val-frac",
                                     "--layers",  "--bins",   "--hidden", "--blocks",
                                     "--context", "--obs",    "--encoder", "--img-down",
                                     "--crop",    "--mirror", "--object-bottleneck",
                                     "--crop-at", "--shift",  "--first-frame"};
  int n = (int)(sizeof(arch_flags) / sizeof(arch_flags[0]));
  int any = 0;
  for (int i = 0; i < n; i++) any |= nfp_args_given(o->argc, o->argv, arch_flags[i]);
  return any;
}

// --obs and the camera flags -> o->dc.use_object, o->image and o->mc's image fields; then
// whether --out can be written. 0 or -1 (error set), before any data is read.
static int train_check(train_opts* o) {
  o->image = !strcmp(o->obs_kind, "image+state");
  if (strcmp(o->obs_kind, "qpos") && strcmp(o->obs_kind, "qpos+object") &&
      strcmp(o->obs_kind, "auto") && !o->image) {
    return nfp_error_set("--obs must be qpos, qpos+object, auto or image+state, got '%s'",
                         o->obs_kind);
  }
  o->dc.use_object = !strcmp(o->obs_kind, "auto") ? -1 : !strcmp(o->obs_kind, "qpos+object");
  if (!o->image) {
    static const char* image_flags[] = {"--encoder", "--img-down", "--crop", "--crop-at",
                                        "--shift",   "--first-frame"};
    for (int i = 0; i < 6; i++) {
      if (nfp_args_given(o->argc, o->argv, image_flags[i])) {
        return nfp_error_set("%s shapes the camera input: it needs --obs image+state",
                             image_flags[i]);
      }
    }
  }
  if (o->camera && !o->image && !o->resume) {
    return nfp_error_set("--camera picks the frames of --obs image+state: it needs that");
  }
  if (o->image && image_config(&o->mc, o->encoder, o->img_down, o->crop) != 0) return -1;
  if ((o->object_head > 0 || o->object_bottleneck) && !o->image && !o->resume) {
    return nfp_error_set("--object-head and --object-bottleneck train the camera encoder: they "
                         "need --obs image+state");
  }
  if (o->object_bottleneck && !(o->object_head > 0)) {
    return nfp_error_set("--object-bottleneck needs --object-head W (W > 0)");
  }
  if (o->metrics && check_output("--metrics", o->metrics) != 0) return -1;
  return check_output("--out", o->out);
}

// The training flags a resumed run takes from the command line when given there, else from
// the checkpoint: where each lives in nfp_train_config.
#define TRAIN_FIELD(flag, field) \
  {flag, offsetof(nfp_train_config, field), sizeof(((nfp_train_config*)0)->field)}
static const struct {
  const char* flag;
  size_t offset, size;
} resume_overrides[] = {
    TRAIN_FIELD("--epochs", epochs),          TRAIN_FIELD("--batch", batch),
    TRAIN_FIELD("--lr", lr),                  TRAIN_FIELD("--weight-decay", weight_decay),
    TRAIN_FIELD("--clip", clip),              TRAIN_FIELD("--ema", ema_decay),
    TRAIN_FIELD("--action-noise", action_noise),     TRAIN_FIELD("--obs-noise", obs_noise),
    TRAIN_FIELD("--seed", seed),              TRAIN_FIELD("--ckpt-every", ckpt_every),
    TRAIN_FIELD("--object-head", aux_weight),
};
#undef TRAIN_FIELD

// stored (the checkpoint's config) with the training flags given now copied in from cli.
static void merge_resume_config(nfp_train_config* stored, const nfp_train_config* cli,
                                const train_opts* o) {
  int n = (int)(sizeof(resume_overrides) / sizeof(resume_overrides[0]));
  for (int i = 0; i < n; i++) {
    if (nfp_args_given(o->argc, o->argv, resume_overrides[i].flag)) {
      memcpy((char*)stored + resume_overrides[i].offset,
             (const char*)cli + resume_overrides[i].offset, resume_overrides[i].size);
    }
  }
}

// --resume FILE -> j->model, its statistics, and o's configs (stored, overridden by the
// training flags given now). 0 or -1 (error set).
static int train_resume_setup(train_opts* o, train_job* j, int arch_given) {
  nfp_meta meta = {0};
  j->ck = nfp_checkpoint_read(o->resume);  // the one read of the file
  j->model = j->ck ? nfp_checkpoint_model(j->ck, NULL, &meta) : NULL;
  if (!j->model) return nfp_error_wrap("--resume");
  const char* stored = nfp_meta_get(&meta, "train_config");
  nfp_train_config st = o->tc;
  int rc = stored ? nfp_train_config_from_json(&st, &o->dc, stored)
                  : nfp_error_set("%s has no train_config (not written by nfp train)", o->resume);
  if (rc == 0) o->mirror = stored_twins(stored) ? "on" : "off";
  nfp_meta_free(&meta);
  if (rc == 0 && arch_given) {
    rc = nfp_error_set("--resume takes the model, chunking and split from %s; "
                       "drop the architecture flags", o->resume);
  }
  if (rc != 0) return nfp_error_wrap("--resume %s", o->resume);
  merge_resume_config(&st, &o->tc, o);
  o->tc = st;
  o->mc = j->model->cfg;
  if (o->object_head > 0 && o->mc.aux_dim == 0) {
    return nfp_error_set("--resume %s: its model has no object-state head (--object-head "
                         "changes the weight of an existing one)", o->resume);
  }
  norm_from_model(&j->sn, &j->an, j->model);
  j->have_norm = 1;
  return 0;
}

// A fresh run: the split follows --seed, and a state model's config is checked now (an
// image model's frame size comes from the demos: validated when it is built). 0 or -1.
static int train_fresh_setup(train_opts* o) {
  o->dc.seed = o->tc.seed;
  if (!o->image && nfp_model_config_validate(&o->mc) != 0) return -1;
  return 0;
}

// --crop-at Y,X (a top-left corner in the demos' shrunk frames) -> the window's offset
// from centred in o->mc and o->dc. Mirror images need a window centred left to right:
// the flipped frame is cropped at the same place. 0 or -1.
static int window_from_crop_at(train_opts* o, int twins, const nfp_episode* ep) {
  if (!o->crop_at) return 0;
  int y = 0, x = 0;
  char tail = 0;
  if (sscanf(o->crop_at, "%d,%d%c", &y, &x, &tail) != 2) {
    return nfp_error_set("--crop-at must be Y,X (e.g. 15,20), got '%s'", o->crop_at);
  }
  int sh = ep->img_h / o->mc.img_down, sw = ep->img_w / o->mc.img_down;
  int cy = (sh - o->mc.img_h) / 2, cx = (sw - o->mc.img_w) / 2;
  if (twins && x != cx) {
    return nfp_error_set("--crop-at %s: mirror images need the window centred left to right "
                         "(X = %d in %d x %d shrunk frames), or --mirror off", o->crop_at, cx,
                         sh, sw);
  }
  o->mc.img_off_y = o->dc.img_off_y = y - cy;
  o->mc.img_off_x = o->dc.img_off_x = x - cx;
  return 0;
}

// The demos in --data, windowed as the model wants -> j->ds (and j->twins). 0 or -1.
static int train_dataset(train_opts* o, train_job* j) {
  nfp_dataset_config* dc = &o->dc;
  dc->horizon = o->mc.horizon;
  dc->stride = o->mc.stride;
  dc->n_obs = o->mc.n_obs;
  j->twins = mirror_wanted(o->mirror, o->data);
  if (j->twins < 0) return -1;
  if (j->twins) dc->twin = nfp_demo_mirror;
  if (o->mc.n_cam > 0) {
    dc->use_object = 0;  // the camera shows the objects
    dc->img_down = o->mc.img_down;
    dc->img_crop_h = o->mc.img_h;
    dc->img_crop_w = o->mc.img_w;
    dc->img_off_y = o->mc.img_off_y;  // a resumed model's window
    dc->img_off_x = o->mc.img_off_x;
    dc->img_first = o->mc.img_first;
  }
  dc->aux_object = o->mc.aux_dim > 0 || o->object_head > 0;
  nfp_episode* eps = NULL;
  int n_eps = nfp_demo_read_folder_camera(o->data, &eps, dc->img_down > 0, o->camera);
  j->have_ds = n_eps > 0 && window_from_crop_at(o, j->twins, &eps[0]) == 0 &&
               nfp_dataset_build(&j->ds, eps, n_eps, dc,
                                              j->have_norm ? &j->sn : NULL,
                                              j->have_norm ? &j->an : NULL) == 0;
  nfp_demo_free_all(eps, n_eps > 0 ? n_eps : 0);
  return j->have_ds ? 0 : -1;
}

// --eval-every needs a simulated task and seeds the demos did not use. 0 or -1.
static int rollouts_check(train_opts* o, const nfp_dataset* ds) {
  nfp_train_rollouts* r = &o->rollouts;
  if (!r->every) return 0;
  r->task = ds->task;
  if (!nfp_task_find(ds->task)) {
    return nfp_error_set("--eval-every: the demos' task '%s' is not a simulated one (tasks: %s)",
                         ds->task, nfp_task_names());
  }
  long long last = r->seed0 + r->episodes - 1;
  if (r->seed0 <= ds->seed_max && last >= ds->seed_min) {
    return nfp_error_set("--eval-every: rollout seeds %lld..%lld overlap the demos' seeds "
                         "%lld..%lld; give another --eval-seed", r->seed0, last,
                         (long long)ds->seed_min, (long long)ds->seed_max);
  }
  return 0;
}

// A fresh run's model, sized by the dataset (a resumed one is already loaded). 0 or -1.
static int train_model(train_opts* o, train_job* j) {
  if (j->model) return 0;
  o->mc.action_dim = j->ds.nq;
  o->mc.state_dim = j->ds.ns;
  o->mc.img_src_h = j->ds.img_src_h;
  o->mc.img_src_w = j->ds.img_src_w;
  if (o->object_head > 0) {
    o->mc.aux_dim = j->ds.nobj;
    o->mc.aux_bottleneck = o->object_bottleneck;
  }
  j->model = nfp_model_create(&o->mc, o->tc.seed);
  return j->model ? 0 : -1;
}

// Before the first epoch: the data, the model and the schedule, on stdout.
static void print_plan(const train_opts* o, const train_job* j) {
  const nfp_model_config* mc = &o->mc;
  const nfp_dataset* ds = &j->ds;
  int n_val_eps = 0;
  for (int e = 0; e < ds->n_episodes; e++) n_val_eps += ds->is_val[e];
  printf("nfp train: %s: %d episodes%s (%d held out), %d training / %d validation windows\n",
         o->data, ds->n_episodes, j->twins ? ", half of them mirror images" : "", n_val_eps,
         ds->n_train, ds->n_val);
  printf("model: %zu parameters, state %d x %d frames (%s), horizon %d stride %d, %d layers, "
         "%d bins, hidden %d x %d blocks, context %d\n",
         j->model->num_params, mc->state_dim, mc->n_obs,
         ds->cfg.use_object ? "qpos+object" : "qpos", mc->horizon, mc->stride, mc->n_layers,
         mc->n_bins, mc->hidden, mc->n_blocks, mc->context_dim);
  if (mc->n_cam > 0) {
    nfp_image_window win = {mc->img_h, mc->img_w, mc->img_off_y, mc->img_off_x, 0};
    int y0, x0;
    nfp_image_window_place(&y0, &x0, &win, mc->img_src_h / mc->img_down,
                           mc->img_src_w / mc->img_down, NULL);
    char shift[48];
    if (ds->cfg.img_shift < 0) snprintf(shift, sizeof(shift), "anywhere");
    else if (ds->cfg.img_shift == 0) snprintf(shift, sizeof(shift), "there too");
    else snprintf(shift, sizeof(shift), "within +-%d pixels", ds->cfg.img_shift);
    printf("image: %s encoder on the newest %s frame%s, %d x %d shrunk %d times, a %d x %d "
           "window at (%d, %d) when acting, placed %s in training\n",
           encoder_names[mc->encoder], o->camera ? o->camera : "camera",
           mc->img_first ? " and the episode's first" : "", mc->img_src_h,
           mc->img_src_w, mc->img_down, mc->img_h, mc->img_w, y0, x0, shift);
  }
  if (mc->aux_dim > 0) {
    printf("object-state head: %d values from the camera features, weight %g%s\n", mc->aux_dim,
           (double)o->tc.aux_weight,
           mc->aux_bottleneck ? "; the encoder's MLP sees its estimate (bottleneck)" : "");
  }
  for (int k = 0; k < 3; k++) {
    const nfp_stage* s = &j->tr.sched.stage[k];
    printf("stage %d: epochs %d-%d, batch %d, lr %.1e%s\n", k + 1, s->first_epoch + 1,
           s->first_epoch + s->epochs, s->batch, (double)s->lr,
           k == 2 ? " cosine-annealed to a tenth" : "");
  }
  if (j->tr.group) {
    printf("data-parallel: %d MPI ranks, each computing 1/%d of every batch and updating 1/%d "
           "of the weights; rank 0 writes\n", j->tr.group->size, j->tr.group->size,
           j->tr.group->size);
  }
  if (o->resume && j->tr.epoch_step > 0) {
    printf("resumed from %s after epoch %d and %d steps of the next\n", o->resume, j->tr.epoch,
           j->tr.epoch_step);
  } else if (o->resume) {
    printf("resumed from %s at epoch %d\n", o->resume, j->tr.epoch);
  }
  fflush(stdout);
}

// The trainer's stop hook: has a stop signal arrived?
static int stop_requested(void* ctx) {
  (void)ctx;
  return nfp_stop_signal() != 0;
}

// Where the metrics go (--metrics, else beside --out) and, for a resumed run writing a new
// file, the resumed run's own metrics. Caller frees both. 0 or -1.
static int metrics_paths(const train_opts* o, char** path, char** prior) {
  *path = o->metrics ? strdup(o->metrics) : nfp_train_metrics_path(o->out);
  *prior = o->resume ? nfp_train_metrics_path(o->resume) : NULL;
  if (*path && (!o->resume || *prior)) return 0;
  free(*path);
  free(*prior);
  return nfp_error_set("out of memory");
}

// The finished run -> one line on stdout: the checkpoint, its weights, curve and metrics.
static void print_saved(const train_opts* o, const nfp_trainer* tr, const char* metrics) {
  char* curve = nfp_train_curve_path(o->out);
  printf("saved %s (last EMA weights: train NLL %.3f, val NLL %.3f", o->out,
         (double)tr->hist_train[tr->epoch - 1], (double)tr->hist_val[tr->epoch - 1]);
  if (tr->best_epoch > 0) {
    printf("; best val NLL %.3f at epoch %d, kept for nfp export --weights best",
           (double)tr->best_val, tr->best_epoch);
  }
  printf("), %s and %s\n", curve ? curve : "the curve", metrics);
  free(curve);
}

// A run stopped by a signal -> where its checkpoint is and how to go on, on stderr.
static void print_stopped(const train_opts* o, const nfp_trainer* tr) {
  fprintf(stderr,
          "nfp train: interrupted (%s) in epoch %d after %d of its steps; saved a resumable "
          "checkpoint to %s; continue with: nfp train --data %s --out %s --resume %s\n",
          nfp_stop_signal() == SIGTERM ? "SIGTERM" : "SIGINT", tr->epoch + 1, tr->epoch_step, o->out,
          o->data, o->out, o->out);
}

enum { TRAIN_STOPPED = 3 };  // run()'s code for a run stopped by a signal (checkpoint saved)

// Trainer over j's model and dataset: restore a resumed run, train, save. 0, -1 or
// TRAIN_STOPPED.
static int train_fit(const train_opts* o, train_job* j) {
  nfp_trainer* tr = &j->tr;
  int rc = nfp_trainer_init(tr, j->model, &j->ds, &o->tc);
  if (rc == 0 && j->ck) rc = nfp_trainer_resume_from(tr, j->ck);
  nfp_checkpoint_free(j->ck);  // everything is restored: its memory goes back
  j->ck = NULL;
  tr->group = nfp_app_train_group();
  int talk = !o->quiet && nfp_cluster_world()->rank == 0;  // rank 0 speaks for the job
  if (rc == 0 && talk) print_plan(o, j);
  char *metrics = NULL, *prior = NULL;
  if (rc == 0) rc = metrics_paths(o, &metrics, &prior);
  if (rc != 0) return -1;
  nfp_train_run_opts ro = {.out_path = o->out, .data_dir = o->data,
                           .log = o->quiet ? NULL : stdout, .warn = stderr,
                           .metrics_path = metrics, .metrics_prior = prior,
                           .on_save = draw_curve,
                           .on_epoch = o->rollouts.every ? nfp_train_rollouts_hook : NULL,
                           .ctx = (void*)&o->rollouts};
  tr->stop = stop_requested;
  nfp_stop_signals_catch();
  rc = nfp_trainer_run(tr, &ro);
  if (rc == 0 && talk) print_saved(o, tr, metrics);
  if (rc == 1 && nfp_cluster_world()->rank == 0) print_stopped(o, tr);
  free(metrics);
  free(prior);
  return rc == 1 ? TRAIN_STOPPED : rc;
}

// Trainer, dataset and model, in the reverse order of their making.
static void train_job_free(train_job* j) {
  if (j->tr.model) nfp_trainer_free(&j->tr);
  if (j->have_ds) nfp_dataset_free(&j->ds);
  nfp_model_free(j->model);
  nfp_checkpoint_free(j->ck);
}

// Flags -> checked configs -> (resumed or new) model and dataset -> trained checkpoint.
static int run(int argc, char** argv) {
  train_opts o;
  train_opts_default(&o, argc, argv);
  int rc = train_parse(&o);
  if (rc) return rc;  // 1: --help, 2: bad flags
  train_opts_store_numbers(&o);
  int arch_given = arch_flags_given(&o);
  if (train_check(&o) != 0) return -1;
  if (o.threads > 0) openblas_set_num_threads(o.threads);
  int update_threads = o.threads > 0 ? o.threads : openblas_get_num_threads();

  train_job j;
  memset(&j, 0, sizeof(j));
  rc = o.resume ? train_resume_setup(&o, &j, arch_given) : train_fresh_setup(&o);
  if (rc == 0) rc = train_dataset(&o, &j);
  if (rc == 0) rc = rollouts_check(&o, &j.ds);
  if (rc == 0) rc = train_model(&o, &j);
  if (rc == 0) {
    o.tc.threads = update_threads;
    rc = train_fit(&o, &j);
  }
  train_job_free(&j);
  return rc;
}

// argv -> a trained checkpoint; exit 0, 1 (error), 2 (bad flags) or 128 + the stop signal.
int nfp_cmd_train(int argc, char** argv) {
  int rc = run(argc, argv);
  if (rc == 1) return 0;  // --help
  if (rc == 2) return 2;  // bad flags, already reported
  // 130 for Ctrl-C, as shells report it; a rank stopped by another's signal: as SIGTERM.
  if (rc == TRAIN_STOPPED) return 128 + (nfp_stop_signal() ? nfp_stop_signal() : SIGTERM);
  if (rc != 0) {
    fprintf(stderr, "nfp train: %s\n", nfp_error_last());
    return 1;
  }
  return 0;
}
