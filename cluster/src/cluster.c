// The job's processes: MPI when a launcher started us (and nfp was built with it), else
// this process alone. Every collective times itself for the communication share.
#include "nfp/cluster.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nfp/clock.h"
#include "nfp/error.h"

#ifdef NFP_HAVE_MPI
#include <mpi.h>
#endif

static nfp_cluster world = {.rank = 0, .size = 1, .mpi = 0};
static double comm_seconds;

int nfp_cluster_built_with_mpi(void) {
#ifdef NFP_HAVE_MPI
  return 1;
#else
  return 0;
#endif
}

// The process count an MPI launcher announced in the environment (1 when none did):
// Open MPI's mpirun, MPICH's Hydra and Slurm's srun --mpi=pmi2/pmix.
static int launcher_size(void) {
  static const char* vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"};
  for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
    const char* v = getenv(vars[i]);
    if (v && atoi(v) > 0) return atoi(v);
  }
  return 1;
}

const nfp_cluster* nfp_cluster_world(void) { return &world; }

#ifdef NFP_HAVE_MPI

// Did a launcher start this process at all (even as a group of one)?
static int launched(void) {
  return launcher_size() > 1 || getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_RANK") ||
         getenv("PMIX_RANK");
}

int nfp_cluster_init(void) {
  if (!launched()) return 0;  // alone: no MPI at all
  int provided = 0;
  // Worker threads (eval --jobs, the trainer's update) never call MPI: FUNNELED suffices.
  if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    return nfp_error_set("MPI_Init failed");
  }
  // A failing collective is then reported here, not by MPI aborting the job silently.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &world.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world.size);
  world.mpi = 1;
  return 0;
}

void nfp_cluster_finalize(void) {
  if (world.mpi) MPI_Finalize();
  world.mpi = 0;
}

void nfp_cluster_abort(int code) {
  if (world.mpi && world.size > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

// An MPI return code -> 0, or -1 with MPI's own words for what went wrong.
static int check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return 0;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  return nfp_error_set("%s across %d processes failed: %s", what, world.size, msg);
}

// MPI counts are ints: big buffers go in pieces.
enum { CHUNK = 1 << 28 };

static int sum(void* buf, size_t n, size_t elem, MPI_Datatype type, const char* what) {
  if (!world.mpi || world.size == 1) return 0;
  double t0 = nfp_clock_seconds();
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i += CHUNK) {
    int k = (int)(n - i < CHUNK ? n - i : CHUNK);
    rc = check(MPI_Allreduce(MPI_IN_PLACE, (char*)buf + i * elem, k, type, MPI_SUM,
                             MPI_COMM_WORLD), what);
  }
  comm_seconds += nfp_clock_seconds() - t0;
  return rc;
}

int nfp_cluster_sum_float(float* buf, size_t n) {
  return sum(buf, n, sizeof(float), MPI_FLOAT, "summing gradients");
}

int nfp_cluster_sum_double(double* buf, size_t n) {
  return sum(buf, n, sizeof(double), MPI_DOUBLE, "summing");
}

// Each rank's share of a vector of n: counts[0..size) then displs[0..size) (ints, as MPI
// wants them), malloc'd; NULL with a message.
static int* share_layout(size_t n) {
  if (n > (size_t)INT32_MAX) {
    nfp_error_set("a vector of %zu values is too long", n);
    return NULL;
  }
  int* counts = malloc(sizeof(int) * 2 * (size_t)world.size);
  if (!counts) {
    nfp_error_set("out of memory");
    return NULL;
  }
  for (int r = 0; r < world.size; r++) {
    counts[world.size + r] = (int)(n * (size_t)r / (size_t)world.size);
    counts[r] = (int)(n * (size_t)(r + 1) / (size_t)world.size) - counts[world.size + r];
  }
  return counts;
}

int nfp_cluster_sum_scatter_float(float* buf, size_t n) {
  if (!world.mpi || world.size == 1) return 0;
  int* counts = share_layout(n);
  if (!counts) return -1;
  int* displs = counts + world.size;
  double t0 = nfp_clock_seconds();
  // In place, MPI leaves this rank's sums at the start of buf: move them to their share.
  int rc = check(MPI_Reduce_scatter(MPI_IN_PLACE, buf, counts, MPI_FLOAT, MPI_SUM,
                                    MPI_COMM_WORLD), "summing gradients");
  int mine = world.rank;
  if (rc == 0) memmove(buf + displs[mine], buf, sizeof(float) * (size_t)counts[mine]);
  comm_seconds += nfp_clock_seconds() - t0;
  free(counts);
  return rc;
}

