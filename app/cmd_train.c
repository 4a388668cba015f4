// nfp train: fit an NF-P policy to a folder of demonstrations by exact maximum likelihood.
#include <cblas.h>
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
#include "nfp/demo.h"
#include "nfp/error.h"
#include "nfp/model.h"
#include "nfp/picture.h"
#include "nfp/train.h"

// Fails early when the output cannot be written, before any training time is spent.
static int check_output(const char* out) {
  struct stat st;
  if (stat(out, &st) == 0 && S_ISDIR(st.st_mode)) return nfp_error_set("--out %s is a folder", out);
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
    rc = nfp_error_set("--out %s: folder '%s' does not exist", out, d);
  } else if (access(d, W_OK) != 0) {
    rc = nfp_error_set("--out %s: folder '%s' is not writable", out, d);
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
static int mirror_wanted(const char* when, const char* dir, int image) {
  if (!strcmp(when, "off")) return 0;
  if (strcmp(when, "on") && strcmp(when, "auto")) {
    return nfp_error_set("--mirror must be auto, on or off, got '%s'", when);
  }
  int on = !strcmp(when, "on");
  if (image) {
    return on ? nfp_error_set("--mirror on: camera frames are not mirrored; use --obs qpos, "
                              "qpos+object or auto") : 0;
  }
  const nfp_task_def* def;
  if (nfp_demo_task(dir, &def) != 0) return -1;
  int symmetric = def && def->mirror_object;
  if (on && !symmetric) {
    return nfp_error_set("--mirror on: the task of the demos in '%s' is not left-right "
                         "symmetric", dir);
  }
  return on || (symmetric && def->mirror_by_default);
}

// Whether a flag was given (so a resumed run can tell an explicit value from a default).
static int given(int argc, char** argv, const char* name) {
  size_t n = strlen(name);
  for (int i = 1; i < argc; i++)
    if (!strncmp(argv[i], name, n) && (argv[i][n] == '\0' || argv[i][n] == '=')) return 1;
  return 0;
}

static const char* about =
    "Trains a state-conditioned NF-P policy on every episode (*.hdf5) in DIR by maximising\n"
    "the exact log-likelihood of action chunks. Windows: at every frame t the observation is\n"
    "the state at t, t-1, ... (n-obs frames, clamped at the first frame; the state is qpos, or\n"
    "qpos then the object pose with --obs qpos+object) and the chunk is action\n"
    "at t, t+s, ..., t+(H-1)s (the end padded with the last action). Whole episodes are held\n"
    "out for validation; min/max statistics come from the training episodes.\n"
    "Schedule: 20% of epochs at batch/4 and lr, 50% at batch/2 and lr/3, 30% at batch with\n"
    "lr cosine-annealed from lr/10 to lr/100 (100-step warm-up). AdamW, global-norm clipping,\n"
    "EMA of the weights; the EMA weights are validated and saved.\n"
    "Writes FILE (atomically, every --ckpt-every epochs and at the end) and FILE's curve as\n"
    "FILE.curve.png (.safetensors replaced). --resume restores live and EMA weights, AdamW\n"
    "moments and step, epoch and NLL history; model, chunking, split and statistics come from\n"
    "the checkpoint, and training flags given now override the stored ones (e.g. --epochs).";

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
    return nfp_error_set("--crop must be HxW with sides 8..1024 (e.g. 56x72), got '%s'", crop);
  }
  mc->n_cam = 1;
  mc->img_down = img_down;
  mc->img_h = h;
  mc->img_w = w;
  return 0;
}

// After every checkpoint: its training curve beside it (FILE.curve.png).
static int draw_curve(const nfp_trainer* tr, const char* out_path, void* ctx) {
  (void)ctx;
  char* curve = nfp_train_curve_path(out_path);
  if (!curve) return nfp_error_set("out of memory");
  int has_val = tr->ds->n_val > 0;
  int rc = nfp_curve_write_png(curve, tr->hist_train, has_val ? tr->hist_val : NULL, tr->epoch);
  free(curve);
  return rc;
}

