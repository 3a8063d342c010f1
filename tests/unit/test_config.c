/* Configuration: precedence, unknown keys, types, secrets, sources. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config/config.h"

static h2k_config *cfg_with_yaml(const char *yaml, h2k_error *err, int *rc) {
  h2k_config *cfg = h2k_config_new();
  *rc = h2k_config_load_yaml_string(cfg, yaml, "t.yaml", err);
  return cfg;
}

static void test_defaults(void **state) {
  (void)state;
  h2k_config *cfg = h2k_config_new();
  assert_string_equal(h2k_cfg_str(cfg, H2K_OPT_OUT_FORMAT), "qcow2");
  assert_string_equal(h2k_cfg_str(cfg, H2K_OPT_FSTAB_MODE), "stabilize-all");
  assert_true(h2k_cfg_bool(cfg, H2K_OPT_REGEN_INITRAMFS));
  assert_false(h2k_cfg_bool(cfg, H2K_OPT_COMPRESS));
  assert_int_equal(h2k_cfg_source(cfg, H2K_OPT_OUT_FORMAT), H2K_SRC_DEFAULT);
  h2k_config_free(cfg);
}

static void test_precedence_cli_yaml_env_default(void **state) {
  (void)state;
  h2k_error err = {0};
  setenv("HYPER2KVM_COMPRESS_LEVEL", "3", 1);
  setenv("HYPER2KVM_OUT_FORMAT", "raw", 1);
  setenv("HYPER2KVM_CHECKSUM", "true", 1);
  h2k_config *cfg = h2k_config_new();
  const h2k_option_def *lvl = h2k_option_by_key("compress_level");
  /* CLI first, then env, then YAML: ranks decide, not load order. */
  assert_int_equal(
      h2k_config_set(cfg, lvl, "9", H2K_SRC_CLI, NULL, 0, "--x", &err), 0);
  assert_int_equal(h2k_config_load_env(cfg, &err), 0);
  assert_int_equal(
      h2k_config_load_yaml_string(cfg, "compress_level: 6\nout_format: qcow2\n",
                                  "a.yaml", &err),
      0);
  assert_int_equal(h2k_cfg_int(cfg, H2K_OPT_COMPRESS_LEVEL), 9);      /* cli */
  assert_string_equal(h2k_cfg_str(cfg, H2K_OPT_OUT_FORMAT), "qcow2"); /* yaml */
  assert_true(h2k_cfg_bool(cfg, H2K_OPT_CHECKSUM));                   /* env */
  assert_string_equal(h2k_cfg_str(cfg, H2K_OPT_FSTAB_MODE), "stabilize-all");
  char src[256];
  assert_string_equal(
      h2k_cfg_source_text(cfg, H2K_OPT_OUT_FORMAT, src, sizeof src),
      "file:a.yaml:2");
  assert_string_equal(
      h2k_cfg_source_text(cfg, H2K_OPT_CHECKSUM, src, sizeof src),
      "env:HYPER2KVM_CHECKSUM");
  assert_string_equal(
      h2k_cfg_source_text(cfg, H2K_OPT_COMPRESS_LEVEL, src, sizeof src), "cli");
  h2k_config_free(cfg);
  unsetenv("HYPER2KVM_COMPRESS_LEVEL");
  unsetenv("HYPER2KVM_OUT_FORMAT");
  unsetenv("HYPER2KVM_CHECKSUM");
}

static void test_later_file_wins(void **state) {
  (void)state;
  h2k_error err = {0};
  h2k_config *cfg = h2k_config_new();
  assert_int_equal(
      h2k_config_load_yaml_string(cfg, "compress: true\n", "1.yaml", &err), 0);
  assert_int_equal(
      h2k_config_load_yaml_string(cfg, "compress: false\n", "2.yaml", &err), 0);
  assert_false(h2k_cfg_bool(cfg, H2K_OPT_COMPRESS));
  char src[256];
  assert_string_equal(
      h2k_cfg_source_text(cfg, H2K_OPT_COMPRESS, src, sizeof src),
      "file:2.yaml:1");
  h2k_config_free(cfg);
}

static void test_unknown_key_did_you_mean(void **state) {
  (void)state;
  h2k_error err = {0};
  int rc;
  h2k_config *cfg = cfg_with_yaml("cmd: local\ncompress_levl: 6\n", &err, &rc);
  assert_int_equal(rc, -1);
  assert_int_equal(err.code, H2K_E_USAGE);
  assert_non_null(strstr(err.message, "t.yaml:2"));
  assert_non_null(strstr(err.message, "unknown key 'compress_levl'"));
  assert_non_null(strstr(err.message, "did you mean compress_level?"));
  h2k_config_free(cfg);
}

