// An arm server on its own thread, for the bridge tests.
#ifndef NFP_TEST_BRIDGE_SERVE_H
#define NFP_TEST_BRIDGE_SERVE_H

#include <pthread.h>
#include <string.h>

#include "nfp/bridge.h"

typedef struct {
  nfp_arms* arms;
  nfp_bridge_server* server;
  pthread_t thread;
  int rc;
} server_run;

static void* server_main(void* arg) {
  server_run* r = arg;
  r->rc = nfp_bridge_server_run(r->server);
  return NULL;
}

// Serve arms (closed by server_finish, or here on failure) with o on a new thread.
// 0, or -1 (error set).
static int server_launch(server_run* r, nfp_arms* arms, const nfp_bridge_server_opts* o) {
  memset(r, 0, sizeof(*r));
  r->arms = arms;
  if (!arms) return -1;
  r->server = nfp_bridge_server_create(arms, o);
  if (r->server && !pthread_create(&r->thread, NULL, server_main, r)) return 0;
  nfp_bridge_server_free(r->server);
  nfp_arms_close(arms);
  memset(r, 0, sizeof(*r));
  return -1;
}

// Stop the server, wait for its thread, free it and its arms.
static void server_finish(server_run* r) {
  nfp_bridge_server_stop(r->server);
  pthread_join(r->thread, NULL);
  nfp_bridge_server_free(r->server);
  nfp_arms_close(r->arms);
}

#endif