static int run(int argc, char** argv) {
  nfp_model_config mc;
  nfp_train_config tc;
  nfp_dataset_config dc;
  nfp_model_config_default(&mc);
  nfp_train_config_default(&tc);
  nfp_dataset_config_default(&dc);
  const char *data = NULL, *out = NULL, *resume = NULL, *obs_kind = "auto";
  const char *encoder = "resnet18", *crop = "56x72", *mirror = "auto";
  int img_down = 4;
  int threads = 0, quiet = 0;
  double val_frac = dc.val_frac, lr = tc.lr, wd = tc.weight_decay, clip = tc.clip,
         ema = tc.ema_decay, noise = tc.action_noise, obs_noise = tc.obs_noise;
  long long seed = (long long)tc.seed;
  nfp_arg args[] = {
      {"--data", NFP_ARG_STR, &data, "DIR", "folder of demo episodes (*.hdf5)", 0, 0, 1},
      {"--out", NFP_ARG_STR, &out, "FILE", "checkpoint to write (.safetensors)", 0, 0, 1},
      {"--resume", NFP_ARG_STR, &resume, "FILE", "continue the run saved in FILE", 0, 0, 0},
      {"--horizon", NFP_ARG_INT, &mc.horizon, "H", "actions per chunk", 1, 256, 0},
      {"--stride", NFP_ARG_INT, &mc.stride, "S", "frames between chunk actions", 1, 1000, 0},
      {"--n-obs", NFP_ARG_INT, &mc.n_obs, "N", "frames of state history", 1, 64, 0},
      {"--obs", NFP_ARG_STR, &obs_kind, "KIND",
       "state frame: qpos (joints), qpos+object (joints, then the object pose), auto "
       "(qpos+object when the demos record an object state), or image+state (the head camera "
       "through --encoder, plus qpos; demos from nfp collect --images)", 0, 0, 0},
      {"--encoder", NFP_ARG_STR, &encoder, "KIND",
       "image encoder for --obs image+state: resnet18 (GroupNorm), cnn (small, faster) or "
       "cnn-kp (small, spatial-softmax keypoints)", 0, 0, 0},
      {"--img-down", NFP_ARG_INT, &img_down, "N",
       "box-average camera frames N times before cropping (240x320 -> 60x80 at 4)", 1, 16, 0},
      {"--crop", NFP_ARG_STR, &crop, "HxW",
       "encoder input: random crops of the shrunk frames in training, the centre when acting", 0,
       0, 0},
      {"--mirror", NFP_ARG_STR, &mirror, "WHEN",
       "also train on the left-right mirror image of every demo: auto (for the tasks where it "
       "helps, lift_pot and stack_block_two, when the observation is the state), on (any "
       "symmetric task: also towel_folding) or off", 0, 0, 0},
      {"--val-frac", NFP_ARG_DOUBLE, &val_frac, "F",
       "fraction of episodes held out (>= 1 when there are 2+)", 0, 0.9, 0},
      {"--layers", NFP_ARG_INT, &mc.n_layers, "L", "spline coupling layers", 1, 64, 0},
      {"--bins", NFP_ARG_INT, &mc.n_bins, "K", "spline bins per coordinate", 2, 64, 0},
      {"--hidden", NFP_ARG_INT, &mc.hidden, "N", "conditioner width", 1, 4096, 0},
      {"--blocks", NFP_ARG_INT, &mc.n_blocks, "N", "conditioner residual blocks", 0, 8, 0},
      {"--context", NFP_ARG_INT, &mc.context_dim, "N", "observation context size", 1, 4096, 0},
      {"--epochs", NFP_ARG_INT, &tc.epochs, "N", "passes over the training windows", 1, 1e6, 0},
      {"--batch", NFP_ARG_INT, &tc.batch, "N", "stage-3 batch (stages 1, 2: batch/4, batch/2)",
       4, 65536, 0},
      {"--lr", NFP_ARG_DOUBLE, &lr, "X", "stage-1 learning rate", 1e-9, 1, 0},
      {"--weight-decay", NFP_ARG_DOUBLE, &wd, "X", "AdamW decay of weight matrices", 0, 1, 0},
      {"--clip", NFP_ARG_DOUBLE, &clip, "X", "max global gradient norm, 0 = off", 0, 1e9, 0},
      {"--ema", NFP_ARG_DOUBLE, &ema, "X", "EMA decay of the saved weights", 0, 0.99999, 0},
      {"--noise", NFP_ARG_DOUBLE, &noise, "X",
       "std of Gaussian noise on normalised training actions, 0 = off", 0, 1, 0},
      {"--obs-noise", NFP_ARG_DOUBLE, &obs_noise, "X",
       "std of Gaussian noise on the normalised observed state in training, 0 = off", 0, 1, 0},
      {"--seed", NFP_ARG_SEED, &seed, "N", "seeds init, episode split, shuffling", 0, 9e15, 0},
      {"--ckpt-every", NFP_ARG_INT, &tc.ckpt_every, "N",
       "epochs between periodic checkpoints, 0 = only at the end", 0, 1e6, 0},
      {"--threads", NFP_ARG_INT, &threads, "N",
       "threads for OpenBLAS and the optimiser update, 0 = OpenBLAS's choice", 0,
       256, 0},
      {"--quiet", NFP_ARG_FLAG, &quiet, NULL, "no per-epoch progress lines", 0, 0, 0},
  };
  int nargs = (int)(sizeof(args) / sizeof(args[0]));
  int prc = nfp_args_parse(argc, argv, args, nargs,
                           "nfp train --data DIR --out FILE.safetensors [options]", about);
  if (prc == 1) return 1;
  if (prc == 2) return 2;
  dc.val_frac = (float)val_frac;
  tc.lr = (float)lr;
  tc.weight_decay = (float)wd;
  tc.clip = (float)clip;
  tc.ema_decay = (float)ema;
  tc.action_noise = (float)noise;
  tc.obs_noise = (float)obs_noise;
  tc.seed = (uint64_t)seed;
  static const char* arch_flags[] = {"--horizon", "--stride", "--n-obs", "--val-frac",
                                     "--layers",  "--bins",   "--hidden", "--blocks",
                                     "--context", "--obs",    "--encoder", "--img-down",
                                     "--crop",    "--mirror"};
  int arch_given = 0;
  for (int i = 0; i < 14; i++) arch_given |= given(argc, argv, arch_flags[i]);
  int image = !strcmp(obs_kind, "image+state");
  if (strcmp(obs_kind, "qpos") && strcmp(obs_kind, "qpos+object") && strcmp(obs_kind, "auto") &&
      !image) {
    return nfp_error_set("--obs must be qpos, qpos+object, auto or image+state, got '%s'",
                         obs_kind);
  }
  dc.use_object = !strcmp(obs_kind, "auto") ? -1 : !strcmp(obs_kind, "qpos+object");
  if (!image) {
    static const char* image_flags[] = {"--encoder", "--img-down", "--crop"};
    for (int i = 0; i < 3; i++) {
      if (given(argc, argv, image_flags[i])) {
        return nfp_error_set("%s shapes the camera input: it needs --obs image+state", image_flags[i]);
      }
    }
  }
  if (image && image_config(&mc, encoder, img_down, crop) != 0) return -1;
  if (check_output(out) != 0) return -1;
  if (threads > 0) openblas_set_num_threads(threads);
  int update_threads = threads > 0 ? threads : openblas_get_num_threads();

  nfp_model* model = NULL;
  nfp_norm sn, an;
  int have_norm = 0;
  if (resume) {
    nfp_meta meta = {0};
    model = nfp_checkpoint_load(resume, NULL, &meta);
    if (!model) return nfp_error_wrap("--resume");
    const char* stored = nfp_meta_get(&meta, "train_config");
    nfp_train_config st = tc, cli = tc;
    int rc = stored ? nfp_train_config_from_json(&st, &dc, stored)
                    : nfp_error_set("%s has no train_config (not written by nfp train)", resume);
    if (rc == 0) mirror = stored_twins(stored) ? "on" : "off";
    nfp_meta_free(&meta);
    if (rc == 0 && arch_given) {
      rc = nfp_error_set("--resume takes the model, chunking and split from %s; "
                         "drop the architecture flags", resume);
    }
    if (rc != 0) {
      nfp_model_free(model);
      return nfp_error_wrap("--resume %s", resume);
    }
    // Stored values, except for training flags given explicitly now.
    tc = st;
    if (given(argc, argv, "--epochs")) tc.epochs = cli.epochs;
    if (given(argc, argv, "--batch")) tc.batch = cli.batch;
    if (given(argc, argv, "--lr")) tc.lr = cli.lr;
    if (given(argc, argv, "--weight-decay")) tc.weight_decay = cli.weight_decay;
    if (given(argc, argv, "--clip")) tc.clip = cli.clip;
    if (given(argc, argv, "--ema")) tc.ema_decay = cli.ema_decay;
    if (given(argc, argv, "--noise")) tc.action_noise = cli.action_noise;
    if (given(argc, argv, "--obs-noise")) tc.obs_noise = cli.obs_noise;
    if (given(argc, argv, "--seed")) tc.seed = cli.seed;
    if (given(argc, argv, "--ckpt-every")) tc.ckpt_every = cli.ckpt_every;
    mc = model->cfg;
    norm_from_model(&sn, &an, model);
    have_norm = 1;
  } else {
    dc.seed = tc.seed;
    // an image model's frame size comes from the demos: validated when it is built
    if (!image && nfp_model_config_validate(&mc) != 0) return -1;
  }
  dc.horizon = mc.horizon;
  dc.stride = mc.stride;
  dc.n_obs = mc.n_obs;
  int twins = mirror_wanted(mirror, data, image);
  if (twins < 0) {
    nfp_model_free(model);
    return -1;
  }
  if (twins) dc.twin = nfp_demo_mirror;
  if (mc.n_cam > 0) {
    dc.use_object = 0;  // the camera shows the objects
    dc.img_down = mc.img_down;
    dc.img_crop_h = mc.img_h;
    dc.img_crop_w = mc.img_w;
  }

  nfp_dataset ds;
  nfp_episode* eps = NULL;
  int n_eps = nfp_demo_read_folder(data, &eps, dc.img_down > 0);
  int built = n_eps > 0 && nfp_dataset_build(&ds, eps, n_eps, &dc, have_norm ? &sn : NULL,
                                             have_norm ? &an : NULL) == 0;
  nfp_demo_free_all(eps, n_eps > 0 ? n_eps : 0);
  if (!built) {
    nfp_model_free(model);
    return -1;
  }
  if (!model) {
    mc.action_dim = ds.nq;
    mc.state_dim = ds.ns;
    mc.img_src_h = ds.img_src_h;
    mc.img_src_w = ds.img_src_w;
    model = nfp_model_create(&mc, tc.seed);
    if (!model) {
      nfp_dataset_free(&ds);
      return -1;
    }
  }
  tc.threads = update_threads;
  nfp_trainer tr;
  int rc = nfp_trainer_init(&tr, model, &ds, &tc);
  if (rc == 0 && resume) rc = nfp_trainer_resume(&tr, resume);
  if (rc == 0 && !quiet) {
    int n_val_eps = 0;
    for (int e = 0; e < ds.n_episodes; e++) n_val_eps += ds.is_val[e];
    printf("nfp train: %s: %d episodes%s (%d held out), %d training / %d validation windows\n",
           data, ds.n_episodes, twins ? ", half of them mirror images" : "", n_val_eps,
           ds.n_train, ds.n_val);
    printf("model: %zu parameters, state %d x %d frames (%s), horizon %d stride %d, %d layers, "
           "%d bins, hidden %d x %d blocks, context %d\n",
           model->num_params, mc.state_dim, mc.n_obs, ds.cfg.use_object ? "qpos+object" : "qpos",
           mc.horizon, mc.stride, mc.n_layers, mc.n_bins, mc.hidden, mc.n_blocks,
           mc.context_dim);
    if (mc.n_cam > 0) {
      printf("image: %s encoder on the newest head frame, %d x %d shrunk %d times, %d x %d "
             "crops\n", encoder_names[mc.encoder], mc.img_src_h,
             mc.img_src_w, mc.img_down, mc.img_h, mc.img_w);
    }
    for (int k = 0; k < 3; k++) {
      const nfp_stage* s = &tr.sched.stage[k];
      printf("stage %d: epochs %d-%d, batch %d, lr %.1e%s\n", k + 1, s->first_epoch + 1,
             s->first_epoch + s->epochs, s->batch, (double)s->lr,
             k == 2 ? " cosine-annealed to a tenth" : "");
    }
    if (resume) printf("resumed from %s at epoch %d\n", resume, tr.epoch);
    fflush(stdout);
  }
  if (rc == 0) rc = nfp_trainer_run(&tr, out, data, quiet ? NULL : stdout, draw_curve, NULL);
  if (rc == 0 && !quiet) {
    char* curve = nfp_train_curve_path(out);
    printf("saved %s (EMA weights; final train NLL %.3f, val NLL %.3f) and %s\n", out,
           (double)tr.hist_train[tr.epoch - 1], (double)tr.hist_val[tr.epoch - 1],
           curve ? curve : "");
    free(curve);
  }
  if (tr.model) nfp_trainer_free(&tr);
  nfp_dataset_free(&ds);
  nfp_model_free(model);
  return rc;
}

int nfp_cmd_train(int argc, char** argv) {
  int rc = run(argc, argv);
  if (rc == 1) return 0;  // --help
  if (rc == 2) return 2;  // bad flags, already reported
  if (rc != 0) {
    fprintf(stderr, "nfp train: %s\n", nfp_error_last());
    return 1;
  }
  return 0;
}
