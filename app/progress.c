// Live progress lines on stderr (see progress.h).
#include "progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "nfp/clock.h"

#define PROGRESS_SHOWN 4  // steps in flight listed, the rest counted

// Milliseconds since the batch started.
static long long progress_ms(const progress* p) {
  return (long long)(1e3 * (nfp_clock_seconds() - p->t0));
}

// printf-append to buf[*n..cap), *n kept within the buffer.
static void progress_append(char* buf, size_t cap, size_t* n, const char* fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void progress_append(char* buf, size_t cap, size_t* n, const char* fmt, ...) {
  if (*n + 1 >= cap) return;
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(buf + *n, cap - *n, fmt, ap);
  va_end(ap);
  if (k > 0) *n = *n + (size_t)k < cap ? *n + (size_t)k : cap - 1;
}

// Seconds -> "4.2 s", "3 min 05 s" or "2 h 07 min", appended to buf.
static void progress_duration(char* buf, size_t cap, size_t* n, double s) {
  long t = (long)s;
  if (s < 60) {
    progress_append(buf, cap, n, "%.1f s", s);
  } else if (s < 3600) {
    progress_append(buf, cap, n, "%ld min %02ld s", t / 60, t % 60);
  } else {
    progress_append(buf, cap, n, "%ld h %02ld min", t / 3600, t % 3600 / 60);
  }
}

// The steps of the items in flight -> "; in flight: 57, 120 (+3 more) steps", brief
// ", steps 57 120 +3" (nothing when none is).
static void progress_in_flight(const progress* p, char* buf, size_t cap, size_t* n,
                               int brief) {
  int shown = 0, more = 0;
  for (int i = 0; i < PROGRESS_SLOTS; i++) {
    int s = atomic_load_explicit(&p->steps[i], memory_order_relaxed);
    if (s < 0) continue;
    if (shown < PROGRESS_SHOWN) {
      const char* sep = brief ? (shown ? " " : ", steps ") : (shown ? ", " : "; in flight: ");
      progress_append(buf, cap, n, "%s%d", sep, s);
      shown++;
    } else {
      more++;
    }
  }
  if (more) progress_append(buf, cap, n, brief ? " +%d" : " (+%d more)", more);
  if (shown && !brief) progress_append(buf, cap, n, " steps");
}

// The counters -> "lift_pot/sbs 3/4 trials, successes 2 (66.7 %), 4.2 s, ETA 1.4 s; in
// flight: 57 steps" in buf, or brief (for a narrow terminal) "lift_pot/sbs 3/4, 2 ok,
// ETA 1.4 s, steps 57"; its length.
static size_t progress_compose(const progress* p, char* buf, size_t cap, double elapsed,
                               int brief) {
  const progress_spec* s = &p->s;
  size_t n = 0;
  buf[0] = '\0';
  progress_append(buf, cap, &n, "%s %d/%d", s->label, p->done, s->total);
  if (!brief) progress_append(buf, cap, &n, " %s", s->unit);
  if (s->good && brief) {
    progress_append(buf, cap, &n, ", %d ok", p->good);
  } else if (s->good) {
    progress_append(buf, cap, &n, ", %s %d", s->good, p->good);
    if (p->done) progress_append(buf, cap, &n, " (%.1f %%)", 100.0 * p->good / p->done);
  }
  if (s->skipped && brief) {
    progress_append(buf, cap, &n, ", %d skipped", p->skipped);
  } else if (s->skipped) {
    progress_append(buf, cap, &n, ", %s %d", s->skipped, p->skipped);
  }
  if (!brief) {
    progress_append(buf, cap, &n, ", ");
    progress_duration(buf, cap, &n, elapsed);
  }
  if (p->done > 0 && p->done < s->total) {
    progress_append(buf, cap, &n, ", ETA ");
    progress_duration(buf, cap, &n, elapsed / p->done * (s->total - p->done));
  }
  progress_in_flight(p, buf, cap, &n, brief);
  return n;
}

// Columns of the terminal on stderr (80 when it does not say).
static size_t progress_width(void) {
  struct winsize ws;
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1) return ws.ws_col;
  return 80;
}

// The line -> stderr: over the last one on a terminal (brief, then cut, when wider than
// it: a line that wraps cannot be redrawn), else as a plain line. Under the lock;
// schedules the next one.
static void progress_draw(progress* p, long long now_ms) {
  atomic_store(&p->due_ms, now_ms + (p->tty ? PROGRESS_TTY_MS : PROGRESS_PLAIN_MS));
  if (p->s.silent) return;
  char line[1024];
  double elapsed = 1e-3 * (double)now_ms;
  size_t n = progress_compose(p, line, sizeof(line), elapsed, 0);
  if (p->tty) {
    size_t width = progress_width() - 1;
    if (n > width) n = progress_compose(p, line, sizeof(line), elapsed, 1);
    if (n > width) line[n = width] = '\0';
    int pad = p->drawn > (int)n ? p->drawn - (int)n : 0;
    fprintf(stderr, "\r%s%*s", line, pad, "");
    p->drawn = (int)n + pad;
  } else {
    fprintf(stderr, "%s\n", line);
  }
  fflush(stderr);
}

// Terminal line -> blanks, cursor back at its start. Under the lock.
static void progress_clear(progress* p) {
  if (!p->tty || !p->drawn) return;
  fprintf(stderr, "\r%*s\r", p->drawn, "");
  fflush(stderr);
  p->drawn = 0;
}

void progress_start(progress* p, const progress_spec* spec) {
  memset(p, 0, sizeof(*p));
  p->s = *spec;
  p->tty = isatty(STDERR_FILENO);
  pthread_mutex_init(&p->lock, NULL);
  p->t0 = nfp_clock_seconds();
  atomic_init(&p->due_ms, p->tty ? PROGRESS_TTY_MS : PROGRESS_PLAIN_MS);
  for (int i = 0; i < PROGRESS_SLOTS; i++) atomic_init(&p->steps[i], -1);
}

void progress_steps(progress* p, int slot, int steps) {
  if (slot >= 0 && slot < PROGRESS_SLOTS) {
    atomic_store_explicit(&p->steps[slot], steps, memory_order_relaxed);
  }
  if (progress_ms(p) < atomic_load(&p->due_ms)) return;
  if (pthread_mutex_trylock(&p->lock)) return;  // another worker is drawing
  long long now = progress_ms(p);
  if (now >= atomic_load(&p->due_ms)) progress_draw(p, now);
  pthread_mutex_unlock(&p->lock);
}

void progress_item(progress* p, int counts, int good, int skipped) {
  pthread_mutex_lock(&p->lock);
  p->done += counts != 0;
  p->good += good;
  p->skipped += skipped;
  long long now = progress_ms(p);
  int tenth = p->s.total > 0 ? 10 * p->done / p->s.total : 10;
  if (!p->tty && tenth > p->tenth) {
    progress_draw(p, now);
  } else if (now >= atomic_load(&p->due_ms)) {
    progress_draw(p, now);
  }
  if (tenth > p->tenth) p->tenth = tenth;
  pthread_mutex_unlock(&p->lock);
}

void progress_printf(progress* p, const char* fmt, ...) {
  pthread_mutex_lock(&p->lock);
  int was_drawn = p->drawn;
  progress_clear(p);
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  fflush(stdout);
  if (was_drawn) progress_draw(p, progress_ms(p));
  pthread_mutex_unlock(&p->lock);
}

void progress_finish(progress* p) {
  pthread_mutex_lock(&p->lock);
  progress_clear(p);
  pthread_mutex_unlock(&p->lock);
  pthread_mutex_destroy(&p->lock);
}
