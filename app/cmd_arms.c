// nfp arms: serve a rig over the bridge (the simulator or a hardware driver), and
// query or emergency-stop a running arm server.
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "bridge_flags.h"
#include "commands.h"
#include "nfp/arms_sim.h"
#include "nfp/bridge.h"
#include "nfp/driver.h"
#include "nfp/error.h"
#include "nfp/tasks.h"

static nfp_bridge_server* serving;

static void on_signal(int sig) {
  (void)sig;
  if (serving) nfp_bridge_server_stop(serving);
}

// Interface slot names of the simulated rig (left arm slots 0..6, right 7..13).
static void sim_joint_names(char (*names)[32]) {
  for (int arm = 0; arm < 2; arm++) {
    const char* side = arm == NFP_LEFT ? "left" : "right";
    for (int j = 0; j < NFP_ARM_DOF; j++) snprintf(names[arm * 7 + j], 32, "%s_j%d", side, j + 1);
    snprintf(names[arm * 7 + NFP_ARM_DOF], 32, "%s_gripper", side);
  }
}

static const char* serve_about =
    "Serves a rig over the nfp bridge (bridge/PROTOCOL.md): the simulated task (--sim) or a\n"
    "hardware driver (--driver). Lock-step by default: the rig advances only when the\n"
    "client sends a step, so evaluations through the bridge are reproducible. --realtime\n"
    "steps on the rig's clock; the newest command wins. Whatever the client sends, the\n"
    "server clamps targets to the joint limits and to within --max-vel of the measured\n"
    "joint positions, holds position when no valid command arrives for --watchdog-ms\n"
    "(real-time; by default one control period), stops when the controlling client is\n"
    "silent for --heartbeat-ms (real-time), and latches an emergency stop until the next\n"
    "reset. Connections are CURVE-encrypted; only keys in --allow get in.\n"
    "Plain TCP needs --insecure and a loopback --bind.";

typedef struct {
  const char *task, *assets, *driver, *driver_config;
  int sim, quiet;
  nfp_bridge_server_opts o;
} serve_opts;

// argv -> serve_opts, checked. 0, 1 (help shown) or 2 (bad flags, reported).
static int serve_parse(serve_opts* so, int argc, char** argv) {
  *so = (serve_opts){.task = "lift_pot"};
  nfp_bridge_server_opts* o = &so->o;
  nfp_bridge_server_opts_default(o);
  nfp_arg args[] = {
      {"--sim", NFP_ARG_FLAG, &so->sim, NULL, "serve the simulated rig of --task", 0, 0, 0},
      {"--task", NFP_ARG_STR, &so->task, "NAME", "task of the simulated rig", 0, 0, 0},
      {"--assets", NFP_ARG_STR, &so->assets, "DIR",
       "asset folder (default $NFP_ASSETS, else built in)", 0, 0, 0},
      {"--driver", NFP_ARG_STR, &so->driver, "NAME", "serve a hardware driver (built in: replay)",
       0, 0, 0},
      {"--driver-config", NFP_ARG_STR, &so->driver_config, "ARG",
       "the driver's configuration (replay: an episode .hdf5)", 0, 0, 0},
      {"--bind", NFP_ARG_STR, &o->bind, "ENDPOINT", "where to listen (port * picks a free one)", 0,
       0, 0},
      {"--realtime", NFP_ARG_FLAG, &o->realtime, NULL,
       "step on the rig's clock instead of lock-step", 0, 0, 0},
      {"--key", NFP_ARG_STR, &o->server_key, "FILE", "the server's secret key (nfp keys gen)", 0,
       0, 0},
      {"--allow", NFP_ARG_STR, &o->allow, "FILE", "allowed client public keys, one per line", 0, 0,
       0},
      {"--insecure", NFP_ARG_FLAG, &o->insecure, NULL,
       "plain TCP, no authentication (loopback --bind only)", 0, 0, 0},
      {"--max-vel", NFP_ARG_DOUBLE, &o->safety.max_vel, "RAD/S",
       "largest joint target change per second (0 = off)", 0, 1e6, 0},
      {"--watchdog-ms", NFP_ARG_INT, &o->safety.watchdog_ms, "MS",
       "real-time: hold position after this long without a valid command (0 = one control "
       "period)", 0, 600000, 0},
      {"--heartbeat-ms", NFP_ARG_INT, &o->safety.heartbeat_ms, "MS",
       "real-time: stop the rig after this long without a message from the client", 1, 600000,
       0},
      {"--quiet", NFP_ARG_FLAG, &so->quiet, NULL, "do not log sessions and safety events", 0, 0,
       0},
  };
  int nargs = (int)(sizeof(args) / sizeof(args[0]));
  int rc = nfp_args_parse(argc, argv, args, nargs,
                          "nfp arms serve (--sim [--task T] | --driver NAME --driver-config ARG) "
                          "--bind ENDPOINT (--key FILE --allow FILE | --insecure)",
                          serve_about);
  if (rc) return rc;
  if (so->sim == (so->driver != NULL)) {
    fprintf(stderr, "nfp arms serve: give exactly one of --sim and --driver NAME\n");
    return 2;
  }
  if (!o->insecure && (!o->server_key || !o->allow)) {
    fprintf(stderr, "nfp arms serve: give --key FILE and --allow FILE (CURVE), or --insecure "
                    "with a loopback --bind\n");
    return 2;
  }
  if (so->sim && !nfp_task_find(so->task)) {
    fprintf(stderr, "nfp arms serve: unknown task '%s' (known: %s)\n", so->task,
            nfp_task_names());
    return 2;
  }
  o->verbose = !so->quiet;
  return 0;
}

