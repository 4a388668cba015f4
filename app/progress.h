// Live progress of a batch of seeded work (eval trials, collect episodes) on stderr: on a
// terminal one line redrawn in place at most 4 times a second, with the control steps of
// the items in flight; otherwise a plain line at every 10 % of the batch and every 10 s.
// Items are counted from any thread; --verbose lines go to stdout through
// progress_printf, which keeps them clear of the terminal line.
#ifndef NFP_APP_PROGRESS_H
#define NFP_APP_PROGRESS_H

#include <pthread.h>
#include <stdatomic.h>

#define PROGRESS_SLOTS 64         // workers whose steps in flight are shown
#define PROGRESS_TTY_MS 250       // terminal redraw period
#define PROGRESS_PLAIN_MS 10000   // plain line period (besides every 10 %)

typedef struct {
  const char* label;    // "lift_pot/sbs": what runs
  const char* unit;     // "trials": what total counts
  const char* good;     // "successes": items that count, shown with their share; or NULL
  const char* skipped;  // "seeds skipped": a count beside, or NULL
  int total;            // items to finish
  int silent;           // count, show nothing (an MPI rank other than 0: rank 0 speaks)
} progress_spec;

typedef struct {
  progress_spec s;
  int tty;                            // stderr is a terminal: redraw in place
  pthread_mutex_t lock;               // counters and drawing
  int done, good, skipped, tenth;     // tenth: last 10 % step reported (plain)
  double t0;                          // start, nfp_clock_seconds
  int drawn;                          // characters of the terminal line on screen
  atomic_llong due_ms;                // next redraw or periodic line (ms since t0)
  atomic_int steps[PROGRESS_SLOTS];   // steps of each worker's item in flight, -1 idle
} progress;

// spec -> p, clock started, nothing shown yet. The terminal test is on stderr.
void progress_start(progress* p, const progress_spec* spec);
// An item of worker `slot` has taken `steps` control steps so far (-1: none in flight);
// shows the line when due. Lock-free unless a line is due.
void progress_steps(progress* p, int slot, int steps);
// An item finished: done += 1 (when `counts`), good += good, skipped += skipped; the line
// when due (terminal) or at a new 10 % (plain).
void progress_item(progress* p, int counts, int good, int skipped);
// printf to stdout (flushed) with the terminal line cleared first and redrawn after.
void progress_printf(progress* p, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
// The batch is over: the terminal line is cleared (the caller prints the result).
void progress_finish(progress* p);

#endif
