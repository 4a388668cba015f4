// nfp inspect: reports on the files nfp writes, built as one JSON object that --json prints
// as is and the text output renders.
#ifndef NFP_APP_INSPECT_H
#define NFP_APP_INSPECT_H

#include <cjson/cJSON.h>

// A checkpoint or exported policy (.safetensors) of file_bytes bytes -> its report (model,
// training data, configuration, metrics, weights, resumability), or NULL (error set).
cJSON* nfp_inspect_checkpoint(const char* path, double file_bytes);
// A checkpoint report -> readable text on stdout.
void nfp_inspect_checkpoint_print(const cJSON* rep);

// A demo episode (.hdf5, nfp's or ALOHA's layout) -> its report (layout, task, seed,
// success, cameras, rate, length, datasets with shapes and types, attributes), or NULL
// (error set). camera: NULL, or one that must be in the file.
cJSON* nfp_inspect_episode(const char* path, double file_bytes, const char* camera);
// An episode report -> readable text on stdout.
void nfp_inspect_episode_print(const cJSON* rep);

// Shared by the printers: rep[key] as a number (NAN when absent), and a JSON value as
// text ("yes"/"no", "%g", the string itself) into buf.
double nfp_inspect_num(const cJSON* rep, const char* key);
const char* nfp_inspect_value(char* buf, size_t cap, const cJSON* v);
// "11.2 MB (11226808 bytes)".
const char* nfp_inspect_size(char* buf, size_t cap, double bytes);

#endif
