/* --help and the man page, both generated from the option table and the
 * command list, so they cannot drift from what the parser accepts. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "core/util.h"

const h2k_exit_doc h2k_exit_docs[] = {
    {0, "success"},
    {1, "internal or unclassified failure"},
    {2, "usage or configuration error (unknown option or key, wrong type)"},
    {3, "input error: source missing, unreadable, corrupt or unsupported"},
    {4, "not enough free space in the conversion or output directory"},
    {5, "unsafe or unusable environment (directory permissions, locks, tools)"},
    {6, "a pipeline stage failed (inspection, fixes)"},
    {7, "the converted guest failed boot validation"},
    {8, "--resume refused: inputs or options changed since the checkpoint"},
    {9, "feature not implemented yet"},
    {10, "I/O error while writing outputs"},
    {130, "interrupted (SIGINT/SIGTERM); with --resume the job can continue"},
};
const size_t h2k_n_exit_docs = sizeof h2k_exit_docs / sizeof *h2k_exit_docs;

/* "-O, --out-format FMT" */
static void flag_text(const h2k_option_def *o, char *buf, size_t cap) {
  char sh[8] = "";
  if (o->short_flag)
    snprintf(sh, sizeof sh, "-%c, ", o->short_flag);
  /* A boolean that defaults to true is shown in the form that changes it. */
  bool negate = o->type == T_BOOL && o->def && !strcmp(o->def, "true");
  if (negate && o->short_flag) {
    snprintf(buf, cap, "%s--%s, --no-%s", sh, o->cli, o->cli);
    return;
  }
  snprintf(buf, cap, "%s--%s%s%s%s", sh, negate ? "no-" : "", o->cli,
           o->type == T_BOOL || (o->flags & OPT_COUNT) ? "" : " ",
           o->type == T_BOOL || (o->flags & OPT_COUNT)
               ? ""
               : (o->metavar ? o->metavar : "VALUE"));
}

/* "[default qcow2; qcow2|raw; YAML out_format; env HYPER2KVM_OUT_FORMAT]" */
static void details_text(const h2k_option_def *o, char *buf, size_t cap) {
  char env[96];
  h2k_option_env_name(o, env, sizeof env);
  h2k_buf b = {0};
  if (o->def)
    h2k_buf_printf(&b, "default %s", o->def);
  if (o->choices && o->type == T_ENUM)
    h2k_buf_printf(&b, "%s%s", b.len ? "; " : "", o->choices);
  if (!(o->flags & OPT_CLI_ONLY))
    h2k_buf_printf(&b, "%sYAML %s", b.len ? "; " : "", o->key);
  if (env[0])
    h2k_buf_printf(&b, "%senv %s", b.len ? "; " : "", env);
  snprintf(buf, cap, "%s", b.data ? b.data : "");
  h2k_buf_free(&b);
}

/* Print `text` wrapped at `width`, every line indented by `indent`. */
static void wrap(FILE *out, const char *text, int indent, int width) {
  int col = indent;
  const char *p = text;
  while (*p) {
    const char *sp = strchr(p, ' ');
    int len = sp ? (int)(sp - p) : (int)strlen(p);
    if (col > indent && col + 1 + len > width) {
      fprintf(out, "\n%*s", indent, "");
      col = indent;
    } else if (col > indent) {
      fputc(' ', out);
      col++;
    }
    fwrite(p, 1, (size_t)len, out);
    col += len;
    p += len;
    while (*p == ' ')
      p++;
  }
  fputc('\n', out);
}

