// nfp_atomic_file: an output file that appears whole or not at all.
//
// Everything nfp writes (checkpoints, episodes, keys, reports, pictures) goes to a
// temporary file beside the target, named PATH.tmp.PID.N, and is renamed over PATH only
// once it is complete and on disk. A process killed half-way leaves its temporary
// behind; the next write of the same PATH removes the temporaries of processes that no
// longer run, so they do not pile up.
#ifndef NFP_ATOMIC_FILE_H
#define NFP_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NFP_PATH_MAX 4096

typedef struct nfp_atomic_file_ {
  char path[NFP_PATH_MAX];      // where the file will appear
  char tmp[NFP_PATH_MAX + 48];  // where it is written until then
  int fd;                       // open on tmp, or -1
  FILE* stream;                 // set by nfp_atomic_stream, or NULL
} nfp_atomic_file;

// Create the temporary for path with permission bits mode (before the umask; the
// umask is honoured, except that 0600 stays exactly 0600 for secrets). 0 or -1.
int nfp_atomic_begin(nfp_atomic_file* f, const char* path, mode_t mode);

// Append n bytes (retries short writes). 0 or -1; on -1 the caller aborts.
int nfp_atomic_write(nfp_atomic_file* f, const void* buf, size_t n);

// A stdio stream on the temporary for libraries that write to FILE* (libpng, fprintf).
// Owned by f: commit or abort closes it. NULL on failure (error set).
FILE* nfp_atomic_stream(nfp_atomic_file* f);

// Flush to disk, close and rename into place; on any failure the temporary is removed
// and path keeps what it held before. 0 or -1.
int nfp_atomic_commit(nfp_atomic_file* f);

// Close and remove the temporary; path is untouched. Safe to call twice.
void nfp_atomic_abort(nfp_atomic_file* f);

// Whole file in one call: begin, write n bytes, commit. 0 or -1.
int nfp_atomic_write_file(const char* path, const void* data, size_t n, mode_t mode);

// Remove PATH.tmp.PID.N files left by processes that no longer run. Returns how many.
int nfp_atomic_clean_stale(const char* path);

#ifdef __cplusplus
}
#endif
#endif
