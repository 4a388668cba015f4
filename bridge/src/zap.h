// ZAP handler (ZeroMQ RFC 27): without one, a CURVE server accepts any client key. This
// one answers 200 only for public keys on the allow-list, 400 for everything else.
#ifndef NFP_BRIDGE_ZAP_H
#define NFP_BRIDGE_ZAP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define NFP_ZAP_MAX_KEYS 256

typedef struct {
  void* sock;                 // ZMQ_REP bound to inproc://zeromq.zap.01
  pthread_t thread;
  int running;
  atomic_int stop;
  int n_allow;
  uint8_t allow[NFP_ZAP_MAX_KEYS][32];
  atomic_ulong refused;        // connections turned away
  int verbose;
} nfp_zap;

// Read the allow-list file (one Z85 public key per line, blank lines and '# ...' comment
// lines allowed) and
// start answering on ctx. Must run before the server socket binds. 0 or -1 (error set).
int nfp_zap_start(nfp_zap* z, void* ctx, const char* allow_path, int verbose);
void nfp_zap_stop(nfp_zap* z);

#endif
