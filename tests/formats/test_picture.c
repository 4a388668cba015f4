// Pictures: training curves, success charts and series charts come out as real PNG (decoded
// here) and SVG files by extension, survive odd input (NaN, one epoch, no validation, no
// bars), widen or turn their labels rather than overlap, and an unwritable path or input
// with nothing to draw is refused with a message.
#include <dirent.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "nfp/error.h"
#include "nfp/picture.h"

static char dir[] = "/tmp/nfp_picture_XXXXXX";

// dir/name, in a buffer the next call reuses.
static const char* in_dir(const char* name) {
  static char path[sizeof(dir) + 258];  // room for any d_name
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  return path;
}

// A PNG decoded to RGB: its size and how many distinct colours and strong blue / orange
// pixels (the two curves) it holds. 0 or -1.
typedef struct {
  int w, h, colours, blue, orange;
} png_facts;

static int png_read(const char* path, png_facts* pf) {
  png_image im;
  memset(&im, 0, sizeof(im));
  im.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&im, path)) return -1;
  im.format = PNG_FORMAT_RGB;
  unsigned char* px = malloc(PNG_IMAGE_SIZE(im));
  if (!px || !png_image_finish_read(&im, NULL, px, 0, NULL)) {
    free(px);
    png_image_free(&im);
    return -1;
  }
  memset(pf, 0, sizeof(*pf));
  pf->w = (int)im.width;
  pf->h = (int)im.height;
  static unsigned char seen[1 << 21];  // one bit per 24-bit colour
  memset(seen, 0, sizeof(seen));
  for (size_t i = 0; i < (size_t)pf->w * pf->h; i++) {
    const unsigned char* p = px + 3 * i;
    unsigned c = (unsigned)p[0] << 16 | (unsigned)p[1] << 8 | p[2];
    if (!(seen[c >> 3] & (1u << (c & 7)))) pf->colours++;
    seen[c >> 3] |= (unsigned char)(1u << (c & 7));
    pf->blue += p[2] > p[0] + 80;
    pf->orange += p[0] > p[2] + 120 && p[1] > 60;
  }
  free(px);
  return 0;
}

// The whole of a small text file (static buffer).
static const char* slurp(const char* path) {
  static char text[1 << 20];
  FILE* f = fopen(path, "rb");
  assert_non_null(f);
  size_t n = fread(text, 1, sizeof(text) - 1, f);
  fclose(f);
  text[n] = '\0';
  return text;
}

// The number in the first `attr="N` of an SVG (its width or height).
static double svg_attr(const char* svg, const char* attr) {
  char key[32];
  snprintf(key, sizeof(key), "%s=\"", attr);
  const char* p = strstr(svg, key);
  assert_non_null(p);
  return atof(p + strlen(key));
}

static void assert_svg(const char* text) {
  assert_true(!strncmp(text, "<?xml", 5) || !strncmp(text, "<svg", 4));
  assert_non_null(strstr(text, "<svg"));
  assert_non_null(strstr(text, "</svg>"));
}

// Nothing but finished files in dir: every write renamed its temporary into place.
static void assert_no_temporaries(void) {
  DIR* d = opendir(dir);
  assert_non_null(d);
  struct dirent* e;
  while ((e = readdir(d))) assert_null(strstr(e->d_name, ".tmp."));
  closedir(d);
}

static const float tr[8] = {3.0f, 1.0f, 0.0f, -1.0f, -1.5f, -1.8f, -2.0f, -2.1f};
static const float va[8] = {3.2f, 1.5f, NAN, -0.5f, -0.7f, -0.9f, -0.8f, -0.6f};

static void test_curve_png(void** state) {
  (void)state;
  nfp_curve c = {.train = tr, .val = va, .n = 8, .stage_starts = {0, 2, 6}, .n_stages = 3,
                 .best_epoch = 6, .title = "lift_pot.safetensors"};
  const char* path = in_dir("c.png");
  assert_int_equal(nfp_curve_write(path, &c), 0);
  png_facts pf;
  assert_int_equal(png_read(path, &pf), 0);
  assert_true(pf.w >= 640 && pf.h >= 400);
  assert_true(pf.colours >= 16);  // antialiased text, two curves, grid: not a blank image
  assert_true(pf.blue > 100 && pf.orange > 100);
  assert_no_temporaries();
}

