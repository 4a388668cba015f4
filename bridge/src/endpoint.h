// Endpoints inside the bridge: libzmq takes a bind host for an interface name and
// speaks IPv6 only when asked, so the loopback names need a little help.
#ifndef NFP_BRIDGE_ENDPOINT_H
#define NFP_BRIDGE_ENDPOINT_H

#include <stddef.h>

// Ready sock for endpoint and write the endpoint to hand libzmq into out: IPv6 on for a
// bracketed tcp host ("tcp://[::1]:5555"), and for a bind (bind = 1) "localhost" as
// 127.0.0.1. Anything else passes unchanged. 0 or -1 (error set).
int nfp_endpoint_prepare(void* sock, const char* endpoint, int bind, char* out, size_t cap);

#endif
