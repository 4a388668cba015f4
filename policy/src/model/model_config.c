// nfp_model_config: defaults, validation, and its JSON form (stored in checkpoints).
#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "nfp/error.h"
#include "nfp/model.h"

void nfp_model_config_default(nfp_model_config* cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->action_dim = 14;
  cfg->horizon = 8;
  cfg->stride = 4;
  cfg->n_obs = 2;
  cfg->state_dim = 14;
  cfg->n_layers = 10;
  cfg->n_bins = 8;
  cfg->tail_bound = 3.0;
  cfg->min_bin_width = 1e-3;
  cfg->min_bin_height = 1e-3;
  cfg->min_derivative = 1e-3;
  cfg->hidden = 128;
  cfg->n_blocks = 2;
  cfg->encoder = NFP_ENCODER_STATE;
  cfg->context_dim = 64;
  cfg->enc_hidden = 256;
  cfg->enc_blocks = 1;
  cfg->sigma = 0.5;
  cfg->sbs_candidates = 128;
  cfg->gr_steps = 10;
  cfg->gr_step_size = 0.01;
}

void nfp_model_config_reference(nfp_model_config* cfg) {
  nfp_model_config_default(cfg);
  cfg->context_dim = 128;
  cfg->hidden = 256;
  cfg->n_blocks = 2;
}

typedef struct {
  const char* name;
  int is_int;
  size_t offset;
  int optional;  // absent in checkpoints written before the field existed: reads as 0
} field;

#define FI(n) {#n, 1, offsetof(nfp_model_config, n), 0}
#define FO(n) {#n, 1, offsetof(nfp_model_config, n), 1}
#define FD(n) {#n, 0, offsetof(nfp_model_config, n), 0}
static const field fields[] = {
    FI(action_dim),     FI(horizon),        FI(stride),       FI(n_obs),
    FI(state_dim),      FI(n_layers),       FI(n_bins),       FD(tail_bound),
    FD(min_bin_width),  FD(min_bin_height), FD(min_derivative), FI(hidden),
    FI(n_blocks),       FI(encoder),        FI(context_dim),  FI(enc_hidden),
    FI(enc_blocks),     FI(n_cam),          FI(img_h),        FI(img_w),
    FO(img_src_h),      FO(img_src_w),      FO(img_down),     FO(aux_dim),
    FO(aux_bottleneck), FO(img_off_y),      FO(img_off_x),    FO(img_first),
    FD(sigma),          FI(sbs_candidates), FI(gr_steps),     FD(gr_step_size),
};
#undef FI
#undef FO
#undef FD
#define N_FIELDS ((int)(sizeof(fields) / sizeof(fields[0])))

static int* int_at(const nfp_model_config* c, int i) {
  return (int*)((char*)c + fields[i].offset);
}
static double* dbl_at(const nfp_model_config* c, int i) {
  return (double*)((char*)c + fields[i].offset);
}

int nfp_model_config_frames(const nfp_model_config* c) {
  return c->n_cam * (c->img_first ? 2 : 1);
}