// The server until SIGINT/SIGTERM or a fatal rig error. 0 or -1 (error set).
static int serve_until_stopped(nfp_bridge_server* s) {
  serving = s;
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  int rc = nfp_bridge_server_run(s);
  serving = NULL;
  return rc;
}

// Flags -> the simulated rig or a driver -> a bridge server in front of it, served.
static int serve(int argc, char** argv) {
  serve_opts so;
  int rc = serve_parse(&so, argc, argv);
  if (rc) return rc == 1 ? 0 : 2;
  char names[NFP_ARMS_MAX_NQ][32];
  nfp_arms* arms = NULL;
  if (so.sim) {
    arms = nfp_arms_sim_create(so.task, so.assets);
    sim_joint_names(names);
    so.o.joint_names = (const char(*)[32])names;
  } else {
    const nfp_driver* d = nfp_driver_find(so.driver);
    arms = d ? nfp_arms_driver_open(d, so.driver_config) : NULL;
  }
  nfp_bridge_server* s = arms ? nfp_bridge_server_create(arms, &so.o) : NULL;
  if (!s) {
    fprintf(stderr, "nfp arms serve: %s\n", nfp_error_last());
    nfp_arms_close(arms);
    return 1;
  }
  printf("serving %s on %s (%s, %s)\n", arms->info.name, nfp_bridge_server_endpoint(s),
         so.o.realtime ? "real-time" : "lock-step", so.o.insecure ? "insecure" : "CURVE");
  fflush(stdout);
  rc = serve_until_stopped(s);
  if (rc) fprintf(stderr, "nfp arms serve: %s\n", nfp_error_last());
  nfp_bridge_server_free(s);
  nfp_arms_close(arms);
  return rc ? 1 : 0;
}

