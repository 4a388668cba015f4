// Folder checks and atomic text output.
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nfp/atomic_file.h"
#include "nfp/error.h"

int nfp_dir_prepare(const char* dir, int* created) {
  *created = 0;
  struct stat sb;
  if (stat(dir, &sb) == 0) {
    if (!S_ISDIR(sb.st_mode)) return nfp_error_set("%s exists and is not a folder", dir);
  } else if (errno == ENOENT) {
    if (mkdir(dir, 0755)) {
      return nfp_error_set("cannot create folder %s: %s%s", dir, strerror(errno),
                           errno == ENOENT ? " (its parent folder does not exist)" : "");
    }
    *created = 1;
  } else {
    return nfp_error_set("cannot use folder %s: %s", dir, strerror(errno));
  }
  // Permission bits do not tell the truth for root or read-only mounts: try it.
  char probe[4096];
  snprintf(probe, sizeof(probe), "%s/.nfp_write_probe.%ld", dir, (long)getpid());
  int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (fd < 0) return nfp_error_set("folder %s is not writable: %s", dir, strerror(errno));
  close(fd);
  unlink(probe);
  return 0;
}

int nfp_file_check_writable(const char* path) {
  char probe[4096];
  if (snprintf(probe, sizeof(probe), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(probe)) {
    return nfp_error_set("%s: path too long", path);
  }
  int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (fd < 0) return nfp_error_set("cannot write %s: %s", path, strerror(errno));
  close(fd);
  unlink(probe);
  return 0;
}

int nfp_text_write(const char* path, const char* text) {
  return nfp_atomic_write_file(path, text, strlen(text), 0666);
}
