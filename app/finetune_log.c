// The fine-tuning run's per-episode JSON lines, progress lines and closing chart.
#include "finetune_log.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nfp/error.h"
#include "nfp/picture.h"

#define WINDOW 20  // episodes in the chart's and the progress line's moving averages

struct nfp_finetune_log_ {
  FILE* f;
  char* path;
  char* chart;
  int recent[WINDOW];  // outcomes of the last online episodes (progress line)
  int n_recent;
};

char* nfp_finetune_log_path(const char* out, const char* given, const char* suffix) {
  if (given) return strdup(given);
  size_t n = strlen(out);
  const char* ext = ".safetensors";
  if (n > strlen(ext) && !strcmp(out + n - strlen(ext), ext)) n -= strlen(ext);
  char* p = malloc(n + strlen(suffix) + 1);
  if (!p) return NULL;
  memcpy(p, out, n);
  strcpy(p + n, suffix);
  return p;
}

nfp_finetune_log* nfp_finetune_log_open(const char* jsonl, const char* chart, int append) {
  nfp_finetune_log* log = calloc(1, sizeof(*log));
  if (!log || !(log->path = strdup(jsonl)) || !(log->chart = strdup(chart))) {
    nfp_finetune_log_close(log, 0);
    nfp_error_set("out of memory");
    return NULL;
  }
  log->f = fopen(jsonl, append ? "a" : "w");
  if (!log->f) {
    nfp_error_set("cannot write the episode log %s", jsonl);
    nfp_finetune_log_close(log, 0);
    return NULL;
  }
  return log;
}

// NaN as null: JSON has no NaN.
static void put_number(FILE* f, const char* name, double v) {
  if (isfinite(v)) {
    fprintf(f, ",\"%s\":%.6g", name, v);
  } else {
    fprintf(f, ",\"%s\":null", name);
  }
}

int nfp_finetune_log_episode(nfp_finetune_log* log, const nfp_finetune* ft,
                             const nfp_finetune_episode* ep, int print) {
  int online = ep->index >= 0;
  fprintf(log->f, "{\"phase\":\"%s\",\"episode\":%d,\"seed\":%llu,\"success\":%d,\"steps\":%d",
          online ? "online" : "warmup", online ? ep->index : -1 - ep->index,
          (unsigned long long)ep->seed, ep->success, ep->steps);
  fprintf(log->f, ",\"chunks\":%d,\"updates\":%ld,\"transitions\":%d", ep->chunks, ft->updates,
          ft->buf.n);
  put_number(log->f, "return", ep->ret);
  put_number(log->f, "q0", ep->q0);
  put_number(log->f, "loglik_mean", ep->loglik_mean);
  put_number(log->f, "critic_loss", ep->critic_loss);
  put_number(log->f, "weight_mean", ep->weight_mean);
  put_number(log->f, "seconds", ep->seconds);
  fprintf(log->f, "}\n");
  if (fflush(log->f)) return nfp_error_set("writing the episode log %s", log->path);
  if (online) log->recent[log->n_recent++ % WINDOW] = ep->success;
  if (!print) return 0;
  int k = log->n_recent < WINDOW ? log->n_recent : WINDOW, good = 0;
  for (int i = 0; i < k; i++) good += log->recent[i];
  if (online) {
    printf(
        "online %d/%d seed %llu: %s in %d steps; last %d: %d %%; Q %.3f vs return %.3f; "
        "critic loss %.3g; weight %.3g; %.1f s\n",
        ep->index + 1, ft->cfg.online_episodes, (unsigned long long)ep->seed,
        ep->success ? "success" : "failure", ep->steps, k, k ? 100 * good / k : 0, ep->q0, ep->ret,
        ep->critic_loss, ep->weight_mean, ep->seconds);
  } else {
    printf("warm-up %d/%d seed %llu: %s in %d steps\n", -ep->index, ft->cfg.warmup_episodes,
           (unsigned long long)ep->seed, ep->success ? "success" : "failure", ep->steps);
  }
  fflush(stdout);
  return 0;
}