int nfp_model_config_validate(const nfp_model_config* c) {
  struct {
    const char* name;
    int v, lo, hi;
  } ints[] = {
      {"action_dim", c->action_dim, 1, 256},  {"horizon", c->horizon, 1, 256},
      {"stride", c->stride, 1, 1000},         {"n_obs", c->n_obs, 1, 64},
      {"state_dim", c->state_dim, 1, 256},    {"n_layers", c->n_layers, 1, 64},
      {"n_bins", c->n_bins, 2, 64},           {"hidden", c->hidden, 1, 8192},
      {"n_blocks", c->n_blocks, 0, 8},        {"encoder", c->encoder, 0, 3},
      {"context_dim", c->context_dim, 0, 8192}, {"enc_hidden", c->enc_hidden, 1, 8192},
      {"enc_blocks", c->enc_blocks, 0, 8},    {"n_cam", c->n_cam, 0, 16},
      {"img_h", c->img_h, 0, 4096},           {"img_w", c->img_w, 0, 4096},
      {"img_src_h", c->img_src_h, 0, 4096},   {"img_src_w", c->img_src_w, 0, 4096},
      {"img_down", c->img_down, 0, 64},       {"aux_dim", c->aux_dim, 0, NFP_ENCODER_MAX_AUX},
      {"aux_bottleneck", c->aux_bottleneck, 0, 1}, {"img_first", c->img_first, 0, 1},
      {"img_off_y", c->img_off_y, -4096, 4096}, {"img_off_x", c->img_off_x, -4096, 4096},
      {"sbs_candidates", c->sbs_candidates, 1, 65536}, {"gr_steps", c->gr_steps, 0, 100000},
  };
  for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
    if (ints[i].v < ints[i].lo || ints[i].v > ints[i].hi) {
      return nfp_error_set("model config: %s = %d is outside %d..%d", ints[i].name, ints[i].v,
                           ints[i].lo, ints[i].hi);
    }
  }
  if (c->horizon * c->action_dim > 16384) {
    return nfp_error_set("model config: chunk of %d x %d is too large", c->horizon, c->action_dim);
  }
  if (c->encoder == NFP_ENCODER_STATE && c->context_dim < 1) {
    return nfp_error_set("model config: the state encoder needs context_dim >= 1");
  }
  if ((c->encoder == NFP_ENCODER_STATE && c->aux_dim != 0) ||
      (c->aux_bottleneck && c->aux_dim == 0)) {
    return nfp_error_set("model config: an object-state head (aux_dim %d%s) needs an image "
                         "encoder%s", c->aux_dim, c->aux_bottleneck ? ", bottleneck" : "",
                         c->aux_bottleneck ? " and aux_dim >= 1" : "");
  }
  if (c->encoder == NFP_ENCODER_STATE && (c->n_cam != 0 || c->img_first)) {
    return nfp_error_set("model config: the state encoder takes no camera (n_cam = %d%s)",
                         c->n_cam, c->img_first ? ", first frames" : "");
  }
  if (nfp_model_config_frames(c) > NFP_ENCODER_MAX_CAM) {
    return nfp_error_set("model config: %d camera frames per observation; at most %d",
                         nfp_model_config_frames(c), NFP_ENCODER_MAX_CAM);
  }
  if (c->encoder != NFP_ENCODER_STATE) {
    if (c->n_cam < 1 || c->img_h < 8 || c->img_w < 8 || c->img_down < 1) {
      return nfp_error_set("model config: an image encoder needs n_cam >= 1, an input of at "
                           "least 8 x 8 and img_down >= 1 (got %d, %d x %d, %d)", c->n_cam,
                           c->img_h, c->img_w, c->img_down);
    }
    if (c->img_src_h / c->img_down < c->img_h || c->img_src_w / c->img_down < c->img_w) {
      return nfp_error_set("model config: frames of %d x %d shrunk %d times are smaller than the "
                           "%d x %d input", c->img_src_h, c->img_src_w, c->img_down, c->img_h,
                           c->img_w);
    }
    int sh = c->img_src_h / c->img_down, sw = c->img_src_w / c->img_down;
    nfp_image_window win = {c->img_h, c->img_w, c->img_off_y, c->img_off_x, 0};
    int y0, x0;
    nfp_image_window_place(&y0, &x0, &win, sh, sw, NULL);
    if (y0 < 0 || x0 < 0 || y0 + c->img_h > sh || x0 + c->img_w > sw) {
      return nfp_error_set("model config: the %d x %d input window at (%d, %d) does not fit in "
                           "the %d x %d shrunk frames", c->img_h, c->img_w, y0, x0, sh, sw);
    }
  }
  if (!(c->tail_bound > 0.0 && c->tail_bound < 1e6)) {
    return nfp_error_set("model config: tail_bound = %g must be positive", c->tail_bound);
  }
  if (!(c->min_bin_width > 0.0 && c->min_bin_width * c->n_bins < 1.0) ||
      !(c->min_bin_height > 0.0 && c->min_bin_height * c->n_bins < 1.0)) {
    return nfp_error_set("model config: min_bin_width/height must lie in (0, 1/n_bins)");
  }
  if (!(c->min_derivative > 0.0 && c->min_derivative < 1.0)) {
    return nfp_error_set("model config: min_derivative = %g must lie in (0, 1)",
                         c->min_derivative);
  }
  if (!(c->sigma > 0.0 && isfinite(c->sigma))) {
    return nfp_error_set("model config: sigma = %g must be positive", c->sigma);
  }
  if (!(c->gr_step_size > 0.0 && isfinite(c->gr_step_size))) {
    return nfp_error_set("model config: gr_step_size = %g must be positive", c->gr_step_size);
  }
  return 0;
}