static void test_curve_svg(void** state) {
  (void)state;
  nfp_curve c = {.train = tr, .val = va, .n = 8, .best_epoch = 6, .title = "cube & <pot>"};
  const char* path = in_dir("c.svg");
  assert_int_equal(nfp_curve_write(path, &c), 0);
  const char* svg = slurp(path);
  assert_svg(svg);
  // cairo draws text as glyph outlines: the title is found in the <title> added for it
  assert_non_null(strstr(svg, "<title>cube &amp; &lt;pot&gt;</title>"));
  assert_non_null(strstr(svg, "epoch 6"));  // the <desc> names the best epoch
  assert_true(svg_attr(svg, "width") >= 640 && svg_attr(svg, "height") >= 400);
  assert_non_null(strstr(svg, "<path"));
  assert_no_temporaries();
}

// One epoch, no validation, NaN everywhere, stages beyond the end: all drawn, none fatal.
static void test_curve_odd_input(void** state) {
  (void)state;
  char path[300];
  snprintf(path, sizeof(path), "%s", in_dir("odd.png"));
  nfp_curve one = {.train = tr, .n = 1, .stage_starts = {0, 4, 9}, .n_stages = 3,
                   .best_epoch = 1};
  assert_int_equal(nfp_curve_write(path, &one), 0);
  const float nan4[4] = {NAN, NAN, NAN, NAN}, flat[4] = {2, 2, NAN, 2};
  nfp_curve none = {.train = nan4, .val = nan4, .n = 4, .best_epoch = 3};
  assert_int_equal(nfp_curve_write(path, &none), 0);
  nfp_curve level = {.train = flat, .val = flat, .n = 4, .stage_starts = {0, 1, 1},
                     .n_stages = 3, .best_epoch = 9};
  assert_int_equal(nfp_curve_write(in_dir("odd.svg"), &level), 0);
  png_facts pf;
  assert_int_equal(png_read(path, &pf), 0);
  nfp_curve empty = {.train = tr, .n = 0};
  assert_int_equal(nfp_curve_write(path, &empty), -1);
  nfp_error_clear();
  assert_int_equal(nfp_curve_write("/nonexistent/dir/c.png", &one), -1);
  assert_non_null(strstr(nfp_error_last(), "/nonexistent/dir/c.png"));
  assert_no_temporaries();
}

static void test_bars_svg(void** state) {
  (void)state;
  nfp_bar bars[3] = {
      {.group = "lift_pot", .label = "single", .rate = 1.0, .lo = 0.8, .hi = 1.0},
      {.group = "lift_pot", .label = "sbs", .rate = 0.5, .lo = NAN, .hi = NAN},
      {.group = "stack", .label = "sbs", .rate = 0.25, .lo = 0.1, .hi = 0.45}};
  const char* path = in_dir("b.svg");
  assert_int_equal(nfp_bars_write(path, "success rate", "p.safetensors, 2026-12-05", bars, 3), 0);
  const char* svg = slurp(path);
  assert_svg(svg);
  assert_non_null(strstr(svg, "<title>success rate</title>"));
  const char* desc = strstr(svg, "<desc>");
  assert_non_null(desc);
  assert_non_null(strstr(desc, "p.safetensors, 2026-12-05"));
  assert_non_null(strstr(desc, "stack / sbs: 25.0 %"));
  assert_non_null(strstr(desc, "interval 80.0-100.0 %"));
  assert_int_equal(nfp_bars_write(path, "empty", NULL, bars, 0), 0);  // no bars: still a chart
  nfp_error_clear();
  assert_int_equal(nfp_bars_write("/nonexistent/dir/c.svg", "x", NULL, bars, 3), -1);
  assert_non_null(strstr(nfp_error_last(), "/nonexistent/dir/c.svg"));
  assert_no_temporaries();
}