int nfp_finetune_log_eval(nfp_finetune_log* log, const nfp_finetune_eval* ev, uint64_t seed) {
  fprintf(log->f, "{\"phase\":\"evaluation\",\"episodes\":%d,\"seed\":%llu,\"successes\":%d",
          ev->episodes, (unsigned long long)seed, ev->successes);
  fprintf(log->f, ",\"first_chunks\":%d", ev->first_chunks);
  put_number(log->f, "auroc_q", ev->auroc_q);
  put_number(log->f, "auroc_loglik", ev->auroc_loglik);
  fprintf(log->f, "}\n");
  if (fflush(log->f)) return nfp_error_set("writing the episode log %s", log->path);
  printf(
      "evaluation: %d of %d episodes from seed %llu succeeded (%.0f %%); telling success from "
      "failure by the first %d chunks: AUROC %.3f by the critic, %.3f by log p\n",
      ev->successes, ev->episodes, (unsigned long long)seed, 100.0 * ev->successes / ev->episodes,
      ev->first_chunks, ev->auroc_q, ev->auroc_loglik);
  fflush(stdout);
  return 0;
}

// The online lines of the file -> success, q0 and return per online episode (by index).
static int read_online(const char* path, double* x, double* succ, double* q0, double* ret,
                       int budget) {
  FILE* f = fopen(path, "r");
  if (!f) return nfp_error_set("cannot read the episode log %s", path);
  char line[4096];
  int n = 0;
  while (fgets(line, sizeof(line), f)) {
    cJSON* j = cJSON_Parse(line);
    cJSON* ph = cJSON_GetObjectItemCaseSensitive(j, "phase");
    cJSON* ep = cJSON_GetObjectItemCaseSensitive(j, "episode");
    if (cJSON_IsString(ph) && !strcmp(ph->valuestring, "online") && cJSON_IsNumber(ep) &&
        ep->valueint >= 0 && ep->valueint < budget) {
      int i = ep->valueint;
      cJSON* q = cJSON_GetObjectItemCaseSensitive(j, "q0");
      x[i] = i + 1;
      succ[i] = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "success"));
      q0[i] = cJSON_IsNumber(q) ? q->valuedouble : NAN;
      ret[i] = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "return"));
      if (i + 1 > n) n = i + 1;
    }
    cJSON_Delete(j);
  }
  fclose(f);
  return n;
}

// Trailing mean over the last WINDOW entries (NaN ones skipped) in place, from a copy.
static void moving_mean(double* out, const double* v, int n) {
  for (int i = 0; i < n; i++) {
    double s = 0;
    int k = 0;
    for (int j = i - WINDOW + 1 < 0 ? 0 : i - WINDOW + 1; j <= i; j++) {
      if (isfinite(v[j])) {
        s += v[j];
        k++;
      }
    }
    out[i] = k ? s / k : NAN;
  }
}

// The chart of the online episodes in the log (moving means over WINDOW episodes).
static int draw_chart(const nfp_finetune_log* log, int budget) {
  double* a = malloc(sizeof(double) * 7 * (size_t)budget);
  if (!a) return nfp_error_set("out of memory drawing %s", log->chart);
  double *x = a, *succ = a + budget, *q0 = a + 2 * budget, *ret = a + 3 * budget;
  double *ms = a + 4 * budget, *mq = a + 5 * budget, *mr = a + 6 * budget;
  for (int i = 0; i < 4 * budget; i++) a[i] = NAN;
  int n = read_online(log->path, x, succ, q0, ret, budget), rc = 0;
  if (n > 0) {
    moving_mean(ms, succ, n);
    moving_mean(mq, q0, n);
    moving_mean(mr, ret, n);
    for (int i = 0; i < n; i++) x[i] = i + 1;
    nfp_series s[3] = {
        {"success rate (last 20 episodes)", x, ms, n, 0x1f77b4, 0},
        {"critic estimate Q at the first chunk (mean of 20)", x, mq, n, 0xd62728, 0},
        {"observed discounted return (mean of 20)", x, mr, n, 0xd62728, 1},
    };
    rc = nfp_series_write(log->chart, "RL fine-tuning: online episodes", "online episode",
                          "rate / value", s, 3, NAN, NAN);
  }
  free(a);
  return n < 0 ? -1 : rc;
}

int nfp_finetune_log_close(nfp_finetune_log* log, int budget) {
  if (!log) return 0;
  int rc = 0;
  if (log->f && fclose(log->f)) rc = nfp_error_set("writing the episode log %s", log->path);
  if (!rc && budget > 0) rc = draw_chart(log, budget);
  free(log->path);
  free(log->chart);
  free(log);
  return rc;
}
