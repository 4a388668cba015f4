// CURVE key files: one line of Z85 text; the secret one readable by its owner only.
#include "nfp/bridge.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "nfp/atomic_file.h"
#include "nfp/error.h"

static int key_text_ok(const char* s) {
  if (strlen(s) != 40) return 0;
  uint8_t bin[32];
  return zmq_z85_decode(bin, s) != NULL;
}

// One line, written atomically with the given mode (0600 stays 0600 whatever the umask).
static int write_key(const char* path, const char* key, mode_t mode) {
  char line[NFP_KEY_TEXT + 1];
  int n = snprintf(line, sizeof(line), "%s\n", key);
  return nfp_atomic_write_file(path, line, (size_t)n, mode);
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

// Does s end in tail?
static int ends_with(const char* s, const char* tail) {
  size_t n = strlen(s), k = strlen(tail);
  return n >= k && !strcmp(s + n - k, tail);
}

// Read one line of 40 Z85 characters from an open key file into out. 0 or -1.
static int read_key_line(char out[NFP_KEY_TEXT], FILE* f, const char* path) {
  char line[256] = "";
  char* got = fgets(line, sizeof(line), f);
  line[strcspn(line, "\r\n")] = '\0';
  if (!got || !key_text_ok(line)) {
    return nfp_error_set("%s does not hold a key (one line of 40 Z85 characters; make one "
                         "with nfp keys gen)", path);
  }
  memcpy(out, line, NFP_KEY_TEXT);
  return 0;
}

// Refuse a secret key file that anyone but its owner may read or write (like ssh).
static int check_private(FILE* f, const char* path) {
  struct stat st;
  if (fstat(fileno(f), &st)) {
    return nfp_error_set("cannot stat key file %s: %s", path, strerror(errno));
  }
  if (st.st_mode & 077) {
    return nfp_error_set("permissions %04o on secret key %s are too open: others could read it "
                         "and pose as this machine (chmod 600 %s)",
                         (unsigned)(st.st_mode & 0777), path, path);
  }
  return 0;
}

int nfp_bridge_key_read_secret(char out[NFP_KEY_TEXT], const char* path) {
  if (!path) return nfp_error_set("no secret key file given");
  if (ends_with(path, ".pub")) {
    return nfp_error_set("%s is a public key; this needs the secret one (NAME.key from nfp "
                         "keys gen)", path);
  }
  FILE* f = fopen(path, "r");
  if (!f) return nfp_error_set("cannot open key file %s: %s", path, strerror(errno));
  int rc = check_private(f, path) || read_key_line(out, f, path) ? -1 : 0;
  fclose(f);
  return rc;
}

int nfp_bridge_key_read_public(char out[NFP_KEY_TEXT], const char* path) {
  if (!path) return nfp_error_set("no public key file given");
  if (ends_with(path, ".key")) {
    return nfp_error_set("%s looks like a secret key; this needs the public one (NAME.pub "
                         "from nfp keys gen; a secret key never leaves its machine)", path);
  }
  FILE* f = fopen(path, "r");
  if (!f) return nfp_error_set("cannot open key file %s: %s", path, strerror(errno));
  int rc = read_key_line(out, f, path);
  fclose(f);
  return rc;
}

int nfp_bridge_key_public(char pub[NFP_KEY_TEXT], const char* secret) {
  if (zmq_curve_public(pub, secret)) return nfp_error_set("not a CURVE secret key");
  return 0;
}
