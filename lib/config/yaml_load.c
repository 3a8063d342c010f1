/* YAML configuration files → h2k_config. Strict: unknown keys, wrong types
 * and duplicates are errors that name file:line(:column). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config/config.h"
#include "core/fsutil.h"
#include "core/util.h"

#define MAX_CONFIG_BYTES (4u << 20)

static const char *node_kind(const yaml_node_t *n) {
  switch (n->type) {
  case YAML_MAPPING_NODE:
    return "a mapping";
  case YAML_SEQUENCE_NODE:
    return "a list";
  default:
    return "a scalar";
  }
}

static bool scalar_is_null(const yaml_node_t *n) {
  if (n->type != YAML_SCALAR_NODE ||
      n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
    return false;
  const char *s = (const char *)n->data.scalar.value;
  return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
         !strcmp(s, "NULL");
}

/* "compress-level" → "compress_level"; aliases → canonical key. */
static void normalise_key(const char *in, char *out, size_t cap) {
  snprintf(out, cap, "%s", in);
  for (char *p = out; *p; p++)
    if (*p == '-')
      *p = '_';
  const char *canon = h2k_option_key_alias(out);
  if (canon)
    snprintf(out, cap, "%s", canon);
}

static int unknown_key(const char *name, const yaml_node_t *k, const char *key,
                       h2k_error *err) {
  const char *hint = h2k_suggest_key(key);
  h2k_err_set(err, H2K_E_USAGE, "%s:%zu: unknown key '%s'", name,
              k->start_mark.line + 1, key);
  if (hint)
    h2k_err_hint(err, "did you mean %s?", hint);
  else
    h2k_err_hint(err, "see 'hyper2kvm --help' for the list of keys");
  return -1;
}

static int load_list(h2k_config *cfg, const h2k_option_def *o,
                     yaml_document_t *doc, const yaml_node_t *v,
                     const char *name) {
  int line = (int)v->start_mark.line + 1;
  if (v->type == YAML_SCALAR_NODE)
    return h2k_config_list_add(cfg, o, (const char *)v->data.scalar.value,
                               H2K_SRC_FILE, name, line);
  for (yaml_node_item_t *it = v->data.sequence.items.start;
       it < v->data.sequence.items.top; it++) {
    yaml_node_t *e = yaml_document_get_node(doc, *it);
    if (e && e->type == YAML_SCALAR_NODE)
      h2k_config_list_add(cfg, o, (const char *)e->data.scalar.value,
                          H2K_SRC_FILE, name, line);
  }
  return 0;
}

static int load_pair(h2k_config *cfg, yaml_document_t *doc,
                     const yaml_node_t *k, const yaml_node_t *v,
                     const char *name, h2k_error *err) {
  if (k->type != YAML_SCALAR_NODE) {
    h2k_err_set(err, H2K_E_USAGE, "%s:%zu:%zu: keys must be plain words", name,
                k->start_mark.line + 1, k->start_mark.column + 1);
    return -1;
  }
  const char *raw_key = (const char *)k->data.scalar.value;
  char key[128];
  normalise_key(raw_key, key, sizeof key);
  const h2k_option_def *o = h2k_option_by_key(key);
  if (!o) {
    if (h2k_option_by_cli(raw_key) || !strcmp(key, "config") ||
        !strcmp(key, "dump_config")) {
      h2k_err_set(err, H2K_E_USAGE,
                  "%s:%zu: '%s' can only be given on the command line", name,
                  k->start_mark.line + 1, raw_key);
      return -1;
    }
    return unknown_key(name, k, raw_key, err);
  }
  size_t line = v->start_mark.line + 1, col = v->start_mark.column + 1;
  if (o->flags & OPT_RESERVED) {
    h2k_config_warn(cfg,
                    "%s:%zu: '%s' is reserved for a feature that is not "
                    "implemented yet (%s); ignored",
                    name, k->start_mark.line + 1, key,
                    o->group == G_RESERVED ? "daemon / vSphere / Windows" : "");
    const char *txt = v->type == YAML_SCALAR_NODE
                          ? (const char *)v->data.scalar.value
                          : node_kind(v);
    h2k_value *val = &cfg->v[o->id];
    free(val->text);
    free(val->file);
    val->text = strdup(txt);
    val->file = strdup(name);
    val->line = (int)line;
    val->source = H2K_SRC_FILE;
    return 0;
  }
  if (scalar_is_null(v))
    return 0; /* "key:" with no value leaves the option as it was */
  if (o->type == T_LIST &&
      (v->type == YAML_SCALAR_NODE || v->type == YAML_SEQUENCE_NODE))
    return load_list(cfg, o, doc, v, name);
  if (v->type != YAML_SCALAR_NODE) {
    h2k_err_set(err, H2K_E_USAGE, "%s:%zu:%zu: '%s' expects a %s, got %s", name,
                line, col, key, h2k_option_type_name(o->type), node_kind(v));
    return -1;
  }
  char where[512];
  snprintf(where, sizeof where, "%s:%zu:%zu", name, line, col);
  if (h2k_config_set(cfg, o, (const char *)v->data.scalar.value, H2K_SRC_FILE,
                     name, (int)line, where, err) < 0)
    return -1;
  if (strcmp(raw_key, key) != 0 && strcmp(raw_key, "command") != 0) {
    free(cfg->v[o->id].via_key);
    cfg->v[o->id].via_key = strdup(raw_key);
  }
  return 0;
}

