// Success-rate bar charts for evaluation reports, as SVG (text, labels, no deps).
#ifndef NFP_APP_EVAL_SVG_H
#define NFP_APP_EVAL_SVG_H

typedef struct {
  const char* group;  // task name
  const char* label;  // mode or agent
  double rate;        // success rate in [0, 1]
} nfp_bar;

// Bars grouped by `group` in the order given; written atomically. 0 or -1 (error set).
int nfp_bars_write_svg(const char* path, const char* title, const nfp_bar* bars, int n);

#endif