static void test_unknown_key_without_suggestion(void **state) {
  (void)state;
  h2k_error err = {0};
  int rc;
  h2k_config *cfg = cfg_with_yaml("zzzzqqqq: 1\n", &err, &rc);
  assert_int_equal(rc, -1);
  assert_null(strstr(err.message, "did you mean"));
  assert_non_null(strstr(err.message, "hyper2kvm --help"));
  h2k_config_free(cfg);
}

static void test_type_error_position(void **state) {
  (void)state;
  h2k_error err = {0};
  int rc;
  h2k_config *cfg =
      cfg_with_yaml("cmd: local\n\ncompress_level:   high\n", &err, &rc);
  assert_int_equal(rc, -1);
  assert_non_null(strstr(err.message, "t.yaml:3:19"));
  assert_non_null(strstr(err.message, "expects an integer"));
  h2k_config_free(cfg);
  cfg = cfg_with_yaml("compress:\n  - a\n", &err, &rc);
  assert_int_equal(rc, -1);
  assert_non_null(strstr(err.message, "t.yaml:2:3"));
  assert_non_null(strstr(err.message, "got a list"));
  h2k_config_free(cfg);
  cfg = cfg_with_yaml("fstab_mode: sometimes\n", &err, &rc);
  assert_int_equal(rc, -1);
  assert_non_null(strstr(err.message, "stabilize-all|bypath-only|noop"));
  h2k_config_free(cfg);
  cfg = cfg_with_yaml("compress_level: 99\n", &err, &rc);
  assert_int_equal(rc, -1);
  assert_non_null(strstr(err.message, "0..19"));
  h2k_config_free(cfg);
}

static void test_yaml_syntax_error(void **state) {
  (void)state;
  h2k_error err = {0};
  int rc;
  h2k_config *cfg = cfg_with_yaml("cmd: local\n  bad: [\n", &err, &rc);
  assert_int_equal(rc, -1);
  assert_non_null(strstr(err.message, "YAML syntax error"));
  assert_non_null(strstr(err.message, "t.yaml:"));
  h2k_config_free(cfg);
}

static void test_duplicate_key(void **state) {
  (void)state;
  h2k_error err = {0};
  int rc;
  h2k_config *cfg =
      cfg_with_yaml("compress: true\ncompress: false\n", &err, &rc);
  assert_int_equal(rc, -1);
  assert_non_null(strstr(err.message, "duplicate key 'compress'"));
  assert_non_null(strstr(err.message, "line 1"));
  h2k_config_free(cfg);
}

static void test_seed_keys_accepted(void **state) {
  (void)state;
  h2k_error err = {0};
  int rc;
  const char *seed =
      "cmd: local\nvmdk: /x.vmdk\noutput_dir: /o\nconversion_dir: ~/c\n"
      "fstab_mode: stabilize-all\nlibvirt_import: true\nflatten: true\n"
      "out_format: qcow2\ncompress: true\ncompress_level: 6\n"
      "enable_recovery: true\nchecksum: true\nparallel_processing: true\n"
      "regen_initramfs: true\nupdate_grub: true\nemit_domain_xml: true\n"
      "vm_memory: 4096\nvm_vcpus: 2\nvm_uefi: true\nlog_file: /tmp/x.log\n"
      "verbose: 2\nworkdir: /w\n";
  h2k_config *cfg = cfg_with_yaml(seed, &err, &rc);
  assert_int_equal(rc, 0);
  assert_int_equal(h2k_cfg_int(cfg, H2K_OPT_VM_MEMORY), 4096);
  assert_int_equal(h2k_cfg_int(cfg, H2K_OPT_VERBOSE), 2);
  assert_int_equal(cfg->n_warnings, 0);
  h2k_config_free(cfg);
}

static void test_command_alias_and_minimal(void **state) {
  (void)state;
  h2k_error err = {0};
  int rc;
  h2k_config *cfg =
      cfg_with_yaml("command: ova\nfstab_mode: minimal\n", &err, &rc);
  assert_int_equal(rc, 0);
  assert_string_equal(h2k_cfg_str(cfg, H2K_OPT_CMD), "ova");
  assert_string_equal(h2k_cfg_str(cfg, H2K_OPT_FSTAB_MODE), "bypath-only");
  h2k_config_free(cfg);
}

static void test_reserved_keys_warn(void **state) {
  (void)state;
  h2k_error err = {0};
  int rc;
  h2k_config *cfg = cfg_with_yaml(
      "daemon: true\nwatch_dir: /q\nvc_password: hunter22\n", &err, &rc);
  assert_int_equal(rc, 0);
  assert_int_equal(cfg->n_warnings, 3);
  assert_non_null(strstr(cfg->warnings[1], "'watch_dir' is reserved"));
  assert_non_null(strstr(cfg->warnings[1], "t.yaml:2"));
  h2k_config_free(cfg);
}