/* Reject a key given twice in one mapping (YAML says keys are unique). */
static int check_duplicates(yaml_document_t *doc, const yaml_node_t *root,
                            const char *name, h2k_error *err) {
  for (yaml_node_pair_t *a = root->data.mapping.pairs.start;
       a < root->data.mapping.pairs.top; a++) {
    yaml_node_t *ka = yaml_document_get_node(doc, a->key);
    if (!ka || ka->type != YAML_SCALAR_NODE)
      continue;
    char na[128];
    normalise_key((const char *)ka->data.scalar.value, na, sizeof na);
    for (yaml_node_pair_t *b = root->data.mapping.pairs.start; b < a; b++) {
      yaml_node_t *kb = yaml_document_get_node(doc, b->key);
      if (!kb || kb->type != YAML_SCALAR_NODE)
        continue;
      char nb[128];
      normalise_key((const char *)kb->data.scalar.value, nb, sizeof nb);
      if (!strcmp(na, nb)) {
        h2k_err_set(err, H2K_E_USAGE,
                    "%s:%zu: duplicate key '%s' (first given at line %zu)",
                    name, ka->start_mark.line + 1,
                    (const char *)ka->data.scalar.value,
                    kb->start_mark.line + 1);
        return -1;
      }
    }
  }
  return 0;
}

static int load_document(h2k_config *cfg, yaml_document_t *doc,
                         const char *name, h2k_error *err) {
  yaml_node_t *root = yaml_document_get_root_node(doc);
  if (!root || scalar_is_null(root))
    return 0; /* an empty file sets nothing */
  if (root->type != YAML_MAPPING_NODE) {
    h2k_err_set(err, H2K_E_USAGE,
                "%s:%zu:%zu: a configuration file must be a mapping of "
                "'key: value' lines, got %s",
                name, root->start_mark.line + 1, root->start_mark.column + 1,
                node_kind(root));
    return -1;
  }
  if (check_duplicates(doc, root, name, err) < 0)
    return -1;
  for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
       p < root->data.mapping.pairs.top; p++) {
    yaml_node_t *k = yaml_document_get_node(doc, p->key);
    yaml_node_t *v = yaml_document_get_node(doc, p->value);
    if (!k || !v)
      continue;
    if (load_pair(cfg, doc, k, v, name, err) < 0)
      return -1;
  }
  return 0;
}

int h2k_config_load_yaml_string(h2k_config *cfg, const char *text,
                                const char *name, h2k_error *err) {
  yaml_parser_t parser;
  yaml_document_t doc;
  if (!yaml_parser_initialize(&parser)) {
    h2k_err_set(err, H2K_E_FAIL, "cannot initialise the YAML parser");
    return -1;
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)text,
                               strlen(text));
  if (!yaml_parser_load(&parser, &doc)) {
    h2k_err_set(err, H2K_E_USAGE, "%s:%zu:%zu: YAML syntax error: %s%s%s", name,
                parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                parser.problem ? parser.problem : "invalid document",
                parser.context ? " " : "",
                parser.context ? parser.context : "");
    yaml_parser_delete(&parser);
    return -1;
  }
  int rc = load_document(cfg, &doc, name, err);
  yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
  return rc;
}

int h2k_config_load_yaml(h2k_config *cfg, const char *path, h2k_error *err) {
  char *text = h2k_read_file(path, MAX_CONFIG_BYTES, NULL, err);
  if (!text) {
    err->code = H2K_E_USAGE;
    h2k_err_wrap(err, "cannot load configuration file '%s'", path);
    return -1;
  }
  int rc = h2k_config_load_yaml_string(cfg, text, path, err);
  free(text);
  return rc;
}
