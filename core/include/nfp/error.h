// nfp error path: every module reports failure the same way.
// A failing function records a message a user can act on with nfp_error_set()
// and returns -1 (or NULL); the caller reads it with nfp_error_last().
#ifndef NFP_ERROR_H
#define NFP_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

// Record a printf-style message for this thread; always returns -1.
int nfp_error_set(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// Prefix the current message with more context ("loading x: <old message>"); returns -1.
int nfp_error_wrap(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// The last message recorded on this thread ("" if none).
const char* nfp_error_last(void);

void nfp_error_clear(void);

#ifdef __cplusplus
}
#endif
#endif