static void test_dump_masks_secrets_and_shows_sources(void **state) {
  (void)state;
  h2k_error err = {0};
  int rc;
  h2k_config *cfg =
      cfg_with_yaml("vc_password: hunter22\ncompress: true\n", &err, &rc);
  assert_int_equal(rc, 0);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  h2k_config_dump(cfg, f, false);
  fclose(f);
  assert_null(strstr(buf, "hunter22"));
  assert_non_null(strstr(buf, "***"));
  assert_non_null(strstr(buf, "# file:t.yaml:2"));
  assert_non_null(strstr(buf, "# default"));
  free(buf);
  f = open_memstream(&buf, &len);
  h2k_config_dump(cfg, f, true);
  fclose(f);
  assert_null(strstr(buf, "hunter22"));
  assert_non_null(strstr(buf, "\"source\": \"file:t.yaml:1\""));
  free(buf);
  h2k_config_free(cfg);
}

static void test_cli_only_key_in_yaml(void **state) {
  (void)state;
  h2k_error err = {0};
  int rc;
  h2k_config *cfg = cfg_with_yaml("config: other.yaml\n", &err, &rc);
  assert_int_equal(rc, -1);
  assert_non_null(strstr(err.message, "only be given on the command line"));
  h2k_config_free(cfg);
}

static void test_conversion_dir_resolution(void **state) {
  (void)state;
  h2k_error err = {0};
  setenv("HOME", "/home/tester", 1);
  unsetenv("XDG_CACHE_HOME");
  h2k_config *cfg = h2k_config_new();
  char *d = h2k_cfg_conversion_dir(cfg);
  assert_string_equal(d, "/home/tester/.cache/hyper2kvm/conversions");
  free(d);
  setenv("XDG_CACHE_HOME", "/xdg", 1);
  d = h2k_cfg_conversion_dir(cfg);
  assert_string_equal(d, "/xdg/hyper2kvm/conversions");
  free(d);
  /* workdir (older name) is used when conversion_dir is not given */
  assert_int_equal(
      h2k_config_load_yaml_string(cfg, "workdir: ~/w\n", "w.yaml", &err), 0);
  d = h2k_cfg_conversion_dir(cfg);
  assert_string_equal(d, "/home/tester/w");
  free(d);
  assert_int_equal(
      h2k_config_load_yaml_string(cfg, "conversion_dir: ~/c\n", "c.yaml", &err),
      0);
  d = h2k_cfg_conversion_dir(cfg);
  assert_string_equal(d, "/home/tester/c");
  free(d);
  unsetenv("XDG_CACHE_HOME");
  h2k_config_free(cfg);
}

static void test_suggest(void **state) {
  (void)state;
  assert_string_equal(h2k_suggest_key("out_fromat"), "out_format");
  assert_string_equal(h2k_suggest_key("conversiondir"), "conversion_dir");
  assert_string_equal(h2k_suggest_cli("dry-rn"), "dry-run");
  assert_null(h2k_suggest_key("xyzzy"));
  assert_int_equal(h2k_edit_distance("kitten", "sitting"), 3);
}

static void test_table_consistency(void **state) {
  (void)state;
  for (size_t i = 0; i < H2K_OPT_COUNT_; i++) {
    const h2k_option_def *o = &h2k_options[i];
    assert_int_equal(o->id, i);
    assert_non_null(o->help);
    assert_true(strlen(o->help) > 10);
    for (size_t j = 0; j < i; j++) {
      assert_string_not_equal(o->key, h2k_options[j].key);
      if (o->cli && h2k_options[j].cli)
        assert_string_not_equal(o->cli, h2k_options[j].cli);
      if (o->short_flag)
        assert_int_not_equal(o->short_flag, h2k_options[j].short_flag);
    }
    if (o->type == T_ENUM)
      assert_non_null(o->choices);
    /* every default parses as its own type */
    if (o->def && o->type != T_LIST && o->type != T_ANY) {
      h2k_config *cfg = h2k_config_new();
      assert_non_null(cfg->v[i].text);
      h2k_config_free(cfg);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_precedence_cli_yaml_env_default),
      cmocka_unit_test(test_later_file_wins),
      cmocka_unit_test(test_unknown_key_did_you_mean),
      cmocka_unit_test(test_unknown_key_without_suggestion),
      cmocka_unit_test(test_type_error_position),
      cmocka_unit_test(test_yaml_syntax_error),
      cmocka_unit_test(test_duplicate_key),
      cmocka_unit_test(test_seed_keys_accepted),
      cmocka_unit_test(test_command_alias_and_minimal),
      cmocka_unit_test(test_reserved_keys_warn),
      cmocka_unit_test(test_dump_masks_secrets_and_shows_sources),
      cmocka_unit_test(test_cli_only_key_in_yaml),
      cmocka_unit_test(test_conversion_dir_resolution),
      cmocka_unit_test(test_suggest),
      cmocka_unit_test(test_table_consistency),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
