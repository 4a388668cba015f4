// Shared by the bridge tests: keys in a temporary folder, an arm server on its own
// thread, and a small NF-P checkpoint made on the spot.
#ifndef NFP_TEST_BRIDGE_UTIL_H
#define NFP_TEST_BRIDGE_UTIL_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge_serve.h"
#include "nfp/arms_sim.h"
#include "nfp/bridge.h"
#include "nfp/checkpoint.h"
#include "nfp/error.h"
#include "nfp/model.h"
#include "nfp/rng.h"

static char tdir[256];
static char srv_key[300], srv_pub[300], cli_key[300], cli_pub[300], bad_key[300], allow[300],
    policy_path[300];

static void tpath(char* out, const char* name) { snprintf(out, 300, "%s/%s", tdir, name); }

static int copy_line(const char* from, FILE* to) {
  char line[128];
  FILE* f = fopen(from, "r");
  if (!f || !fgets(line, sizeof(line), f)) return -1;
  fclose(f);
  return fputs(line, to) < 0 ? -1 : 0;
}

// Keys for a server, an allowed client and a client not on the allow-list.
static int make_keys(void) {
  char base[300];
  snprintf(tdir, sizeof(tdir), "/tmp/nfp_test_bridge.XXXXXX");
  if (!mkdtemp(tdir)) return -1;
  tpath(base, "server");
  if (nfp_bridge_keys_gen(base)) return -1;
  tpath(base, "client");
  if (nfp_bridge_keys_gen(base)) return -1;
  tpath(base, "stranger");
  if (nfp_bridge_keys_gen(base)) return -1;
  tpath(srv_key, "server.key");
  tpath(srv_pub, "server.pub");
  tpath(cli_key, "client.key");
  tpath(cli_pub, "client.pub");
  tpath(bad_key, "stranger.key");
  tpath(allow, "allow.txt");
  tpath(policy_path, "policy.safetensors");
  FILE* f = fopen(allow, "w");
  if (!f) return -1;
  fputs("# test allow-list\n", f);
  int rc = copy_line(cli_pub, f);
  fclose(f);
  return rc;
}

static void remove_tdir(void) {
  char cmd[300];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tdir);
  if (system(cmd)) fprintf(stderr, "could not remove %s\n", tdir);
}

// A state-conditioned policy whose actions stay within +-0.03 rad of the rig's reset
// pose (grippers 0..1), so it never asks the server's rate limit to step in.
static int make_policy(const char* task) {
  nfp_arms* arms = nfp_arms_sim_create(task, NFP_TEST_ASSETS);
  nfp_arms_obs obs;
  if (!arms || nfp_arms_reset(arms, 1) || nfp_arms_observe(arms, &obs, 0)) return -1;
  nfp_model_config cfg;
  nfp_model_config_default(&cfg);
  cfg.state_dim = 14;
  cfg.n_layers = 2;
  cfg.hidden = 32;
  cfg.context_dim = 16;
  cfg.enc_hidden = 32;
  cfg.sbs_candidates = 8;
  nfp_model* m = nfp_model_create(&cfg, 5);
  if (!m) return -1;
  // A fresh flow is the identity; bend its splines a little, as training would.
  nfp_rng rng;
  nfp_rng_seed(&rng, 11);
  for (int i = 0; i < m->table.n; i++) {
    const nfp_tensor_info* t = &m->table.t[i];
    if (!strncmp(t->name, "flow.", 5) && strstr(t->name, ".out.weight")) {
      for (size_t k = 0; k < t->size; k++) {
        m->params[t->offset + k] = (float)nfp_rng_range(&rng, -0.01, 0.01);
      }
    }
  }
  float slo[14], shi[14], alo[14], ahi[14];
  for (int j = 0; j < 14; j++) {
    slo[j] = (float)arms->info.q_lo[j];
    shi[j] = (float)arms->info.q_hi[j];
    int grip = j % 7 == 6;
    alo[j] = grip ? 0.0f : (float)(obs.qpos[j] - 0.03);
    ahi[j] = grip ? 1.0f : (float)(obs.qpos[j] + 0.03);
  }
  int rc = nfp_model_set_norm(m, slo, shi, alo, ahi) ||
           nfp_checkpoint_save(policy_path, m, NULL, NULL, NULL, 0);
  nfp_model_free(m);
  nfp_arms_close(arms);
  return rc ? -1 : 0;
}

// Simulated `task` served on a free loopback port with the test keys.
static int server_start(server_run* r, const char* task, int realtime,
                        const nfp_bridge_safety* safety) {
  nfp_bridge_server_opts o;
  nfp_bridge_server_opts_default(&o);
  o.bind = "tcp://127.0.0.1:*";
  o.realtime = realtime;
  o.server_key = srv_key;
  o.allow = allow;
  o.verbose = getenv("NFP_TEST_VERBOSE") != NULL;
  if (safety) o.safety = *safety;
  return server_launch(r, nfp_arms_sim_create(task, NFP_TEST_ASSETS), &o);
}

static void client_opts(nfp_bridge_client_opts* o, const char* key) {
  nfp_bridge_client_opts_default(o);
  o->server_key = srv_pub;
  o->client_key = key;
  o->timeout_ms = 5000;
}

#endif
