// Key files (issue 18): a public key is never taken for a secret one nor the other way
// round, a secret key others can read is refused, and `nfp keys gen` does not replace a
// key pair unless told to.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli_util.h"
#include "nfp/bridge.h"
#include "nfp/error.h"

static cli_result r;

static void assert_has(const char* text, const char* needle) {
  if (!strstr(text, needle)) fail_msg("expected '%s' in:\n%s", needle, text);
}

// NAME under the test folder.
static void tmp_path(char* out, size_t cap, const char* name) {
  snprintf(out, cap, "%s/%s", cli_tmpdir, name);
}

static void slurp(const char* path, char* out, size_t cap) {
  FILE* f = fopen(path, "r");
  assert_non_null(f);
  size_t n = fread(out, 1, cap - 1, f);
  out[n] = '\0';
  fclose(f);
}

// The secret-key reader refuses NAME.pub and a key readable by others; the public-key
// reader refuses NAME.key.
static void readers_refuse_the_wrong_key(void** state) {
  (void)state;
  char base[400], key[420], pub[420], plain[420];
  tmp_path(base, sizeof(base), "pair");
  assert_int_equal(nfp_bridge_keys_gen(base), 0);
  snprintf(key, sizeof(key), "%s.key", base);
  snprintf(pub, sizeof(pub), "%s.pub", base);
  char sec_text[NFP_KEY_TEXT], pub_text[NFP_KEY_TEXT], derived[NFP_KEY_TEXT];
  assert_int_equal(nfp_bridge_key_read_secret(sec_text, key), 0);
  assert_int_equal(nfp_bridge_key_read_public(pub_text, pub), 0);
  assert_int_equal(nfp_bridge_key_public(derived, sec_text), 0);
  assert_string_equal(derived, pub_text);

  assert_int_equal(nfp_bridge_key_read_secret(sec_text, pub), -1);
  assert_has(nfp_error_last(), "is a public key");
  assert_has(nfp_error_last(), pub);
  assert_int_equal(nfp_bridge_key_read_public(pub_text, key), -1);
  assert_has(nfp_error_last(), "looks like a secret key");

  // Readable by the group, then by everyone: refused with the fix to apply.
  mode_t modes[] = {0640, 0644, 0604, 0660};
  for (int i = 0; i < 4; i++) {
    assert_int_equal(chmod(key, modes[i]), 0);
    assert_int_equal(nfp_bridge_key_read_secret(sec_text, key), -1);
    assert_has(nfp_error_last(), "too open");
    char fix[460];
    snprintf(fix, sizeof(fix), "chmod 600 %s", key);
    assert_has(nfp_error_last(), fix);
  }
  assert_int_equal(chmod(key, 0600), 0);
  assert_int_equal(nfp_bridge_key_read_secret(sec_text, key), 0);
  assert_int_equal(chmod(key, 0400), 0);  // read-only for its owner is fine too
  assert_int_equal(nfp_bridge_key_read_secret(sec_text, key), 0);
  assert_int_equal(chmod(key, 0600), 0);

  // Names without those endings are taken on content (a public key file renamed).
  tmp_path(plain, sizeof(plain), "server_public_key");
  FILE* f = fopen(plain, "w");
  assert_non_null(f);
  fprintf(f, "%s\n", pub_text);
  fclose(f);
  assert_int_equal(nfp_bridge_key_read_public(derived, plain), 0);
  assert_string_equal(derived, pub_text);
}

// The client refuses the swapped files before it connects to anything.
static void client_refuses_swapped_keys(void** state) {
  (void)state;
  char base[400], key[420], pub[420];
  tmp_path(base, sizeof(base), "client");
  assert_int_equal(nfp_bridge_keys_gen(base), 0);
  snprintf(key, sizeof(key), "%s.key", base);
  snprintf(pub, sizeof(pub), "%s.pub", base);
  nfp_bridge_client_opts o;
  nfp_bridge_client_opts_default(&o);
  o.timeout_ms = 200;
  o.server_key = pub;
  o.client_key = pub;  // its own public key as the secret
  assert_null(nfp_arms_zmq_connect("tcp://127.0.0.1:1", &o));
  assert_has(nfp_error_last(), "client secret key (--key)");
  assert_has(nfp_error_last(), "is a public key");
  o.server_key = key;  // a secret key where the server's public key goes
  o.client_key = key;
  assert_null(nfp_arms_zmq_connect("tcp://127.0.0.1:1", &o));
  assert_has(nfp_error_last(), "server public key (--server-key)");
  assert_has(nfp_error_last(), "looks like a secret key");
}

