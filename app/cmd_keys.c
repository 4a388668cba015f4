// nfp keys: CURVE key pairs for the arm bridge.
#include <stdio.h>
#include <string.h>

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

int nfp_cmd_keys(int argc, char** argv) {
  const char* out = NULL;
  nfp_arg args[] = {
      {"--out", NFP_ARG_STR, &out, "NAME", "write NAME.key (secret) and NAME.pub (public)", 0, 0, 1},
  };
  if (argc < 2 || strcmp(argv[1], "gen")) {
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
      nfp_args_usage(stdout, args, 1, "nfp keys gen --out NAME", keys_about);
      return 0;
    }
    nfp_args_usage(stderr, args, 1, "nfp keys gen --out NAME", keys_about);
    return 2;
  }
  int rc = nfp_args_parse(argc - 1, argv + 1, args, 1, "nfp keys gen --out NAME", keys_about);
  if (rc) return rc == 1 ? 0 : 2;
  if (nfp_bridge_keys_gen(out)) {
    fprintf(stderr, "nfp keys: %s\n", nfp_error_last());
    return 1;
  }
  printf("wrote %s.key (secret, mode 0600) and %s.pub\n", out, out);
  return 0;
}
