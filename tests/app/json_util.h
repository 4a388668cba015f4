// Reading the JSON reports the nfp verbs write, from cmocka tests (include after cmocka.h).
#ifndef NFP_TEST_JSON_UTIL_H
#define NFP_TEST_JSON_UTIL_H

#include <stdio.h>

#include <cjson/cJSON.h>

// The parsed report at path; fails the test when it is missing or not JSON.
static cJSON* json_read_report(const char* path) {
  static char text[1 << 20];
  FILE* f = fopen(path, "r");
  if (!f) fail_msg("no report at %s", path);
  size_t n = fread(text, 1, sizeof(text) - 1, f);
  text[n] = '\0';
  fclose(f);
  cJSON* root = cJSON_Parse(text);
  if (!root) fail_msg("%s is not JSON", path);
  return root;
}

#endif
