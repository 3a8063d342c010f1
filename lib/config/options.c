#include "config/options.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

const h2k_option_def h2k_options[H2K_OPT_COUNT_] = {
#define X(ID, key, cli, sh, type, group, def, flags, choices, metavar, help)   \
  {H2K_OPT_##ID, key, cli, sh, type, group, def, flags, choices, metavar, help},
#include "config/options.def"
#undef X
};

const h2k_option_def *h2k_option_by_key(const char *key) {
  for (size_t i = 0; i < H2K_OPT_COUNT_; i++)
    if (!(h2k_options[i].flags & OPT_CLI_ONLY) &&
        strcmp(h2k_options[i].key, key) == 0)
      return &h2k_options[i];
  return NULL;
}

const h2k_option_def *h2k_option_by_cli(const char *flag) {
  for (size_t i = 0; i < H2K_OPT_COUNT_; i++)
    if (h2k_options[i].cli && strcmp(h2k_options[i].cli, flag) == 0)
      return &h2k_options[i];
  return NULL;
}

const h2k_option_def *h2k_option_by_short(char c) {
  for (size_t i = 0; i < H2K_OPT_COUNT_; i++)
    if (h2k_options[i].short_flag == c)
      return &h2k_options[i];
  return NULL;
}

const char *h2k_option_env_name(const h2k_option_def *o, char *buf,
                                size_t cap) {
  if (o->flags & (OPT_NOENV | OPT_RESERVED)) {
    if (cap)
      buf[0] = '\0';
    return buf;
  }
  size_t n = (size_t)snprintf(buf, cap, "HYPER2KVM_%s", o->key);
  for (size_t i = 10; i < n && i < cap; i++)
    buf[i] = (char)toupper((unsigned char)buf[i]);
  return buf;
}

const char *h2k_option_group_title(enum h2k_opt_group g) {
  static const char *titles[G_COUNT_] = {
      "Global options", "Job options",
      "Inputs",         "Conversion options",
      "Guest fixes",    "Outputs",
      "Cleanup",        "Reserved keys (accepted in YAML, not implemented yet)",
  };
  return g < G_COUNT_ ? titles[g] : "";
}

const char *h2k_option_type_name(enum h2k_opt_type t) {
  static const char *names[] = {"boolean",  "integer", "string",
                                "path",     "choice",  "size",
                                "duration", "list",    "any"};
  return names[t];
}

const char *h2k_option_key_alias(const char *key) {
  static const char *aliases[][2] = {
      {"command", "cmd"},
  };
  for (size_t i = 0; i < sizeof aliases / sizeof *aliases; i++)
    if (strcmp(aliases[i][0], key) == 0)
      return aliases[i][1];
  return NULL;
}

bool h2k_option_shapes_output(const h2k_option_def *o) {
  return o->group == G_INPUT || o->group == G_CONVERT || o->group == G_FIX ||
         o->group == G_OUTPUT || o->id == H2K_OPT_VM_NAME;
}
