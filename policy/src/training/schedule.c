// Three-stage learning-rate and batch-size schedule.
//
// Stage 1 (first 20 % of epochs): batch B/4, learning rate lr, linear warm-up over the first
//   steps. Small batches and a high rate move fast through the early, easy loss landscape.
// Stage 2 (next 50 %): batch B/2, lr/3.
// Stage 3 (last 30 %): batch B, rate cosine-annealed from lr/10 to lr/100. Large batches and a
//   small rate settle the weights (less gradient noise where the likelihood is sharp).
#include <math.h>

#include "nfp/train.h"

void nfp_schedule_default(nfp_schedule* s, int epochs, int batch, float lr) {
  static const float frac[3] = {0.2f, 0.5f, 0.3f};
  static const int div[3] = {4, 2, 1};
  static const float lr_scale[3] = {1.0f, 1.0f / 3.0f, 0.1f};
  int start = 0;
  for (int k = 0; k < 3; k++) {
    int n = (k == 2) ? epochs - start : (int)lrintf(frac[k] * (float)epochs);
    if (n < 0) n = 0;
    if (start + n > epochs) n = epochs - start;
    s->stage[k].first_epoch = start;
    s->stage[k].epochs = n;
    s->stage[k].batch = batch / div[k] > 0 ? batch / div[k] : 1;
    s->stage[k].lr = lr * lr_scale[k];
    start += n;
  }
  s->epochs = epochs;
  s->warmup_steps = 100;
  s->final_lr_frac = 0.1f;
}

int nfp_schedule_stage(const nfp_schedule* s, int epoch) {
  for (int k = 2; k > 0; k--) {
    if (s->stage[k].epochs > 0 && epoch >= s->stage[k].first_epoch) return k;
  }
  return 0;
}

int nfp_schedule_batch(const nfp_schedule* s, int epoch) {
  return s->stage[nfp_schedule_stage(s, epoch)].batch;
}

float nfp_schedule_lr(const nfp_schedule* s, int epoch, float epoch_frac, long step) {
  int k = nfp_schedule_stage(s, epoch);
  const nfp_stage* st = &s->stage[k];
  float lr = st->lr;
  if (k == 2 && st->epochs > 0) {
    float p = ((float)(epoch - st->first_epoch) + epoch_frac) / (float)st->epochs;
    if (p > 1.0f) p = 1.0f;
    float lo = st->lr * s->final_lr_frac;
    lr = lo + 0.5f * (st->lr - lo) * (1.0f + cosf(3.14159265f * p));
  }
  if (step < s->warmup_steps) lr *= (float)(step + 1) / (float)s->warmup_steps;
  return lr;
}