// n groups of the four eval modes (names as long as --task all's) -> the chart's PNG size.
static void bars_png_size(int groups, int per_group, png_facts* pf) {
  static const char* tasks[] = {"lift_pot", "pick_place_mug", "stack_blocks", "open_drawer",
                                "handover_bottle", "pour_water", "insert_peg", "fold_towel"};
  static const char* modes[] = {"expert", "single", "sbs", "gr"};
  nfp_bar bars[32];
  int n = 0;
  for (int g = 0; g < groups; g++) {
    for (int m = 0; m < per_group; m++, n++) {
      bars[n] = (nfp_bar){.group = tasks[g], .label = modes[m], .rate = 0.2 * m + 0.1 * g,
                          .lo = 0.1 * g, .hi = 0.4 + 0.1 * g};
    }
  }
  const char* path = in_dir("b.png");
  assert_int_equal(nfp_bars_write(path, "success rate over 100 trials", "all, 2026-12-05",
                                  bars, n), 0);
  assert_int_equal(png_read(path, pf), 0);
}

// More groups widen the chart; names wider than a one-bar group are turned (a taller band).
static void test_bars_png_layout(void** state) {
  (void)state;
  png_facts two, eight, narrow;
  bars_png_size(2, 4, &two);
  bars_png_size(8, 4, &eight);
  bars_png_size(8, 1, &narrow);
  assert_true(two.colours >= 16);
  assert_true(eight.w > two.w + 5 * 4 * 36);
  assert_int_equal(eight.h, two.h);    // four bars a group: every name fits across
  assert_true(narrow.h > two.h + 30);  // one bar a group: names turned
  assert_no_temporaries();
}

// Two lines over online episodes: a solid blue success rate, a dashed orange critic estimate
// with a NaN gap (and an x NaN, also a gap).
static const double ep[8] = {10, 20, 30, 40, 50, 60, 70, 80};
static const double rate[8] = {0.1, 0.2, 0.25, 0.4, 0.5, 0.55, 0.7, 0.8};
static const double critic[8] = {0.3, 0.35, NAN, 0.45, 0.5, 0.6, 0.65, 0.7};
static const double ep_gap[8] = {10, 20, 30, NAN, 50, 60, 70, 80};

static void series_two(nfp_series s[2]) {
  s[0] = (nfp_series){.label = "success rate", .x = ep, .y = rate, .n = 8, .rgb = 0x1f77b4};
  s[1] = (nfp_series){.label = "critic <estimate>", .x = ep_gap, .y = critic, .n = 8,
                      .rgb = 0xe8710a, .dashed = 1};
}

static void test_series_png(void** state) {
  (void)state;
  nfp_series s[2];
  series_two(s);
  const char* path = in_dir("s.png");
  assert_int_equal(nfp_series_write(path, "RL fine-tuning", "online episode", "success rate",
                                    s, 2, 0.0, 1.0), 0);
  unsigned char sig[8] = {0};
  FILE* f = fopen(path, "rb");
  assert_non_null(f);
  assert_int_equal(fread(sig, 1, 8, f), 8);
  fclose(f);
  assert_memory_equal(sig, "\x89PNG\r\n\x1a\n", 8);
  png_facts pf;
  assert_int_equal(png_read(path, &pf), 0);
  assert_true(pf.w >= 640 && pf.h >= 400);
  assert_true(pf.colours >= 16);
  assert_true(pf.blue > 100 && pf.orange > 100);  // both lines drawn, the dashed one too
  assert_no_temporaries();
}