void h2k_help_print(FILE *out, const h2k_command *cmd) {
  if (cmd)
    fprintf(out, "Usage: hyper2kvm %s %s [OPTIONS]\n  %s\n\n", cmd->name,
            cmd->args, cmd->summary);
  else
    fprintf(out,
            "Usage: hyper2kvm [COMMAND] [ARGS] [OPTIONS]\n"
            "       h2kvmctl  [COMMAND] [ARGS] [OPTIONS]   (identical)\n\n"
            "Convert VMware, Hyper-V and cloud VMs to KVM so that they boot\n"
            "and reach the network on the first try.\n"
            "Pipeline: FETCH -> FLATTEN -> INSPECT -> PLAN -> FIX -> CONVERT "
            "-> VALIDATE\n\nCommands:\n");
  if (!cmd)
    for (size_t i = 0; i < h2k_n_commands; i++)
      fprintf(out, "  %-9s %-12s %s\n", h2k_commands[i].name,
              h2k_commands[i].args, h2k_commands[i].summary);
  for (int g = 0; g < G_COUNT_; g++) {
    if (g == G_RESERVED)
      continue;
    fprintf(out, "\n%s:\n", h2k_option_group_title(g));
    for (size_t i = 0; i < H2K_OPT_COUNT_; i++) {
      const h2k_option_def *o = &h2k_options[i];
      if ((int)o->group != g || !o->cli)
        continue;
      char flag[96], det[256];
      flag_text(o, flag, sizeof flag);
      details_text(o, det, sizeof det);
      fprintf(out, "  %s\n", flag);
      char line[1024];
      if (det[0])
        snprintf(line, sizeof line, "%s [%s]", o->help, det);
      else
        snprintf(line, sizeof line, "%s", o->help);
      fprintf(out, "%8s", "");
      wrap(out, line, 8, 79);
    }
  }
  fprintf(out, "\n  -h, --help\n        Show this help.\n");
  fprintf(out, "\nReserved YAML keys (accepted with a warning, not "
               "implemented yet):\n");
  h2k_buf keys = {0};
  for (size_t i = 0; i < H2K_OPT_COUNT_; i++)
    if (h2k_options[i].flags & OPT_RESERVED)
      h2k_buf_printf(&keys, "%s%s", keys.len ? " " : "", h2k_options[i].key);
  fprintf(out, "  ");
  wrap(out, keys.data, 2, 79);
  h2k_buf_free(&keys);
  fprintf(out, "\nPrecedence: command line > YAML (later --config files win) "
               "> environment > default.\n\nExit status:\n");
  for (size_t i = 0; i < h2k_n_exit_docs; i++)
    fprintf(out, "  %3d  %s\n", h2k_exit_docs[i].code,
            h2k_exit_docs[i].meaning);
  fprintf(out, "\nSee hyper2kvm(1) for details and examples.\n");
}

/* Escape text for roff: backslashes and leading dots/quotes. */
static void roff(FILE *out, const char *s) {
  if (*s == '.' || *s == '\'')
    fputs("\\&", out);
  for (; *s; s++) {
    if (*s == '\\')
      fputs("\\e", out);
    else if (*s == '-')
      fputs("\\-", out);
    else
      fputc(*s, out);
  }
}

static void man_options(FILE *out) {
  for (int g = 0; g < G_COUNT_; g++) {
    if (g == G_RESERVED)
      continue;
    fprintf(out, ".SS ");
    roff(out, h2k_option_group_title(g));
    fputc('\n', out);
    for (size_t i = 0; i < H2K_OPT_COUNT_; i++) {
      const h2k_option_def *o = &h2k_options[i];
      if ((int)o->group != g || !o->cli)
        continue;
      char flag[96], det[256];
      flag_text(o, flag, sizeof flag);
      details_text(o, det, sizeof det);
      fprintf(out, ".TP\n.B ");
      roff(out, flag);
      fputc('\n', out);
      roff(out, o->help);
      fputc('\n', out);
      if (det[0]) {
        fprintf(out, ".br\n[");
        roff(out, det);
        fprintf(out, "]\n");
      }
    }
  }
}

