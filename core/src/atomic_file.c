// Atomic output files: PATH.tmp.PID.N beside PATH, fsync, rename (see nfp/atomic_file.h).
#include "nfp/atomic_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nfp/error.h"

static atomic_uint tmp_counter;

// Split path into its folder ("." when none) and its last component.
static int split_path(const char* path, char* dir, size_t cap, const char** base) {
  const char* slash = strrchr(path, '/');
  *base = slash ? slash + 1 : path;
  if (!slash) return snprintf(dir, cap, ".") < (int)cap ? 0 : -1;
  size_t n = slash == path ? 1 : (size_t)(slash - path);
  if (n >= cap) return -1;
  memcpy(dir, path, n);
  dir[n] = '\0';
  return 0;
}

// The pid in "BASE.tmp.PID.N" (name already known to start with BASE.tmp.), or -1.
static long stale_pid(const char* rest) {
  char* end;
  errno = 0;
  long pid = strtol(rest, &end, 10);
  if (errno || end == rest || *end != '.' || pid <= 0) return -1;
  const char* n = end + 1;
  if (!*n) return -1;
  for (; *n; n++) {
    if (*n < '0' || *n > '9') return -1;
  }
  return pid;
}

int nfp_atomic_clean_stale(const char* path) {
  char dir[NFP_PATH_MAX], prefix[NFP_PATH_MAX + 8], victim[2 * NFP_PATH_MAX];
  const char* base;
  if (split_path(path, dir, sizeof(dir), &base) || !*base) return 0;
  int plen = snprintf(prefix, sizeof(prefix), "%s.tmp.", base);
  if (plen >= (int)sizeof(prefix)) return 0;
  DIR* dp = opendir(dir);
  if (!dp) return 0;
  int removed = 0;
  struct dirent* e;
  while ((e = readdir(dp))) {
    if (strncmp(e->d_name, prefix, (size_t)plen)) continue;
    long pid = stale_pid(e->d_name + plen);
    if (pid < 0 || pid == (long)getpid()) continue;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;  // alive, or not ours to judge
    if (snprintf(victim, sizeof(victim), "%s/%s", dir, e->d_name) >= (int)sizeof(victim)) continue;
    if (unlink(victim) == 0) removed++;
  }
  closedir(dp);
  return removed;
}

int nfp_atomic_begin(nfp_atomic_file* f, const char* path, mode_t mode) {
  memset(f, 0, sizeof(*f));
  f->fd = -1;
  if (strlen(path) >= sizeof(f->path)) return nfp_error_set("writing %s: path too long", path);
  snprintf(f->path, sizeof(f->path), "%s", path);
  nfp_atomic_clean_stale(path);
  for (int tries = 0; tries < 100; tries++) {
    unsigned n = atomic_fetch_add(&tmp_counter, 1);
    snprintf(f->tmp, sizeof(f->tmp), "%s.tmp.%ld.%u", path, (long)getpid(), n);
    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (f->fd >= 0) break;
    if (errno != EEXIST) {
      int e = errno;
      return nfp_error_set("cannot create %s: %s (is the folder writable?)", f->tmp, strerror(e));
    }
  }
  if (f->fd < 0) return nfp_error_set("cannot create a temporary file for %s", path);
  if (mode == 0600 && fchmod(f->fd, 0600) != 0) {
    int e = errno;
    nfp_atomic_abort(f);
    return nfp_error_set("cannot restrict %s to its owner: %s", path, strerror(e));
  }
  return 0;
}

int nfp_atomic_write(nfp_atomic_file* f, const void* buf, size_t n) {
  const unsigned char* p = buf;
  while (n > 0) {
    ssize_t w = write(f->fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      return nfp_error_set("writing %s: %s", f->path, w < 0 ? strerror(errno) : "disk full?");
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

FILE* nfp_atomic_stream(nfp_atomic_file* f) {
  if (f->stream) return f->stream;
  f->stream = fdopen(f->fd, "wb");
  if (!f->stream) nfp_error_set("writing %s: %s", f->path, strerror(errno));
  return f->stream;
}

// Close whichever handle is open; -1 with errno when the last buffered bytes failed.
static int close_handles(nfp_atomic_file* f) {
  int rc = 0;
  if (f->stream) {
    rc = fclose(f->stream);
  } else if (f->fd >= 0) {
    rc = close(f->fd);
  }
  f->stream = NULL;
  f->fd = -1;
  return rc;
}

int nfp_atomic_commit(nfp_atomic_file* f) {
  if (f->fd < 0) return nfp_error_set("writing %s: the file was not opened", f->path);
  int rc = 0, e = 0;
  if (f->stream && fflush(f->stream) != 0) rc = -1, e = errno;
  if (rc == 0 && fsync(f->fd) != 0) rc = -1, e = errno;
  if (close_handles(f) != 0 && rc == 0) rc = -1, e = errno;
  if (rc == 0 && rename(f->tmp, f->path) != 0) rc = -1, e = errno;
  if (rc != 0) {
    unlink(f->tmp);
    return nfp_error_set("writing %s: %s", f->path, strerror(e));
  }
  return 0;
}

void nfp_atomic_abort(nfp_atomic_file* f) {
  int had = f->fd >= 0;
  close_handles(f);
  if (had) unlink(f->tmp);
}

int nfp_atomic_write_file(const char* path, const void* data, size_t n, mode_t mode) {
  nfp_atomic_file f;
  if (nfp_atomic_begin(&f, path, mode)) return -1;
  if (nfp_atomic_write(&f, data, n)) {
    nfp_atomic_abort(&f);
    return -1;
  }
  return nfp_atomic_commit(&f);
}
