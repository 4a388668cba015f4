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
  snprintf(error_msg, sizeof(error_msg), "%s: %s", prefix, old);
  return -1;
}

const char* nfp_error_last(void) { return error_msg; }

void nfp_error_clear(void) { error_msg[0] = '\0'; }
