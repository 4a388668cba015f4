// Command-line flags of the nfp verbs: one table per verb drives parsing and --help.
#ifndef NFP_APP_ARGS_H
#define NFP_APP_ARGS_H

#include <stdio.h>

typedef enum {
  NFP_ARG_FLAG,    // int*: set to 1 when present, takes no value
  NFP_ARG_INT,     // int*: whole number within [min, max]
  NFP_ARG_SEED,    // long long*: whole number within [min, max]
  NFP_ARG_DOUBLE,  // double*: number within [min, max]
  NFP_ARG_STR,     // const char**: any text
} nfp_arg_kind;

typedef struct {
  const char* name;  // "--episodes"
  nfp_arg_kind kind;
  void* value;       // holds the default on entry
  const char* meta;  // "N", shown in --help
  const char* help;
  double min, max;  // accepted range of numbers
  int required;
} nfp_arg;

// Parse argv[1..argc) (argv[0] is the verb). Accepts "--name value" and "--name=value".
// Returns 0 to go on, 1 when --help was printed (exit 0), 2 on bad input (message on stderr).
int nfp_args_parse(int argc, char** argv, const nfp_arg* args, int nargs, const char* usage,
                   const char* about);
// Whether argv[1..argc) gives the flag `name` (under its old spelling too), so a resumed run
// can tell an explicit value from a default.
int nfp_args_given(int argc, char** argv, const char* name);
void nfp_args_usage(FILE* f, const nfp_arg* args, int nargs, const char* usage, const char* about);

#endif