// `nfp arms serve --key server.pub` used to start with the public key as its secret.
static void serve_refuses_public_key(void** state) {
  (void)state;
  char base[400], args[1600], prefix[600];
  tmp_path(base, sizeof(base), "server");
  assert_int_equal(nfp_bridge_keys_gen(base), 0);
  // A server that wrongly starts would serve forever: timeout turns that into exit 124.
  snprintf(prefix, sizeof(prefix), "NFP_ASSETS='%s' timeout 60", NFP_TEST_ASSETS);
  snprintf(args, sizeof(args),
           "arms serve --sim --bind 'tcp://127.0.0.1:*' --key '%s.pub' --allow '%s.pub'", base,
           base);
  assert_int_equal(cli_run(&r, prefix, args), 1);
  assert_has(r.err, "server key (--key");
  assert_has(r.err, "is a public key");
  char key[420];
  snprintf(key, sizeof(key), "%s.key", base);
  assert_int_equal(chmod(key, 0644), 0);
  snprintf(args, sizeof(args),
           "arms serve --sim --bind 'tcp://127.0.0.1:*' --key '%s.key' --allow '%s.pub'", base,
           base);
  assert_int_equal(cli_run(&r, prefix, args), 1);
  assert_has(r.err, "chmod 600");
  snprintf(args, sizeof(args),
           "arms status --arms tcp://127.0.0.1:1 --server-key '%s.key' --key '%s.key'", base, base);
  assert_int_equal(cli_run(&r, "", args), 1);
  assert_has(r.err, "looks like a secret key");
}

// `nfp keys gen` keeps an existing pair unless --force; its flag errors name the verb.
static void keys_gen_keeps_existing_pair(void** state) {
  (void)state;
  char base[400], args[900], key[420], pub[420], before[128], after[128];
  tmp_path(base, sizeof(base), "laptop");
  snprintf(key, sizeof(key), "%s.key", base);
  snprintf(pub, sizeof(pub), "%s.pub", base);
  snprintf(args, sizeof(args), "keys gen --out '%s'", base);
  assert_int_equal(cli_run(&r, "", args), 0);
  assert_has(r.out, "wrote");
  slurp(pub, before, sizeof(before));

  assert_int_equal(cli_run(&r, "", args), 1);  // again: refused, the pair untouched
  assert_has(r.err, "already exists");
  assert_has(r.err, "--force");
  slurp(pub, after, sizeof(after));
  assert_string_equal(before, after);
  assert_int_equal(unlink(key), 0);  // half a pair is kept too
  assert_int_equal(cli_run(&r, "", args), 1);
  assert_has(r.err, pub);

  snprintf(args, sizeof(args), "keys gen --out '%s' --force", base);
  assert_int_equal(cli_run(&r, "", args), 0);
  slurp(pub, after, sizeof(after));
  assert_true(strcmp(before, after) != 0);
  struct stat st;
  assert_int_equal(stat(key, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);

  assert_int_equal(cli_run(&r, "", "keys gen"), 2);
  assert_has(r.err, "--out NAME is required");
  assert_has(r.err, "nfp keys gen --help");
  assert_null(strstr(r.err, "nfp gen --help"));
  assert_int_equal(cli_run(&r, "", "keys gen --bogus"), 2);
  assert_has(r.err, "nfp keys gen --help");
  assert_int_equal(cli_run(&r, "", "keys gen --help"), 0);
  assert_has(r.out, "--force");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(readers_refuse_the_wrong_key),
      cmocka_unit_test(client_refuses_swapped_keys),
      cmocka_unit_test(serve_refuses_public_key),
      cmocka_unit_test(keys_gen_keeps_existing_pair),
  };
  return cmocka_run_group_tests(tests, cli_setup, cli_teardown);
}
