#include "nfp/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define NFP_ERROR_LEN 1024
static _Thread_local char error_msg[NFP_ERROR_LEN];

int nfp_error_set(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(error_msg, sizeof(error_msg), fmt, ap);
  va_end(ap);
  return -1;
}

int nfp_error_wrap(const char* fmt, ...) {
  char prefix[NFP_ERROR_LEN], old[NFP_ERROR_LEN];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof(prefix), fmt, ap);
  va_end(ap);
  memcpy(old, error_msg, sizeof(old));
  // Copy by hand: snprintf("%s: %s") trips -Wformat-truncation at -O2.
  size_t n = strlen(prefix), m = strlen(old);
  if (n > NFP_ERROR_LEN - 3) n = NFP_ERROR_LEN - 3;
  if (m > NFP_ERROR_LEN - 3 - n) m = NFP_ERROR_LEN - 3 - n;
  memcpy(error_msg, prefix, n);
  memcpy(error_msg + n, ": ", 2);
  memcpy(error_msg + n + 2, old, m);
  error_msg[n + 2 + m] = '\0';
  return -1;
}

const char* nfp_error_last(void) { return error_msg; }

void nfp_error_clear(void) { error_msg[0] = '\0'; }
