// nfp eval's closing table, read from the JSON report's runs: task x agent/mode with the
// success rate and its 95 % Wilson interval, mean steps (successful, all trials) and the
// latency per policy call (p50, p99).
#ifndef NFP_APP_EVAL_SUMMARY_H
#define NFP_APP_EVAL_SUMMARY_H

#include <stdio.h>

#include <cjson/cJSON.h>

#define EVAL_SUMMARY_Z 1.96  // standard errors of a 95 % interval

// successes of trials -> run's "success_rate_ci95": [low, high] (fractions, as
// "success_rate"), the 95 % Wilson score interval.
void eval_summary_interval(cJSON* run, int successes, int trials);
// runs (the report's "runs") -> the table on f, a row per run in order.
void eval_summary_print(FILE* f, const cJSON* runs);

#endif
