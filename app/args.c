// Table-driven flag parsing shared by every verb.
#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void nfp_args_usage(FILE* f, const nfp_arg* args, int nargs, const char* usage, const char* about) {
  fprintf(f, "usage: %s\n\n%s\n\noptions:\n", usage, about);
  for (int i = 0; i < nargs; i++) {
    const nfp_arg* a = &args[i];
    char left[64];
    snprintf(left, sizeof(left), "%s%s%s", a->name, a->meta ? " " : "", a->meta ? a->meta : "");
    fprintf(f, "  %-22s %s", left, a->help);
    if (a->kind == NFP_ARG_INT && !a->required) fprintf(f, " (default %d)", *(int*)a->value);
    if (a->kind == NFP_ARG_SEED && !a->required) {
      fprintf(f, " (default %lld)", *(long long*)a->value);
    }
    if (a->kind == NFP_ARG_DOUBLE && !a->required) fprintf(f, " (default %g)", *(double*)a->value);
    if (a->kind == NFP_ARG_STR && !a->required && *(const char**)a->value) {
      fprintf(f, " (default %s)", *(const char**)a->value);
    }
    if (a->required) fprintf(f, " (required)");
    fprintf(f, "\n");
  }
  fprintf(f, "  %-22s %s\n", "-h, --help", "show this help and exit");
}

static int parse_number(const nfp_arg* a, const char* text) {
  char* end = NULL;
  errno = 0;
  double v = strtod(text, &end);
  if (!*text || *end || errno || !isfinite(v)) {
    fprintf(stderr, "nfp: %s expects a number, got '%s'\n", a->name, text);
    return 2;
  }
  if (a->kind != NFP_ARG_DOUBLE && v != floor(v)) {
    fprintf(stderr, "nfp: %s expects a whole number, got '%s'\n", a->name, text);
    return 2;
  }
  if (v < a->min || v > a->max) {
    fprintf(stderr, "nfp: %s must be in [%.17g, %.17g], got %s\n", a->name, a->min, a->max, text);
    return 2;
  }
  if (a->kind == NFP_ARG_INT) *(int*)a->value = (int)v;
  if (a->kind == NFP_ARG_DOUBLE) *(double*)a->value = v;
  if (a->kind == NFP_ARG_SEED) {
    // Parse again as an integer: doubles lose precision past 2^53.
    *(long long*)a->value = strtoll(text, NULL, 10);
  }
  return 0;
}

// Flags renamed so every verb spells the same thing the same way (0.1.0 -> 0.2.0). The old
// spellings keep working for one release, with a note.
static const struct {
  const char *verb, *old, *now;
} renamed[] = {
    {"eval", "--seed0", "--seed"},        // the first seed is --seed in collect, view, train
    {"run", "--seed0", "--seed"},
    {"eval", "--trials", "--episodes"},   // collect and run count --episodes
    {"train", "--noise", "--action-noise"},  // collect's --noise perturbs execution
};

// The flag a token names: tok[0..len), or its new spelling for this verb (*len updated).
static const char* flag_name_quiet(const char* verb, const char* tok, size_t* len) {
  for (size_t r = 0; r < sizeof(renamed) / sizeof(renamed[0]); r++) {
    if (!strcmp(verb, renamed[r].verb) && strlen(renamed[r].old) == *len &&
        !strncmp(tok, renamed[r].old, *len)) {
      *len = strlen(renamed[r].now);
      return renamed[r].now;
    }
  }
  return tok;
}

// The same, saying on stderr when an old spelling was used.
static const char* flag_name(const char* verb, const char* tok, size_t* len) {
  size_t old_len = *len;
  const char* name = flag_name_quiet(verb, tok, len);
  if (name != tok) {
    fprintf(stderr, "nfp %s: %.*s is now %s (the old spelling works until nfp 0.2)\n", verb,
            (int)old_len, tok, name);
  }
  return name;
}

int nfp_args_parse(int argc, char** argv, const nfp_arg* args, int nargs, const char* usage,
                   const char* about) {
  int seen[64] = {0};
  if (nargs > 64) nargs = 64;
  for (int i = 1; i < argc; i++) {
    const char* tok = argv[i];
    if (!strcmp(tok, "-h") || !strcmp(tok, "--help")) {
      nfp_args_usage(stdout, args, nargs, usage, about);
      return 1;
    }
    const char* eq = strchr(tok, '=');
    size_t len = eq ? (size_t)(eq - tok) : strlen(tok);
    const char* name = flag_name(argv[0], tok, &len);
    int k = -1;
    for (int j = 0; j < nargs; j++) {
      if (strlen(args[j].name) == len && !strncmp(args[j].name, name, len)) k = j;
    }
    if (k < 0) {
      fprintf(stderr, "nfp: unknown option '%s' (see: nfp %s --help)\n", tok, argv[0]);
      return 2;
    }
    const nfp_arg* a = &args[k];
    seen[k] = 1;
    if (a->kind == NFP_ARG_FLAG) {
      if (eq) {
        fprintf(stderr, "nfp: %s takes no value\n", a->name);
        return 2;
      }
      *(int*)a->value = 1;
      continue;
    }
    const char* text = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
    if (!text) {
      fprintf(stderr, "nfp: %s needs a value (%s)\n", a->name, a->meta ? a->meta : "value");
      return 2;
    }
    if (a->kind == NFP_ARG_STR) {
      if (!*text) {
        fprintf(stderr, "nfp: %s needs a non-empty value\n", a->name);
        return 2;
      }
      *(const char**)a->value = text;
    } else if (parse_number(a, text)) {
      return 2;
    }
  }
  for (int j = 0; j < nargs; j++) {
    if (args[j].required && !seen[j]) {
      fprintf(stderr, "nfp: %s %s is required (see: nfp %s --help)\n", args[j].name,
              args[j].meta ? args[j].meta : "", argv[0]);
      return 2;
    }
  }
  return 0;
}

int nfp_args_given(int argc, char** argv, const char* name) {
  for (int i = 1; i < argc; i++) {
    const char* eq = strchr(argv[i], '=');
    size_t len = eq ? (size_t)(eq - argv[i]) : strlen(argv[i]);
    const char* flag = flag_name_quiet(argv[0], argv[i], &len);
    if (strlen(name) == len && !strncmp(flag, name, len)) return 1;
  }
  return 0;
}
