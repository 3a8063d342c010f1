#include "config/config.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/util.h"

h2k_config *h2k_config_new(void) {
  h2k_config *cfg = calloc(1, sizeof *cfg);
  if (!cfg)
    return NULL;
  for (size_t i = 0; i < H2K_OPT_COUNT_; i++) {
    const h2k_option_def *o = &h2k_options[i];
    if (o->def && o->type != T_LIST && o->type != T_ANY)
      h2k_config_set(cfg, o, o->def, H2K_SRC_DEFAULT, NULL, 0, "default", NULL);
  }
  return cfg;
}

static void value_clear(h2k_value *v) {
  free(v->file);
  free(v->text);
  free(v->via_key);
  for (size_t j = 0; j < v->n_list; j++)
    free(v->list[j]);
  free(v->list);
  memset(v, 0, sizeof *v);
}

void h2k_config_free(h2k_config *cfg) {
  if (!cfg)
    return;
  for (size_t i = 0; i < H2K_OPT_COUNT_; i++)
    value_clear(&cfg->v[i]);
  for (size_t i = 0; i < cfg->n_positional; i++)
    free(cfg->positional[i]);
  free(cfg->positional);
  for (size_t i = 0; i < cfg->n_warnings; i++)
    free(cfg->warnings[i]);
  free(cfg->warnings);
  free(cfg);
}

void h2k_config_warn(h2k_config *cfg, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  h2k_strv_vprintf(&cfg->warnings, &cfg->n_warnings, fmt, ap);
  va_end(ap);
}

/* Is `text` one of the "a|b|c" choices? */
static bool enum_has(const char *choices, const char *text) {
  size_t n = strlen(text);
  for (const char *p = choices; *p;) {
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    if (len == n && strncmp(p, text, n) == 0)
      return true;
    if (!bar)
      break;
    p = bar + 1;
  }
  return false;
}

/* Accepted spellings that map onto a documented choice. */
static const char *enum_alias(const h2k_option_def *o, const char *text) {
  if (o->id == H2K_OPT_FSTAB_MODE && strcmp(text, "minimal") == 0)
    return "bypath-only";
  if (o->id == H2K_OPT_CMD && strcmp(text, "vhdx") == 0)
    return "vhd";
  return NULL;
}

static int int_range(const h2k_option_def *o, long long *lo, long long *hi) {
  *lo = 0;
  *hi = (long long)1 << 62;
  if (o->choices && sscanf(o->choices, "%lld..%lld", lo, hi) == 2)
    return 0;
  return 0;
}

/* Parse `text` into `v` per the option's type. */
static int parse_value(const h2k_option_def *o, const char *text, h2k_value *v,
                       const char *where, h2k_error *err) {
  switch (o->type) {
  case T_BOOL:
    if (h2k_parse_bool(text, &v->b) < 0) {
      h2k_err_set(err, H2K_E_USAGE, "%s: '%s' expects true or false, got '%s'",
                  where, o->key, text);
      return -1;
    }
    return 0;
  case T_INT: {
    long long lo, hi;
    int_range(o, &lo, &hi);
    if (h2k_parse_int(text, lo, hi, &v->i) < 0) {
      h2k_err_set(err, H2K_E_USAGE,
                  "%s: '%s' expects an integer in %lld..%lld, got '%s'", where,
                  o->key, lo, hi, text);
      return -1;
    }
    return 0;
  }
  case T_SIZE:
    if (h2k_parse_size(text, &v->u) < 0) {
      h2k_err_set(err, H2K_E_USAGE,
                  "%s: '%s' expects a size such as 512M or 4G, got '%s'", where,
                  o->key, text);
      return -1;
    }
    return 0;
  case T_DURATION:
    if (h2k_parse_duration(text, &v->u) < 0) {
      h2k_err_set(err, H2K_E_USAGE,
                  "%s: '%s' expects a duration such as 90s, 30m, 24h or 7d, "
                  "got '%s'",
                  where, o->key, text);
      return -1;
    }
    return 0;
  case T_ENUM:
    if (!enum_has(o->choices, text)) {
      h2k_err_set(err, H2K_E_USAGE, "%s: '%s' must be one of %s, got '%s'",
                  where, o->key, o->choices, text);
      return -1;
    }
    return 0;
  case T_PATH:
  case T_STRING:
    if (!*text) {
      h2k_err_set(err, H2K_E_USAGE, "%s: '%s' must not be empty", where,
                  o->key);
      return -1;
    }
    return 0;
  case T_LIST:
  case T_ANY:
    return 0;
  }
  return 0;
}