int nfp_cluster_gather_float(float* buf, size_t n) {
  if (!world.mpi || world.size == 1) return 0;
  int* counts = share_layout(n);
  if (!counts) return -1;
  double t0 = nfp_clock_seconds();
  int rc = check(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, counts,
                                counts + world.size, MPI_FLOAT, MPI_COMM_WORLD),
                 "gathering weights");
  comm_seconds += nfp_clock_seconds() - t0;
  free(counts);
  return rc;
}

int nfp_cluster_max_int(int* flag) {
  if (!world.mpi || world.size == 1) return 0;
  double t0 = nfp_clock_seconds();
  int rc = check(MPI_Allreduce(MPI_IN_PLACE, flag, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD),
                 "agreeing on a flag");
  comm_seconds += nfp_clock_seconds() - t0;
  return rc;
}

// Rank r's byte count -> every rank's (MPI_Allgather of one 64-bit count each).
static int gather_counts(size_t n, uint64_t* counts) {
  uint64_t mine = n;
  return check(MPI_Allgather(&mine, 1, MPI_UINT64_T, counts, 1, MPI_UINT64_T, MPI_COMM_WORLD),
               "gathering sizes");
}

// The concatenated bytes, rank by rank (a broadcast each: sizes may exceed an int's range
// in total, never per rank in practice; checked).
static int gather_bytes(const void* mine, char* all, const size_t* off) {
  for (int r = 0; r < world.size; r++) {
    size_t n = off[r + 1] - off[r];
    if (n > (size_t)INT32_MAX) return nfp_error_set("rank %d's share is over 2 GiB", r);
    if (r == world.rank && n) memcpy(all + off[r], mine, n);
    if (n && check(MPI_Bcast(all + off[r], (int)n, MPI_BYTE, r, MPI_COMM_WORLD),
                   "gathering results") != 0) {
      return -1;
    }
  }
  return 0;
}

int nfp_cluster_allgather(const void* mine, size_t n, void** all, size_t** off) {
  *all = NULL;
  *off = calloc((size_t)world.size + 1, sizeof(size_t));
  uint64_t* counts = calloc((size_t)world.size, sizeof(uint64_t));
  int rc = *off && counts ? 0 : nfp_error_set("out of memory");
  double t0 = nfp_clock_seconds();
  if (rc == 0 && world.mpi && world.size > 1) rc = gather_counts(n, counts);
  else if (rc == 0) counts[0] = n;
  for (int r = 0; rc == 0 && r < world.size; r++) (*off)[r + 1] = (*off)[r] + counts[r];
  if (rc == 0) {
    *all = malloc((*off)[world.size] ? (*off)[world.size] : 1);
    if (!*all) rc = nfp_error_set("out of memory gathering results");
  }
  if (rc == 0 && world.mpi && world.size > 1) rc = gather_bytes(mine, *all, *off);
  else if (rc == 0 && n) memcpy(*all, mine, n);
  comm_seconds += nfp_clock_seconds() - t0;
  free(counts);
  if (rc != 0) {
    free(*all);
    free(*off);
    *all = NULL;
    *off = NULL;
  }
  return rc;
}

#else  // built without MPI: a group of one

int nfp_cluster_init(void) {
  if (launcher_size() > 1) {
    return nfp_error_set("started as one of %d MPI processes, but this nfp was built without "
                         "MPI: install libopenmpi-dev (scripts/install_deps.sh) and rebuild",
                         launcher_size());
  }
  return 0;
}

void nfp_cluster_finalize(void) {}
void nfp_cluster_abort(int code) { (void)code; }
int nfp_cluster_sum_float(float* buf, size_t n) { (void)buf, (void)n; return 0; }
int nfp_cluster_sum_double(double* buf, size_t n) { (void)buf, (void)n; return 0; }
int nfp_cluster_max_int(int* flag) { (void)flag; return 0; }
int nfp_cluster_sum_scatter_float(float* buf, size_t n) { (void)buf, (void)n; return 0; }
int nfp_cluster_gather_float(float* buf, size_t n) { (void)buf, (void)n; return 0; }

int nfp_cluster_allgather(const void* mine, size_t n, void** all, size_t** off) {
  *off = calloc(2, sizeof(size_t));
  *all = malloc(n ? n : 1);
  if (!*off || !*all) {
    free(*off), free(*all);
    *off = NULL, *all = NULL;
    return nfp_error_set("out of memory");
  }
  (*off)[1] = n;
  if (n) memcpy(*all, mine, n);
  return 0;
}

#endif

void nfp_cluster_shard(int n, int* lo, int* hi) {
  *lo = (int)((long long)n * world.rank / world.size);
  *hi = (int)((long long)n * (world.rank + 1) / world.size);
}

double nfp_cluster_comm_seconds(void) { return comm_seconds; }