char* nfp_model_config_to_json(const nfp_model_config* cfg) {
  cJSON* o = cJSON_CreateObject();
  if (!o) goto oom;
  for (int i = 0; i < N_FIELDS; i++) {
    double v = fields[i].is_int ? (double)*int_at(cfg, i) : *dbl_at(cfg, i);
    if (!cJSON_AddNumberToObject(o, fields[i].name, v)) goto oom;
  }
  char* text = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if (!text) goto oom;
  return text;
oom:
  cJSON_Delete(o);
  nfp_error_set("model config: out of memory writing JSON");
  return NULL;
}

int nfp_model_config_from_json(nfp_model_config* cfg, const char* json) {
  cJSON* o = cJSON_Parse(json);
  if (!o || !cJSON_IsObject(o)) {
    cJSON_Delete(o);
    return nfp_error_set("model config: not a JSON object");
  }
  nfp_model_config c;
  memset(&c, 0, sizeof(c));
  int rc = 0;
  for (int i = 0; i < N_FIELDS && rc == 0; i++) {
    const cJSON* v = cJSON_GetObjectItemCaseSensitive(o, fields[i].name);
    if (!v && fields[i].optional) continue;
    if (!cJSON_IsNumber(v)) {
      rc = nfp_error_set("model config: field \"%s\" is missing or not a number", fields[i].name);
    } else if (fields[i].is_int) {
      if (v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 1e9) {
        rc = nfp_error_set("model config: field \"%s\" = %g is not an integer", fields[i].name,
                           v->valuedouble);
      } else {
        *int_at(&c, i) = (int)v->valuedouble;
      }
    } else {
      *dbl_at(&c, i) = v->valuedouble;
    }
  }
  for (const cJSON* it = o->child; it && rc == 0; it = it->next) {
    int known = 0;
    for (int i = 0; i < N_FIELDS; i++) known |= strcmp(it->string, fields[i].name) == 0;
    if (!known) rc = nfp_error_set("model config: unknown field \"%s\"", it->string);
  }
  cJSON_Delete(o);
  if (rc == 0) rc = nfp_model_config_validate(&c);
  if (rc == 0) *cfg = c;
  return rc;
}

int nfp_model_config_compare(const nfp_model_config* a, const nfp_model_config* b) {
  for (int i = 0; i < N_FIELDS; i++) {
    if (fields[i].is_int && *int_at(a, i) != *int_at(b, i)) {
      return nfp_error_set("model config: %s is %d, expected %d", fields[i].name, *int_at(a, i),
                           *int_at(b, i));
    }
    if (!fields[i].is_int && *dbl_at(a, i) != *dbl_at(b, i)) {
      return nfp_error_set("model config: %s is %.17g, expected %.17g", fields[i].name,
                           *dbl_at(a, i), *dbl_at(b, i));
    }
  }
  return 0;
}
