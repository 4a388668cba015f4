// nfp bench --bridge: round-trip latency of the arm bridge over loopback.
#ifndef NFP_APP_BENCH_BRIDGE_H
#define NFP_APP_BENCH_BRIDGE_H

// Parses its own flags (argv[0] is the verb). Returns the exit code.
int nfp_bench_bridge(int argc, char** argv);

#endif
