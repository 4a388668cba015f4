#include "bridge_flags.h"

#include <string.h>

#include "nfp/error.h"

void nfp_bridge_flags_default(nfp_bridge_flags* f) {
  f->endpoint = NULL;
  nfp_bridge_client_opts_default(&f->client);
}

void nfp_bridge_flags_args(nfp_arg* a, nfp_bridge_flags* f) {
  a[0] = (nfp_arg){"--arms", NFP_ARG_STR, &f->endpoint, "ENDPOINT",
                   "drive the arm server at ENDPOINT (tcp://HOST:PORT) instead of in-process arms",
                   0, 0, 0};
  a[1] = (nfp_arg){"--server-key", NFP_ARG_STR, &f->client.server_key, "FILE",
                   "the arm server's public key (NAME.pub from nfp keys gen)", 0, 0, 0};
  a[2] = (nfp_arg){"--key", NFP_ARG_STR, &f->client.client_key, "FILE",
                   "this client's secret key (its .pub must be on the server's --allow list)", 0,
                   0, 0};
  a[3] = (nfp_arg){"--insecure", NFP_ARG_FLAG, &f->client.insecure, NULL,
                   "plain TCP without keys (loopback endpoints only)", 0, 0, 0};
  a[4] = (nfp_arg){"--timeout-ms", NFP_ARG_INT, &f->client.timeout_ms, "MS",
                   "reply timeout of the arm server", 10, 600000, 0};
  a[5] = (nfp_arg){"--jpeg", NFP_ARG_INT, &f->client.jpeg_quality, "Q",
                   "camera frames from the arm server as JPEG at quality Q (1..100) if it "
                   "agrees; 0: raw, bit-exact", 0, 100, 0};
}

int nfp_bridge_flags_check(const nfp_bridge_flags* f) {
  if (!f->endpoint && f->client.jpeg_quality) {
    return nfp_error_set("--jpeg compresses camera frames from an arm server: it needs --arms");
  }
  if (!f->endpoint || f->client.insecure) return 0;
  if (!f->client.server_key || !f->client.client_key) {
    return nfp_error_set("--arms needs --server-key FILE and --key FILE (CURVE), or --insecure "
                         "on loopback");
  }
  return 0;
}

// The server's rig, refused when it is a simulator of another task.
nfp_arms* nfp_bridge_flags_connect(const nfp_bridge_flags* f, const char* task) {
  nfp_arms* a = nfp_arms_zmq_connect(f->endpoint, &f->client);
  const char* name = a ? a->info.name : "";
  if (a && !strncmp(name, "sim:", 4) && strcmp(name + 4, task)) {
    nfp_error_set("%s serves %s, not the task %s (give --task %s)", f->endpoint, name, task,
                  name + 4);
    nfp_arms_close(a);
    return NULL;
  }
  return a;
}
