#include "nfp/picture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nfp/atomic_file.h"
#include "nfp/error.h"

#define BAR_W 44
#define BAR_GAP 8
#define GROUP_GAP 36
#define PLOT_H 240
#define TOP 48
#define LEFT 56

static const char* palette[] = {"#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860"};

// Colour per label, stable across groups (first-seen order).
static int label_index(const nfp_bar* bars, int upto, const char* label) {
  int k = 0;
  for (int i = 0; i < upto; i++) {
    int seen = 0;
    for (int j = 0; j < i; j++) seen |= !strcmp(bars[j].label, bars[i].label);
    if (seen) continue;
    if (!strcmp(bars[i].label, label)) return k;
    k++;
  }
  return k;
}

int nfp_bars_write_svg(const char* path, const char* title, const nfp_bar* bars, int n) {
  size_t cap = 4096 + (size_t)n * 512;
  char* s = malloc(cap);
  if (!s) return nfp_error_set("out of memory writing %s", path);
  int groups = 0;
  for (int i = 0; i < n; i++) groups += i == 0 || strcmp(bars[i].group, bars[i - 1].group);
  int width = LEFT + n * (BAR_W + BAR_GAP) + groups * GROUP_GAP + 20;
  int title_width = LEFT + 9 * (int)strlen(title) + 20;  // ~9 px per character at 15 px
  if (width < title_width) width = title_width;
  int height = TOP + PLOT_H + 70;
  size_t len = 0;
#define EMIT(...) len += (size_t)snprintf(s + len, cap - len, __VA_ARGS__)
  EMIT("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
       "font-family=\"sans-serif\" font-size=\"12\">\n", width, height);
  EMIT("<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
  EMIT("<text x=\"%d\" y=\"24\" font-size=\"15\">%s</text>\n", LEFT, title);
  for (int p = 0; p <= 100; p += 25) {
    double y = TOP + PLOT_H * (1.0 - p / 100.0);
    EMIT("<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", LEFT, y,
         width - 10, y);
    EMIT("<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%d %%</text>\n", LEFT - 6, y + 4, p);
  }
  int x = LEFT + GROUP_GAP / 2;
  for (int i = 0; i < n; i++) {
    if (i > 0 && strcmp(bars[i].group, bars[i - 1].group)) x += GROUP_GAP;
    int first = i;
    while (first > 0 && !strcmp(bars[first - 1].group, bars[i].group)) first--;
    double h = PLOT_H * (bars[i].rate < 0 ? 0 : bars[i].rate > 1 ? 1 : bars[i].rate);
    const char* colour = palette[label_index(bars, n, bars[i].label) % 6];
    EMIT("<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"%s\"/>\n", x,
         TOP + PLOT_H - h, BAR_W, h, colour);
    EMIT("<text x=\"%d\" y=\"%.1f\" text-anchor=\"middle\">%.0f</text>\n", x + BAR_W / 2,
         TOP + PLOT_H - h - 4, 100.0 * bars[i].rate);
    EMIT("<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", x + BAR_W / 2,
         TOP + PLOT_H + 16, bars[i].label);
    int last = i == n - 1 || strcmp(bars[i + 1].group, bars[i].group);
    if (last) {
      int x0 = x - (i - first) * (BAR_W + BAR_GAP);
      EMIT("<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-weight=\"bold\">%s</text>\n",
           (x0 + x + BAR_W) / 2, TOP + PLOT_H + 36, bars[i].group);
    }
    x += BAR_W + BAR_GAP;
  }
  EMIT("</svg>\n");
#undef EMIT
  int rc = len < cap ? nfp_atomic_write_file(path, s, (size_t)len, 0666)
                     : nfp_error_set("%s: chart too large", path);
  free(s);
  return rc;
}