int h2k_config_set(h2k_config *cfg, const h2k_option_def *o, const char *text,
                   enum h2k_source src, const char *file, int line,
                   const char *where, h2k_error *err) {
  h2k_value *v = &cfg->v[o->id];
  if (v->text && v->source > src)
    return 0; /* a stronger source already set it */
  const char *alias = o->type == T_ENUM ? enum_alias(o, text) : NULL;
  if (alias)
    text = alias;
  h2k_value nv = {0};
  if (parse_value(o, text, &nv, where, err) < 0)
    return -1;
  value_clear(v);
  *v = nv;
  v->source = src;
  v->text = strdup(text);
  v->file = h2k_strdup0(file);
  v->line = line;
  return 0;
}

int h2k_config_list_add(h2k_config *cfg, const h2k_option_def *o,
                        const char *text, enum h2k_source src, const char *file,
                        int line) {
  h2k_value *v = &cfg->v[o->id];
  if (v->text && v->source > src)
    return 0;
  if (v->text && v->source < src)
    value_clear(v);
  char **l = realloc(v->list, (v->n_list + 1) * sizeof *l);
  if (!l)
    return -1;
  v->list = l;
  v->list[v->n_list++] = strdup(text);
  free(v->text);
  v->text = strdup(text);
  v->source = src;
  free(v->file);
  v->file = h2k_strdup0(file);
  v->line = line;
  return 0;
}

int h2k_config_load_env(h2k_config *cfg, h2k_error *err) {
  for (size_t i = 0; i < H2K_OPT_COUNT_; i++) {
    const h2k_option_def *o = &h2k_options[i];
    char name[96];
    h2k_option_env_name(o, name, sizeof name);
    if (!name[0])
      continue;
    const char *val = getenv(name);
    if (!val)
      continue;
    if (o->type == T_LIST) {
      h2k_config_list_add(cfg, o, val, H2K_SRC_ENV, NULL, 0);
      continue;
    }
    if (h2k_config_set(cfg, o, val, H2K_SRC_ENV, NULL, 0, name, err) < 0)
      return -1;
  }
  return 0;
}

bool h2k_cfg_bool(const h2k_config *cfg, enum h2k_opt_id id) {
  return cfg->v[id].text ? cfg->v[id].b : false;
}

long long h2k_cfg_int(const h2k_config *cfg, enum h2k_opt_id id) {
  return cfg->v[id].text ? cfg->v[id].i : 0;
}

uint64_t h2k_cfg_u64(const h2k_config *cfg, enum h2k_opt_id id) {
  return cfg->v[id].text ? cfg->v[id].u : 0;
}

const char *h2k_cfg_str(const h2k_config *cfg, enum h2k_opt_id id) {
  return cfg->v[id].text;
}

bool h2k_cfg_is_set(const h2k_config *cfg, enum h2k_opt_id id) {
  return cfg->v[id].text != NULL && cfg->v[id].source != H2K_SRC_DEFAULT;
}

enum h2k_source h2k_cfg_source(const h2k_config *cfg, enum h2k_opt_id id) {
  return cfg->v[id].source;
}

