// CURVE key files: one line of Z85 text; the secret one readable by its owner only.
#include "nfp/bridge.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "nfp/error.h"

static int key_text_ok(const char* s) {
  if (strlen(s) != 40) return 0;
  uint8_t bin[32];
  return zmq_z85_decode(bin, s) != NULL;
}

// Write one line atomically with the given mode (tmp file created with it, then rename).
static int write_key(const char* path, const char* key, mode_t mode) {
  char tmp[4200];
  if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp)) {
    return nfp_error_set("key path too long: %s", path);
  }
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_EXCL, mode);
  if (fd < 0) return nfp_error_set("cannot create %s: %s", tmp, strerror(errno));
  char line[NFP_KEY_TEXT + 1];
  int n = snprintf(line, sizeof(line), "%s\n", key);
  int ok = write(fd, line, (size_t)n) == n && fchmod(fd, mode) == 0 && fsync(fd) == 0;
  ok = close(fd) == 0 && ok;
  if (!ok || rename(tmp, path)) {
    int e = errno;
    unlink(tmp);
    return nfp_error_set("cannot write %s: %s", path, strerror(e));
  }
  return 0;
}

int nfp_bridge_keys_gen(const char* name) {
  if (!zmq_has("curve")) return nfp_error_set("this libzmq was built without CURVE support");
  char pub[NFP_KEY_TEXT], sec[NFP_KEY_TEXT], path[4096];
  if (zmq_curve_keypair(pub, sec)) return nfp_error_set("zmq_curve_keypair: %s", zmq_strerror(errno));
  snprintf(path, sizeof(path), "%s.key", name);
  if (write_key(path, sec, 0600)) return -1;
  snprintf(path, sizeof(path), "%s.pub", name);
  return write_key(path, pub, 0644);
}

int nfp_bridge_key_read(char out[NFP_KEY_TEXT], const char* path) {
  if (!path) return nfp_error_set("no key file given");
  FILE* f = fopen(path, "r");
  if (!f) return nfp_error_set("cannot open key file %s: %s", path, strerror(errno));
  char line[256] = "";
  char* got = fgets(line, sizeof(line), f);
  fclose(f);
  line[strcspn(line, "\r\n")] = '\0';
  if (!got || !key_text_ok(line)) {
    return nfp_error_set("%s does not hold a key (one line of 40 Z85 characters; make one "
                         "with nfp keys gen)", path);
  }
  memcpy(out, line, NFP_KEY_TEXT);
  return 0;
}

int nfp_bridge_key_public(char pub[NFP_KEY_TEXT], const char* secret) {
  if (zmq_curve_public(pub, secret)) return nfp_error_set("not a CURVE secret key");
  return 0;
}

int nfp_bridge_endpoint_is_local(const char* e) {
  if (!strncmp(e, "ipc://", 6) || !strncmp(e, "inproc://", 9)) return 1;
  if (strncmp(e, "tcp://", 6)) return 0;
  const char* host = e + 6;
  const char* colon = strrchr(host, ':');
  if (!colon) return 0;
  size_t n = (size_t)(colon - host);
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
