#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "job/job.h"

#include <unistd.h>

const h2k_command h2k_commands[] = {
    {"local", "[DISK]",
     "Convert a VM from a local disk (VMDK or any supported image)", 0, 1,
     h2k_cmd_job, true},
    {"ova", "[FILE.ova]", "Convert a VM from an OVA archive", 0, 1, h2k_cmd_job,
     true},
    {"ovf", "[FILE.ovf]", "Convert a VM from an OVF descriptor and its disks",
     0, 1, h2k_cmd_job, true},
    {"vmx", "[FILE.vmx]", "Convert a VM from a VMware .vmx file and its disks",
     0, 1, h2k_cmd_job, true},
    {"vhd", "[FILE]", "Convert a VM from a VHD/VHDX disk (Hyper-V, Azure)", 0,
     1, h2k_cmd_job, true},
    {"raw", "[FILE]", "Convert a VM from a raw disk image", 0, 1, h2k_cmd_job,
     true},
    {"ami", "[FILE]", "Convert a VM from a cloud image or AMI export", 0, 1,
     h2k_cmd_job, true},
    {"inspect", "DISK", "Show what hyper2kvm can tell about a source disk", 0,
     1, h2k_cmd_inspect, true},
    {"convert", "IN OUT", "Convert one disk image (qemu-img convert style)", 2,
     2, h2k_cmd_convert, true},
    {"info", "IMAGE", "Show format, sizes and backing chain of an image", 1, 1,
     h2k_cmd_info, true},
    {"cleanup", "",
     "Remove stale job directories from the conversion directory", 0, 0,
     h2k_cmd_cleanup, true},
    {"version", "", "Print the version", 0, 0, h2k_cmd_version, true},
    {"daemon", "",
     "Watch a directory and convert what arrives (not implemented yet)", 0, 0,
     h2k_cmd_not_implemented, false},
    {"vsphere", "", "Export VMs from vSphere / vCenter (not implemented yet)",
     0, 0, h2k_cmd_not_implemented, false},
};
const size_t h2k_n_commands = sizeof h2k_commands / sizeof *h2k_commands;

const h2k_command *h2k_command_find(const char *name) {
  for (size_t i = 0; i < h2k_n_commands; i++)
    if (!strcmp(h2k_commands[i].name, name))
      return &h2k_commands[i];
  return NULL;
}

static int add_positional(h2k_config *cfg, const char *arg) {
  char **p = realloc(cfg->positional, (cfg->n_positional + 1) * sizeof *p);
  if (!p)
    return -1;
  cfg->positional = p;
  cfg->positional[cfg->n_positional++] = strdup(arg);
  return 0;
}

static int unknown_option(const char *arg, h2k_error *err) {
  const char *name = arg + (arg[1] == '-' ? 2 : 1);
  char word[128];
  snprintf(word, sizeof word, "%s", name);
  char *eq = strchr(word, '=');
  if (eq)
    *eq = '\0';
  const char *hint = h2k_suggest_cli(word);
  h2k_err_set(err, H2K_E_USAGE, "unknown option '%s'", arg);
  if (hint)
    h2k_err_hint(err, "did you mean --%s?", hint);
  else
    h2k_err_hint(err, "see 'hyper2kvm --help'");
  return -1;
}

/* Store one option occurrence from the command line. */
static int set_cli(h2k_config *cfg, const h2k_option_def *o, const char *val,
                   h2k_error *err) {
  char where[96];
  snprintf(where, sizeof where, "--%s", o->cli);
  if (o->type == T_LIST)
    return h2k_config_list_add(cfg, o, val, H2K_SRC_CLI, NULL, 0);
  if (o->flags & OPT_COUNT) {
    long long n = cfg->v[o->id].source == H2K_SRC_CLI ? cfg->v[o->id].i : 0;
    char num[24];
    snprintf(num, sizeof num, "%lld", val ? n + 1 : 0);
    return h2k_config_set(cfg, o, num, H2K_SRC_CLI, NULL, 0, where, err);
  }
  return h2k_config_set(cfg, o, val, H2K_SRC_CLI, NULL, 0, where, err);
}

static int parse_long(h2k_config *cfg, int argc, char **argv, int *i,
                      bool *want_help, h2k_error *err) {
  const char *arg = argv[*i];
  char name[128];
  snprintf(name, sizeof name, "%s", arg + 2);
  char *eq = strchr(name, '=');
  const char *inline_val = NULL;
  if (eq) {
    *eq = '\0';
    inline_val = arg + 2 + (eq - name) + 1;
  }
  if (!strcmp(name, "help")) {
    *want_help = true;
    return 0;
  }
  const h2k_option_def *o = h2k_option_by_cli(name);
  bool negated = false;
  if (!o && !strncmp(name, "no-", 3)) {
    o = h2k_option_by_cli(name + 3);
    negated = o && o->type == T_BOOL;
    if (!negated)
      o = NULL;
  }
  if (!o)
    return unknown_option(arg, err);
  if (o->type == T_BOOL) {
    if (inline_val && negated) {
      h2k_err_set(err, H2K_E_USAGE, "'%s' takes no value", arg);
      return -1;
    }
    return set_cli(cfg, o,
                   negated      ? "false"
                   : inline_val ? inline_val
                                : "true",
                   err);
  }
  if (o->flags & OPT_COUNT)
    return set_cli(cfg, o, inline_val ? inline_val : "1", err);
  if (!inline_val) {
    if (*i + 1 >= argc) {
      h2k_err_set(err, H2K_E_USAGE, "option --%s needs a value (%s)", o->cli,
                  o->metavar ? o->metavar : "VALUE");
      return -1;
    }
    inline_val = argv[++*i];
  }
  return set_cli(cfg, o, inline_val, err);
}