// status and estop: a non-controlling session.
static int query(int argc, char** argv, int estop) {
  nfp_bridge_flags bf;
  nfp_bridge_flags_default(&bf);
  bf.client.control = 0;
  nfp_arg args[NFP_BRIDGE_NARGS];
  nfp_bridge_flags_args(args, &bf);
  args[0].required = 1;
  args[0].help = estop ? "the arm server to emergency-stop (tcp://HOST:PORT)"
                       : "the arm server to query (tcp://HOST:PORT)";
  const char* usage = estop ? "nfp arms estop --arms ENDPOINT (--server-key F --key F | --insecure)"
                            : "nfp arms status --arms ENDPOINT (--server-key F --key F | --insecure)";
  const char* about = estop ? "Emergency stop: the server holds position and stops the rig; it "
                              "stays stopped until\nthe controlling client resets an episode."
                            : "Prints the rig's handshake and the server's safety state and "
                              "counters.";
  int rc = nfp_args_parse(argc, argv, args, NFP_BRIDGE_NARGS, usage, about);
  if (rc) return rc == 1 ? 0 : 2;
  if (nfp_bridge_flags_check(&bf)) {
    fprintf(stderr, "nfp arms: %s\n", nfp_error_last());
    return 2;
  }
  nfp_arms* a = nfp_arms_zmq_connect(bf.endpoint, &bf.client);
  nfp_bridge_status st;
  nfp_bridge_rig rig;
  if (!a || (estop && nfp_arms_zmq_estop(a)) || nfp_arms_zmq_status(a, &st) ||
      nfp_arms_zmq_rig(a, &rig)) {
    fprintf(stderr, "nfp arms: %s\n", nfp_error_last());
    nfp_arms_close(a);
    return 1;
  }
  printf("rig %s: %d joints at %.2f Hz, %s, camera %dx%d, step cap %d\n", a->info.name,
         a->info.nq, a->info.control_hz, rig.mode == 2 ? "real-time" : "lock-step", a->info.cam_w,
         a->info.cam_h, a->info.step_cap);
  for (int j = 0; j < a->info.nq; j++) {
    printf("  %-16s [%8.4f, %8.4f]%s\n", rig.joint_names[j], a->info.q_lo[j], a->info.q_hi[j],
           rig.gripper_mask >> j & 1u ? " gripper" : "");
  }
  printf("safety: max velocity %g rad/s, watchdog %d ms, heartbeat %d ms\n", rig.max_vel,
         rig.watchdog_ms, rig.heartbeat_ms);
  printf("state %s at step %lld; commands %llu, rejected %llu, limit clamps %llu, rate clamps "
         "%llu, watchdog holds %llu, heartbeat stops %llu, e-stops %llu, errors %llu\n",
         nfp_bridge_state_name(st.state), (long long)st.step, (unsigned long long)st.commands,
         (unsigned long long)st.rejected, (unsigned long long)st.limit_clamps,
         (unsigned long long)st.rate_clamps, (unsigned long long)st.watchdog_holds,
         (unsigned long long)st.heartbeat_stops, (unsigned long long)st.estops,
         (unsigned long long)st.errors);
  nfp_arms_close(a);
  return 0;
}

int nfp_cmd_arms(int argc, char** argv) {
  const char* sub = argc >= 2 ? argv[1] : "";
  // The sub-verb's own name, so that flag errors point at "nfp arms serve --help".
  static char serve_name[] = "arms serve", status_name[] = "arms status",
              estop_name[] = "arms estop";
  if (!strcmp(sub, "serve")) return argv[1] = serve_name, serve(argc - 1, argv + 1);
  if (!strcmp(sub, "status")) return argv[1] = status_name, query(argc - 1, argv + 1, 0);
  if (!strcmp(sub, "estop")) return argv[1] = estop_name, query(argc - 1, argv + 1, 1);
  FILE* f = !strcmp(sub, "--help") || !strcmp(sub, "-h") ? stdout : stderr;
  fprintf(f,
          "usage: nfp arms serve|status|estop [options]   (nfp arms SUB --help)\n\n"
          "  serve   serve the simulated rig or a hardware driver over the bridge\n"
          "  status  show an arm server's rig description and safety state\n"
          "  estop   emergency-stop an arm server\n");
  return f == stdout ? 0 : 2;
}
