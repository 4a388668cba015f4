// The verbs of the nfp command. Each takes the arguments after the verb
// (argv[0] is the verb) and returns the process exit code.
#ifndef NFP_APP_COMMANDS_H
#define NFP_APP_COMMANDS_H

int nfp_cmd_collect(int argc, char** argv);
int nfp_cmd_eval(int argc, char** argv);
int nfp_cmd_view(int argc, char** argv);
int nfp_cmd_train(int argc, char** argv);
int nfp_cmd_finetune(int argc, char** argv);
int nfp_cmd_bench(int argc, char** argv);
int nfp_cmd_run(int argc, char** argv);
int nfp_cmd_arms(int argc, char** argv);
int nfp_cmd_keys(int argc, char** argv);
int nfp_cmd_export(int argc, char** argv);
int nfp_cmd_inspect(int argc, char** argv);
int nfp_cmd_version(int argc, char** argv);

#endif