/* "-vv", "-q", "-O qcow2", "-Oqcow2", "-cp". */
static int parse_short(h2k_config *cfg, int argc, char **argv, int *i,
                       bool *want_help, h2k_error *err) {
  const char *arg = argv[*i];
  for (const char *p = arg + 1; *p; p++) {
    if (*p == 'h') {
      *want_help = true;
      continue;
    }
    const h2k_option_def *o = h2k_option_by_short(*p);
    if (!o) {
      h2k_err_set(err, H2K_E_USAGE, "unknown option '-%c' in '%s'", *p, arg);
      h2k_err_hint(err, "see 'hyper2kvm --help'");
      return -1;
    }
    if (o->type == T_BOOL) {
      if (set_cli(cfg, o, "true", err) < 0)
        return -1;
      continue;
    }
    if (o->flags & OPT_COUNT) {
      if (set_cli(cfg, o, "1", err) < 0)
        return -1;
      continue;
    }
    const char *val = p[1] ? p + 1 : NULL;
    if (!val) {
      if (*i + 1 >= argc) {
        h2k_err_set(err, H2K_E_USAGE, "option -%c needs a value (%s)", *p,
                    o->metavar ? o->metavar : "VALUE");
        return -1;
      }
      val = argv[++*i];
    }
    return set_cli(cfg, o, val, err);
  }
  return 0;
}

int h2k_cli_parse(h2k_config *cfg, int argc, char **argv, const char **command,
                  bool *want_help, h2k_error *err) {
  *command = NULL;
  *want_help = false;
  bool only_positional = false;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    int rc = 0;
    if (only_positional || arg[0] != '-' || !arg[1]) {
      if (!*command && !cfg->n_positional && h2k_command_find(arg))
        *command = h2k_command_find(arg)->name;
      else if (!*command && !cfg->n_positional && !strcmp(arg, "help"))
        *want_help = true;
      else if (!*command && !cfg->n_positional && !*want_help &&
               h2k_command_for_file(arg) && access(arg, F_OK) == 0) {
        /* "hyper2kvm web.ova": the file's type names the command. */
        *command = h2k_command_for_file(arg);
        rc = add_positional(cfg, arg);
      } else if (!*command && !cfg->n_positional && !*want_help) {
        const char *names[32];
        for (size_t c = 0; c < h2k_n_commands; c++)
          names[c] = h2k_commands[c].name;
        const char *hint = h2k_suggest(arg, names, h2k_n_commands);
        h2k_err_set(err, H2K_E_USAGE, "unknown command '%s'", arg);
        h2k_err_hint(err, hint ? "did you mean '%s'?" : "%s",
                     hint ? hint : "see 'hyper2kvm --help' for the commands");
        return -1;
      } else
        rc = add_positional(cfg, arg);
    } else if (!strcmp(arg, "--")) {
      only_positional = true;
    } else if (arg[1] == '-') {
      rc = parse_long(cfg, argc, argv, &i, want_help, err);
    } else {
      rc = parse_short(cfg, argc, argv, &i, want_help, err);
    }
    if (rc < 0)
      return -1;
  }
  return 0;
}

/* The input option a conversion command's positional argument sets. */
static const h2k_option_def *input_option_of(const char *command) {
  enum h2k_opt_id id = h2k_input_option(command);
  return id == H2K_OPT_COUNT_ ? NULL : &h2k_options[id];
}

int h2k_cli_finish(h2k_config *cfg, const h2k_command *cmd, h2k_error *err) {
  if ((int)cfg->n_positional < cmd->min_pos ||
      (int)cfg->n_positional > cmd->max_pos) {
    h2k_err_set(err, H2K_E_USAGE, "'%s' takes %s%s", cmd->name,
                cmd->args[0] ? "arguments " : "no arguments", cmd->args);
    h2k_err_hint(err, "usage: hyper2kvm %s %s [OPTIONS]", cmd->name, cmd->args);
    return -1;
  }
  const h2k_option_def *in = input_option_of(cmd->name);
  if (in && cfg->n_positional == 1)
    return h2k_config_set(cfg, in, cfg->positional[0], H2K_SRC_CLI, NULL, 0,
                          "command line", err);
  return 0;
}