const char *h2k_cfg_source_text(const h2k_config *cfg, enum h2k_opt_id id,
                                char *buf, size_t cap) {
  const h2k_value *v = &cfg->v[id];
  char env[96];
  switch (v->source) {
  case H2K_SRC_DEFAULT:
    snprintf(buf, cap, "default");
    break;
  case H2K_SRC_ENV:
    snprintf(buf, cap, "env:%s",
             h2k_option_env_name(&h2k_options[id], env, sizeof env));
    break;
  case H2K_SRC_FILE:
    snprintf(buf, cap, "file:%s:%d", v->file ? v->file : "?", v->line);
    break;
  case H2K_SRC_CLI:
    snprintf(buf, cap, "cli");
    break;
  }
  if (v->via_key) {
    size_t n = strlen(buf);
    snprintf(buf + n, cap - n, " (as '%s')", v->via_key);
  }
  return buf;
}

char *h2k_cfg_conversion_dir(const h2k_config *cfg) {
  const h2k_value *cd = &cfg->v[H2K_OPT_CONVERSION_DIR];
  const h2k_value *wd = &cfg->v[H2K_OPT_WORKDIR];
  /* An explicit conversion_dir wins; the older 'workdir' key is used when
   * it comes from a stronger source than the default. */
  if (cd->text && cd->source != H2K_SRC_DEFAULT &&
      (!wd->text || cd->source >= wd->source))
    return h2k_expand_home(cd->text);
  if (wd->text)
    return h2k_expand_home(wd->text);
  const char *xdg = getenv("XDG_CACHE_HOME");
  if (xdg && xdg[0] == '/')
    return h2k_strdup_printf("%s/hyper2kvm/conversions", xdg);
  return h2k_expand_home("~/.cache/hyper2kvm/conversions");
}

static void value_display(const h2k_config *cfg, const h2k_option_def *o,
                          h2k_buf *out) {
  const h2k_value *v = &cfg->v[o->id];
  if (o->flags & OPT_SECRET && v->text) {
    h2k_buf_printf(out, "***");
    return;
  }
  if (o->id == H2K_OPT_CONVERSION_DIR) {
    char *d = h2k_cfg_conversion_dir(cfg);
    h2k_buf_printf(out, "%s", d ? d : "");
    free(d);
    return;
  }
  if (o->type == T_LIST) {
    h2k_buf_printf(out, "[");
    for (size_t i = 0; i < v->n_list; i++)
      h2k_buf_printf(out, "%s%s", i ? ", " : "", v->list[i]);
    h2k_buf_printf(out, "]");
    return;
  }
  h2k_buf_printf(out, "%s", v->text ? v->text : "~");
}

void h2k_config_dump(const h2k_config *cfg, FILE *out, bool json) {
  json_object *root = json ? json_object_new_object() : NULL;
  for (size_t i = 0; i < H2K_OPT_COUNT_; i++) {
    const h2k_option_def *o = &h2k_options[i];
    const h2k_value *v = &cfg->v[i];
    if (o->flags & OPT_CLI_ONLY && o->type != T_LIST)
      continue;
    if ((o->flags & (OPT_RESERVED | OPT_ALIAS | OPT_INPUT)) && !v->text)
      continue;
    h2k_buf val = {0};
    value_display(cfg, o, &val);
    char src[512];
    h2k_cfg_source_text(cfg, o->id, src, sizeof src);
    if (root) {
      json_object *e = json_object_new_object();
      json_object_object_add(e, "value", json_object_new_string(val.data));
      json_object_object_add(e, "source", json_object_new_string(src));
      json_object_object_add(root, o->key, e);
    } else {
      char key[64];
      snprintf(key, sizeof key, "%s:", o->key);
      fprintf(out, "%-22s %-40s # %s\n", key, val.data, src);
    }
    h2k_buf_free(&val);
  }
  if (root) {
    fprintf(out, "%s\n",
            json_object_to_json_string_ext(
                root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                          JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(root);
  }
}
