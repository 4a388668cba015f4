// SIGINT and SIGTERM as a request to stop cleanly: the long verbs (train, finetune) poll it
// between steps, save, and exit 128 + the signal.
#ifndef NFP_APP_STOP_SIGNAL_H
#define NFP_APP_STOP_SIGNAL_H

// From now on SIGINT and SIGTERM set the flag instead of killing the process; a second one
// kills at once (the default action is restored), which atomic writes make safe.
void nfp_stop_signals_catch(void);
// The signal that asked to stop, 0 while none has.
int nfp_stop_signal(void);

#endif
