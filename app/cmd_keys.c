// nfp keys: CURVE key pairs for the arm bridge.
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "commands.h"
#include "nfp/bridge.h"
#include "nfp/error.h"

static const char* keys_about =
    "Makes a CURVE key pair for the arm bridge: NAME.key holds the secret key (file mode\n"
    "0600, keep it on the machine that uses it) and NAME.pub the public key, each one line\n"
    "of Z85 text. The arm server uses its .key with --key; clients get the server's .pub\n"
    "(--server-key). Each client uses its own .key (--key), and the server lists the\n"
    "clients' .pub lines in its --allow file; keys not on that list are refused.";

// Name the file of NAME.ext that already exists in path (1), else 0.
static int pair_exists(char* path, size_t cap, const char* name) {
  const char* ext[] = {".key", ".pub"};
  struct stat st;
  for (int i = 0; i < 2; i++) {
    snprintf(path, cap, "%s%s", name, ext[i]);
    if (!lstat(path, &st)) return 1;
  }
  return 0;
}

int nfp_cmd_keys(int argc, char** argv) {
  const char* out = NULL;
  int force = 0;
  const char* usage = "nfp keys gen --out NAME [--force]";
  nfp_arg args[] = {
      {"--out", NFP_ARG_STR, &out, "NAME", "write NAME.key (secret) and NAME.pub (public)", 0, 0,
       1},
      {"--force", NFP_ARG_FLAG, &force, NULL, "replace an existing NAME.key / NAME.pub", 0, 0, 0},
  };
  int nargs = (int)(sizeof(args) / sizeof(args[0]));
  if (argc < 2 || strcmp(argv[1], "gen")) {
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
      nfp_args_usage(stdout, args, nargs, usage, keys_about);
      return 0;
    }
    nfp_args_usage(stderr, args, nargs, usage, keys_about);
    return 2;
  }
  char verb[] = "keys gen";  // flag errors point at "nfp keys gen --help"
  argv[1] = verb;
  int rc = nfp_args_parse(argc - 1, argv + 1, args, nargs, usage, keys_about);
  if (rc) return rc == 1 ? 0 : 2;
  char path[4200];
  if (!force && pair_exists(path, sizeof(path), out)) {
    fprintf(stderr, "nfp keys: %s already exists; not replacing a key pair (its .pub may be on "
                    "allow-lists and its .key in use). Pick another --out NAME, or add --force "
                    "to replace it.\n", path);
    return 1;
  }
  if (nfp_bridge_keys_gen(out)) {
    fprintf(stderr, "nfp keys: %s\n", nfp_error_last());
    return 1;
  }
  printf("wrote %s.key (secret, mode 0600) and %s.pub\n", out, out);
  return 0;
}
