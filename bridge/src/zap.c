// The allow-list authenticator, on its own thread inside the server's ZeroMQ context.
#include "zap.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "nfp/error.h"

static int load_allow(nfp_zap* z, const char* path) {
  if (!path) return nfp_error_set("CURVE needs an allow-list of client public keys (--allow FILE)");
  FILE* f = fopen(path, "r");
  if (!f) return nfp_error_set("cannot open allow-list %s: %s", path, strerror(errno));
  char line[512];
  int lineno = 0, rc = 0;
  while (!rc && fgets(line, sizeof(line), f)) {
    lineno++;
    char* s = line + strspn(line, " \t");
    s[strcspn(s, " \t\r\n")] = '\0';
    if (!*s || (*s == '#' && strlen(s) != 40)) continue;  // '#' is also a Z85 character
    if (z->n_allow == NFP_ZAP_MAX_KEYS) {
      rc = nfp_error_set("%s: more than %d keys", path, NFP_ZAP_MAX_KEYS);
    } else if (strlen(s) != 40 || !zmq_z85_decode(z->allow[z->n_allow], s)) {
      rc = nfp_error_set("%s line %d: not a Z85 public key (40 characters)", path, lineno);
    } else {
      z->n_allow++;
    }
  }
  fclose(f);
  if (!rc && z->n_allow == 0) rc = nfp_error_set("allow-list %s holds no keys", path);
  return rc;
}

static int allowed(const nfp_zap* z, const uint8_t* key) {
  for (int i = 0; i < z->n_allow; i++) {
    if (!memcmp(z->allow[i], key, 32)) return 1;
  }
  return 0;
}

// One request: version, request id, domain, address, identity, mechanism, credentials.
static void answer(nfp_zap* z) {
  enum { MAXP = 8 };
  zmq_msg_t part[MAXP];
  int n = 0, more = 1;
  while (more) {
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, z->sock, 0) < 0) {
      zmq_msg_close(&m);
      break;
    }
    more = zmq_msg_more(&m);
    if (n < MAXP) part[n++] = m;
    else zmq_msg_close(&m);
  }
  if (n < 6) {  // not a ZAP request; REP still owes an answer
    for (int i = 0; i < n; i++) zmq_msg_close(&part[i]);
    zmq_send(z->sock, "1.0", 3, 0);
    return;
  }
  const char* mech = zmq_msg_data(&part[5]);
  size_t mlen = zmq_msg_size(&part[5]);
  int ok = n >= 7 && mlen == 5 && !memcmp(mech, "CURVE", 5) && zmq_msg_size(&part[6]) == 32 &&
           allowed(z, zmq_msg_data(&part[6]));
  if (!ok) {
    atomic_fetch_add(&z->refused, 1);
    if (z->verbose) {
      char addr[64] = "";
      size_t al = zmq_msg_size(&part[3]) < 63 ? zmq_msg_size(&part[3]) : 63;
      memcpy(addr, zmq_msg_data(&part[3]), al);
      fprintf(stderr, "nfp bridge: refused a client from %s (key not on the allow-list)\n", addr);
    }
  }
  zmq_send(z->sock, "1.0", 3, ZMQ_SNDMORE);
  zmq_send(z->sock, zmq_msg_data(&part[1]), zmq_msg_size(&part[1]), ZMQ_SNDMORE);
  zmq_send(z->sock, ok ? "200" : "400", 3, ZMQ_SNDMORE);
  const char* text = ok ? "OK" : "client key not allowed";
  zmq_send(z->sock, text, strlen(text), ZMQ_SNDMORE);
  zmq_send(z->sock, "", 0, ZMQ_SNDMORE);
  zmq_send(z->sock, "", 0, 0);
  for (int i = 0; i < n; i++) zmq_msg_close(&part[i]);
}

static void* zap_main(void* arg) {
  nfp_zap* z = arg;
  while (!atomic_load(&z->stop)) {
    zmq_pollitem_t it = {z->sock, 0, ZMQ_POLLIN, 0};
    int rc = zmq_poll(&it, 1, 100);
    if (rc < 0 && errno != EINTR) break;
    if (rc > 0) answer(z);
  }
  return NULL;
}

int nfp_zap_start(nfp_zap* z, void* ctx, const char* allow_path, int verbose) {
  z->verbose = verbose;
  if (load_allow(z, allow_path)) return -1;
  z->sock = zmq_socket(ctx, ZMQ_REP);
  int linger = 0;
  if (!z->sock || zmq_setsockopt(z->sock, ZMQ_LINGER, &linger, sizeof(linger)) ||
      zmq_bind(z->sock, "inproc://zeromq.zap.01")) {
    int e = errno;
    if (z->sock) zmq_close(z->sock);
    z->sock = NULL;
    return nfp_error_set("starting the ZAP authenticator: %s", zmq_strerror(e));
  }
  atomic_store(&z->stop, 0);
  if (pthread_create(&z->thread, NULL, zap_main, z)) {
    zmq_close(z->sock);
    z->sock = NULL;
    return nfp_error_set("starting the ZAP authenticator thread");
  }
  z->running = 1;
  return 0;
}

void nfp_zap_stop(nfp_zap* z) {
  if (z->running) {
    atomic_store(&z->stop, 1);
    pthread_join(z->thread, NULL);
    z->running = 0;
  }
  if (z->sock) zmq_close(z->sock);
  z->sock = NULL;
}
