// nfp eval's closing table (see eval_summary.h).
#include "eval_summary.h"

#include <string.h>

#include "nfp/stats.h"

void eval_summary_interval(cJSON* run, int successes, int trials) {
  double lo, hi;
  nfp_wilson_interval(successes, trials, EVAL_SUMMARY_Z, &lo, &hi);
  cJSON* ci = cJSON_AddArrayToObject(run, "success_rate_ci95");
  cJSON_AddItemToArray(ci, cJSON_CreateNumber(lo));
  cJSON_AddItemToArray(ci, cJSON_CreateNumber(hi));
}

// run[key] -> buf with fmt (scale times the number), or "-" when the run has no such number.
static const char* summary_cell(char* buf, size_t cap, const cJSON* run, const char* key,
                                const char* fmt, double scale) {
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(run, key);
  if (cJSON_IsNumber(v)) {
    snprintf(buf, cap, fmt, scale * v->valuedouble);
  } else {
    snprintf(buf, cap, "-");
  }
  return buf;
}

// run's "success_rate_ci95" -> "[ 30.1,  95.4] %" in buf, "-" without one.
static const char* summary_interval(char* buf, size_t cap, const cJSON* run) {
  const cJSON* ci = cJSON_GetObjectItemCaseSensitive(run, "success_rate_ci95");
  const cJSON* lo = cJSON_GetArrayItem(ci, 0);
  const cJSON* hi = cJSON_GetArrayItem(ci, 1);
  if (cJSON_IsNumber(lo) && cJSON_IsNumber(hi)) {
    snprintf(buf, cap, "[%5.1f, %5.1f] %%", 100.0 * lo->valuedouble, 100.0 * hi->valuedouble);
  } else {
    snprintf(buf, cap, "-");
  }
  return buf;
}

// A run -> its row: the mode names a policy's run, the agent any other.
static void summary_row(FILE* f, const cJSON* run) {
  const cJSON* task = cJSON_GetObjectItemCaseSensitive(run, "task");
  const cJSON* mode = cJSON_GetObjectItemCaseSensitive(run, "mode");
  const cJSON* agent = cJSON_GetObjectItemCaseSensitive(run, "agent");
  const char* name = cJSON_IsString(mode) ? mode->valuestring
                     : cJSON_IsString(agent) ? agent->valuestring
                                             : "?";
  char trials[16], rate[16], ci[32], ok[16], all[16], p50[16], p99[16];
  fprintf(f, "%-17s %-7s %6s %9s %17s %9s %10s %8s %8s\n",
          cJSON_IsString(task) ? task->valuestring : "?", name,
          summary_cell(trials, sizeof(trials), run, "trials", "%.0f", 1.0),
          summary_cell(rate, sizeof(rate), run, "success_rate", "%.1f %%", 100.0),
          summary_interval(ci, sizeof(ci), run),
          summary_cell(ok, sizeof(ok), run, "mean_steps_success", "%.1f", 1.0),
          summary_cell(all, sizeof(all), run, "mean_steps", "%.1f", 1.0),
          summary_cell(p50, sizeof(p50), run, "latency_p50_ms", "%.2f", 1.0),
          summary_cell(p99, sizeof(p99), run, "latency_p99_ms", "%.2f", 1.0));
}

void eval_summary_print(FILE* f, const cJSON* runs) {
  fprintf(f, "\nsummary: success rate with its 95 %% Wilson interval; mean steps of the "
             "successful and of all\ntrials; latency per policy call\n");
  fprintf(f, "%-17s %-7s %6s %9s %17s %9s %10s %8s %8s\n", "task", "run", "trials", "success",
          "95 % interval", "steps ok", "steps all", "p50 ms", "p99 ms");
  const cJSON* run;
  cJSON_ArrayForEach(run, runs) summary_row(f, run);
  fflush(f);
}
