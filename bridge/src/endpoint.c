// Endpoints: which are on this machine (plain TCP is allowed only there), and how to
// bind and connect the loopback names libzmq does not take as they are.
#include "endpoint.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "nfp/bridge.h"
#include "nfp/error.h"

// Host part of a tcp:// endpoint ("[::1]" of "tcp://[::1]:5555"): its length, with its
// start in *host; 0 when e is not tcp:// or has no port.
static size_t tcp_host(const char* e, const char** host) {
  if (strncmp(e, "tcp://", 6)) return 0;
  *host = e + 6;
  const char* colon = strrchr(*host, ':');
  return colon ? (size_t)(colon - *host) : 0;
}

int nfp_bridge_endpoint_is_local(const char* e) {
  if (!strncmp(e, "ipc://", 6) || !strncmp(e, "inproc://", 9)) return 1;
  const char* host = NULL;
  size_t n = tcp_host(e, &host);
  if (!n) return 0;
  if ((n == 9 && !strncmp(host, "localhost", 9)) || (n == 5 && !strncmp(host, "[::1]", 5))) {
    return 1;
  }
  // 127.x.y.z: a numeric address in the loopback block, never a name that starts so
  if (n < 4 || strncmp(host, "127.", 4)) return 0;
  int dots = 0;
  for (size_t i = 0; i < n; i++) {
    if (host[i] == '.') dots++;
    else if (host[i] < '0' || host[i] > '9') return 0;
  }
  return dots == 3;
}

int nfp_endpoint_prepare(void* sock, const char* endpoint, int bind, char* out, size_t cap) {
  if (snprintf(out, cap, "%s", endpoint) >= (int)cap) {
    return nfp_error_set("endpoint is longer than %zu characters: %s", cap - 1, endpoint);
  }
  const char* host = NULL;
  size_t n = tcp_host(endpoint, &host);
  if (n && host[0] == '[') {
    int one = 1;
    if (zmq_setsockopt(sock, ZMQ_IPV6, &one, sizeof(one))) {
      return nfp_error_set("enabling IPv6 for %s: %s", endpoint, zmq_strerror(errno));
    }
  }
  if (bind && n == 9 && !strncmp(host, "localhost", 9)) {
    snprintf(out, cap, "tcp://127.0.0.1%s", host + 9);  // shorter than what fitted
  }
  return 0;
}