void h2k_man_print(FILE *out) {
  fprintf(out, ".\\\" Generated from lib/config/options.def by h2k-mangen; "
               "do not edit.\n");
  fprintf(out, ".TH HYPER2KVM 1 \"\" \"hyper2kvm %s\" \"User Commands\"\n",
          H2K_VERSION_STRING);
  fprintf(out, ".SH NAME\nhyper2kvm, h2kvmctl \\- convert VMware, Hyper\\-V "
               "and cloud VMs to KVM\n");
  fprintf(out, ".SH SYNOPSIS\n.B hyper2kvm\n[\\fICOMMAND\\fR] "
               "[\\fIARGS\\fR] [\\fIOPTIONS\\fR]\n.br\n.B h2kvmctl\n"
               "[\\fICOMMAND\\fR] [\\fIARGS\\fR] [\\fIOPTIONS\\fR]\n");
  fprintf(out,
          ".SH DESCRIPTION\nhyper2kvm moves virtual machines from VMware, "
          "Hyper\\-V and cloud images to KVM through a fixed pipeline: "
          "FETCH, FLATTEN, INSPECT, PLAN, FIX, CONVERT, VALIDATE. Sources are "
          "never modified. Each job works in its own subdirectory of the "
          "conversion directory, writes a checkpoint after every stage, and "
          "gives its outputs their final names only when it has succeeded.\n"
          ".PP\nOptions come from the command line, YAML files "
          "(\\fB\\-\\-config\\fR), HYPER2KVM_* environment variables and "
          "defaults, in that order of precedence.\n");
  fprintf(out, ".SH COMMANDS\n");
  for (size_t i = 0; i < h2k_n_commands; i++) {
    fprintf(out, ".TP\n.B %s", h2k_commands[i].name);
    if (h2k_commands[i].args[0]) {
      fputc(' ', out);
      roff(out, h2k_commands[i].args);
    }
    fputc('\n', out);
    roff(out, h2k_commands[i].summary);
    fputc('\n', out);
  }
  fprintf(out, ".SH OPTIONS\n");
  man_options(out);
  fprintf(out, ".TP\n.B \\-h, \\-\\-help\nShow the help.\n");
  fprintf(out, ".SH RESERVED KEYS\nThese YAML keys are accepted with a "
               "warning and ignored until their features exist:\n");
  for (size_t i = 0; i < H2K_OPT_COUNT_; i++)
    if (h2k_options[i].flags & OPT_RESERVED) {
      fprintf(out, ".TP\n.B ");
      roff(out, h2k_options[i].key);
      fputc('\n', out);
      roff(out, h2k_options[i].help);
      fputc('\n', out);
    }
  fprintf(out,
          ".SH CONFIGURATION FILES\nA YAML file is a mapping of option keys "
          "to values, for example:\n.PP\n.nf\ncmd: local\nvmdk: "
          "/vms/web01/web01.vmdk\noutput_dir: /srv/kvm\nconversion_dir: "
          "/mnt/big/conversions\ncompress: true\ncompress_level: 6\n.fi\n"
          ".PP\nUnknown keys are errors naming the file, the line and the "
          "nearest valid key; values of the wrong type name "
          "file:line:column. \\fB\\-\\-dump\\-config\\fR prints the merged "
          "configuration with the source of each value; secrets are shown "
          "as ***.\n");
  fprintf(out, ".SH EXIT STATUS\n");
  for (size_t i = 0; i < h2k_n_exit_docs; i++) {
    fprintf(out, ".TP\n.B %d\n", h2k_exit_docs[i].code);
    roff(out, h2k_exit_docs[i].meaning);
    fputc('\n', out);
  }
  fprintf(out,
          ".SH FILES\n.TP\n.I ~/.cache/hyper2kvm/conversions\nDefault "
          "conversion directory (or $XDG_CACHE_HOME/hyper2kvm/conversions), "
          "mode 0700.\n.TP\n.I OUTPUT_DIR/NAME/\nNAME.qcow2 (or "
          "NAME\\-diskN.qcow2), domain.xml, metadata.json, report.json, "
          "report.md.\n");
  fprintf(out, ".SH EXAMPLES\n.nf\nhyper2kvm local web01.vmdk "
               "\\-\\-output\\-dir /srv/kvm\nh2kvmctl \\-\\-config "
               "migration.yaml \\-\\-conversion\\-dir /mnt/big/conv\n"
               "hyper2kvm convert disk.vmdk disk.qcow2 \\-c "
               "\\-\\-compress\\-type zstd\nhyper2kvm info disk.vmdk "
               "\\-\\-json\nhyper2kvm cleanup \\-\\-older\\-than 7d\n.fi\n");
  fprintf(out, ".SH SEE ALSO\n.BR qemu\\-img (1),\n.BR virt\\-v2v (1)\n");
}
