// The flags that reach an arm server (run, eval, arms status/estop, bench --bridge).
#ifndef NFP_APP_BRIDGE_FLAGS_H
#define NFP_APP_BRIDGE_FLAGS_H

#include "args.h"
#include "nfp/bridge.h"

typedef struct {
  const char* endpoint;  // --arms
  nfp_bridge_client_opts client;
} nfp_bridge_flags;

#define NFP_BRIDGE_NARGS 6

void nfp_bridge_flags_default(nfp_bridge_flags* f);
// Fill args[0..NFP_BRIDGE_NARGS) pointing into f.
void nfp_bridge_flags_args(nfp_arg* args, nfp_bridge_flags* f);
// --arms given without keys and without --insecure, or --jpeg without --arms: say what is
// wrong. 0 or -1.
int nfp_bridge_flags_check(const nfp_bridge_flags* f);
// Connect to the arm server of f->endpoint; a simulator there must serve `task` (a hardware
// rig is taken as it is). NULL with a message.
nfp_arms* nfp_bridge_flags_connect(const nfp_bridge_flags* f, const char* task);

#endif