static void test_series_svg(void** state) {
  (void)state;
  nfp_series s[2];
  series_two(s);
  const char* path = in_dir("s.svg");
  // fitted y range; the return on its own scale
  assert_int_equal(nfp_series_write(path, "critic & return", "episode", "return", s, 2, NAN,
                                    NAN), 0);
  const char* svg = slurp(path);
  assert_svg(svg);
  assert_non_null(strstr(svg, "<title>critic &amp; return</title>"));
  const char* desc = strstr(svg, "<desc>");
  assert_non_null(desc);
  assert_non_null(strstr(desc, "success rate: 8 points, last 0.8 at 80"));
  assert_non_null(strstr(desc, "critic &lt;estimate&gt;: 6 points"));  // two gaps
  assert_true(svg_attr(svg, "width") >= 640 && svg_attr(svg, "height") >= 400);
  assert_non_null(strstr(svg, "<path"));
  assert_no_temporaries();
}

// Many long labels wrap the legend onto more rows: the chart grows taller, not wider.
static void test_series_legend_wraps(void** state) {
  (void)state;
  nfp_series s[2], many[8];
  series_two(s);
  for (int k = 0; k < 8; k++) {
    many[k] = s[k % 2];
    many[k].label = "a rather long series label";
  }
  png_facts one, wrapped;
  assert_int_equal(nfp_series_write(in_dir("s.png"), "t", "x", "y", s, 2, 0, 1), 0);
  assert_int_equal(png_read(in_dir("s.png"), &one), 0);
  assert_int_equal(nfp_series_write(in_dir("s.png"), "t", "x", "y", many, 8, 0, 1), 0);
  assert_int_equal(png_read(in_dir("s.png"), &wrapped), 0);
  assert_int_equal(wrapped.w, one.w);
  assert_true(wrapped.h >= one.h + 22);  // a row more at least
  // one series all NaN (no estimate yet) beside a finite one: still a chart
  const double nan8[8] = {NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
  s[1].y = nan8;
  assert_int_equal(nfp_series_write(in_dir("s.svg"), "t", NULL, NULL, s, 2, NAN, NAN), 0);
  assert_non_null(strstr(slurp(in_dir("s.svg")), "critic &lt;estimate&gt;: no finite point"));
  assert_no_temporaries();
}

// Nothing to draw -> -1 with a message naming the path, and no file left behind.
static void test_series_bad_input(void** state) {
  (void)state;
  const char* path = in_dir("bad.svg");
  nfp_series s[2];
  series_two(s);
  const double nan8[8] = {NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
  nfp_series empty = s[0], all_nan[2] = {s[0], s[1]};
  empty.n = 0;
  all_nan[0].y = nan8;
  all_nan[1].y = nan8;
  struct {
    const nfp_series* s;
    int n;
  } cases[] = {{s, 0}, {NULL, 2}, {&empty, 1}, {all_nan, 2}};
  for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
    nfp_error_clear();
    assert_int_equal(nfp_series_write(path, "t", "x", "y", cases[c].s, cases[c].n, 0, 1), -1);
    assert_non_null(strstr(nfp_error_last(), path));
    assert_int_equal(access(path, F_OK), -1);
  }
  nfp_error_clear();
  assert_int_equal(nfp_series_write("/nonexistent/dir/s.png", "t", "x", "y", s, 2, 0, 1), -1);
  assert_non_null(strstr(nfp_error_last(), "/nonexistent/dir/s.png"));
  assert_no_temporaries();
}

static int cleanup(void** state) {
  (void)state;
  DIR* d = opendir(dir);
  struct dirent* e;
  while (d && (e = readdir(d))) {
    if (e->d_name[0] != '.') unlink(in_dir(e->d_name));
  }
  if (d) closedir(d);
  return rmdir(dir);
}

int main(void) {
  if (!mkdtemp(dir)) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_curve_png),
      cmocka_unit_test(test_curve_svg),
      cmocka_unit_test(test_curve_odd_input),
      cmocka_unit_test(test_bars_svg),
      cmocka_unit_test(test_bars_png_layout),
      cmocka_unit_test(test_series_png),
      cmocka_unit_test(test_series_svg),
      cmocka_unit_test(test_series_legend_wraps),
      cmocka_unit_test(test_series_bad_input),
  };
  return cmocka_run_group_tests(tests, NULL, cleanup);
}
