/* OVF descriptor reader. See ovf.h for what it produces.
 *
 * Elements and attributes are matched by local name, so the rasd:, sasd:
 * and epasd: item flavours of OVF 2 and the ovf:/vmw: attribute prefixes
 * of the various exporters all read the same way. Only the root element's
 * namespace is checked.
 */
#include "core/util.h"
#include "vm/ovf.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#define OVF1_NS "http://schemas.dmtf.org/ovf/envelope/1"
#define OVF2_NS "http://schemas.dmtf.org/ovf/envelope/2"

/* Bound on chunk files per disk (ovftool's default chunk is 2 GiB...). */
#define MAX_CHUNKS 100000
/* Far above any real VM; keeps the linear lookups cheap on hostile input. */
#define MAX_DEVICES 1024
#define MAX_CONTROLLERS 256

typedef struct ovf_controller {
  char *instance_id;
  enum h2k_bus bus;
  int index;
  char *model;
  int devices; /* devices met so far, the default unit */
} ovf_controller;

typedef struct ovf_ctx {
  const char *name; /* for messages */
  const char *dir;  /* for hrefs, may be NULL */
  h2k_vm *vm;
  h2k_error *err;
  xmlNodePtr envelope;
  xmlNodePtr references;
  xmlNodePtr vs; /* the chosen VirtualSystem */
  ovf_controller *ctls;
  size_t n_ctls;
  bool oom;
} ovf_ctx;

/* ---- XML helpers ---- */

static bool is_elem(xmlNodePtr n, const char *local) {
  return n && n->type == XML_ELEMENT_NODE &&
         strcmp((const char *)n->name, local) == 0;
}

static xmlNodePtr child(xmlNodePtr parent, const char *local) {
  for (xmlNodePtr c = parent ? parent->children : NULL; c; c = c->next)
    if (is_elem(c, local))
      return c;
  return NULL;
}

static char *trimmed_dup(const char *s) {
  while (isspace((unsigned char)*s))
    s++;
  size_t len = strlen(s);
  while (len && isspace((unsigned char)s[len - 1]))
    len--;
  return strndup(s, len);
}

/* Trimmed text content of a node (malloc'd), NULL when empty. */
static char *node_text(ovf_ctx *ctx, xmlNodePtr n) {
  if (!n)
    return NULL;
  xmlChar *raw = xmlNodeGetContent(n);
  if (!raw)
    return NULL;
  char *t = trimmed_dup((const char *)raw);
  xmlFree(raw);
  if (!t)
    ctx->oom = true;
  else if (!*t) {
    free(t);
    t = NULL;
  }
  return t;
}

static char *child_text(ovf_ctx *ctx, xmlNodePtr parent, const char *local) {
  return node_text(ctx, child(parent, local));
}

/* Attribute by local name, whatever its prefix (malloc'd, trimmed). */
static char *attr(ovf_ctx *ctx, xmlNodePtr n, const char *local) {
  for (xmlAttrPtr a = n->properties; a; a = a->next) {
    if (strcmp((const char *)a->name, local) != 0)
      continue;
    xmlChar *raw = xmlNodeListGetString(n->doc, a->children, 1);
    char *t = trimmed_dup(raw ? (const char *)raw : "");
    xmlFree(raw);
    if (!t)
      ctx->oom = true;
    return t;
  }
  return NULL;
}

static int out_of_memory(ovf_ctx *ctx) {
  ctx->oom = true;
  return -1;
}

static int line_of(xmlNodePtr n) {
  return (int)xmlGetLineNo(n);
}

static void warn(ovf_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void warn(ovf_ctx *ctx, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (h2k_vm_add_warning(ctx->vm, "%s: %s", ctx->name, msg) < 0)
    ctx->oom = true;
}

/* Set an H2K_E_INPUT error located at element n. */
static int fail_at(ovf_ctx *ctx, xmlNodePtr n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_at(ovf_ctx *ctx, xmlNodePtr n, const char *fmt, ...) {
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (n)
    h2k_err_set(ctx->err, H2K_E_INPUT, "%s: <%s> at line %d: %s", ctx->name,
                (const char *)n->name, line_of(n), msg);
  else
    h2k_err_set(ctx->err, H2K_E_INPUT, "%s: %s", ctx->name, msg);
  return -1;
}

/* ---- numbers and units ---- */

static int parse_u64(const char *s, uint64_t *out) {
  if (!s || !isdigit((unsigned char)*s))
    return -1;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end)
    return -1;
  *out = v;
  return 0;
}

/* Multiplier of an allocation-units string: "byte", "byte * 2^30",
 * "byte * 1024", "MegaBytes", "KB", ... */
static int parse_units(const char *units, uint64_t *mult) {
  char buf[64];
  size_t n = 0;
  for (const char *p = units; *p; p++) {
    if (isspace((unsigned char)*p))
      continue;
    if (n + 1 >= sizeof buf)
      return -1;
    buf[n++] = (char)tolower((unsigned char)*p);
  }
  buf[n] = '\0';
  static const struct {
    const char *name;
    unsigned shift;
  } named[] = {{"byte", 0},       {"bytes", 0}, {"kilobytes", 10}, {"kb", 10},
               {"megabytes", 20}, {"mb", 20},   {"gigabytes", 30}, {"gb", 30},
               {"terabytes", 40}, {"tb", 40}};
  for (size_t i = 0; i < sizeof named / sizeof *named; i++)
    if (!strcmp(buf, named[i].name)) {
      *mult = (uint64_t)1 << named[i].shift;
      return 0;
    }
  const char *expr = buf;
  if (!strncmp(expr, "bytes*", 6))
    expr += 6;
  else if (!strncmp(expr, "byte*", 5))
    expr += 5;
  unsigned base, exp;
  char tail;
  if (sscanf(expr, "%u^%u%c", &base, &exp, &tail) == 2) {
    uint64_t v = 1;
    if (base < 2 || base > 10 || exp > 63)
      return -1;
    for (unsigned i = 0; i < exp; i++) {
      if (v > UINT64_MAX / base)
        return -1;
      v *= base;
    }
    *mult = v;
    return 0;
  }
  uint64_t v;
  if (parse_u64(expr, &v) == 0 && v > 0) {
    *mult = v;
    return 0;
  }
  return -1;
}

/* quantity * units, with overflow and syntax errors reported at n. */
static int scaled(ovf_ctx *ctx, xmlNodePtr n, const char *what, const char *qty,
                  const char *units, uint64_t dflt_mult, uint64_t *out) {
  uint64_t q, mult = dflt_mult;
  if (parse_u64(qty, &q) < 0)
    return fail_at(ctx, n, "%s \"%s\" is not a whole number", what, qty);
  if (units && parse_units(units, &mult) < 0)
    return fail_at(ctx, n, "%s units \"%s\" are not understood", what, units);
  if (mult && q > UINT64_MAX / mult)
    return fail_at(ctx, n, "%s %s x %s overflows", what, qty, units);
  *out = q * mult;
  return 0;
}

/* ---- References ---- */

static xmlNodePtr find_by_attr(ovf_ctx *ctx, xmlNodePtr parent,
                               const char *elem, const char *attr_name,
                               const char *value) {
  for (xmlNodePtr c = parent ? parent->children : NULL; c; c = c->next) {
    if (!is_elem(c, elem))
      continue;
    char *v = attr(ctx, c, attr_name);
    bool match = v && !strcmp(v, value);
    free(v);
    if (match)
      return c;
  }
  return NULL;
}

/* An href must stay inside the package: relative, no "..", no URL. */
static int check_href(ovf_ctx *ctx, xmlNodePtr file, const char *href) {
  if (!*href)
    return fail_at(ctx, file, "ovf:href is empty");
  if (strstr(href, "://"))
    return fail_at(ctx, file,
                   "ovf:href \"%s\" is a URL; only files beside "
                   "the descriptor are supported",
                   href);
  if (href[0] == '/' || href[0] == '\\')
    return fail_at(ctx, file, "ovf:href \"%s\" is an absolute path", href);
  for (const char *p = href; (p = strstr(p, "..")); p += 2) {
    bool start = p == href || p[-1] == '/' || p[-1] == '\\';
    bool end = !p[2] || p[2] == '/' || p[2] == '\\';
    if (start && end)
      return fail_at(ctx, file, "ovf:href \"%s\" leaves the package directory",
                     href);
  }
  return 0;
}

static int fill_chunks(ovf_ctx *ctx, xmlNodePtr file, h2k_vm_disk *d) {
  if (!d->file_size)
    return fail_at(ctx, file,
                   "ovf:chunkSize without ovf:size: the number of chunks of "
                   "\"%s\" is unknown",
                   d->ovf_href);
  uint64_t n =
      d->file_size / d->chunk_size + (d->file_size % d->chunk_size ? 1 : 0);
  if (n > MAX_CHUNKS)
    return fail_at(ctx, file, "\"%s\" would have %llu chunks (limit %d)",
                   d->ovf_href, (unsigned long long)n, MAX_CHUNKS);
  d->chunks = calloc((size_t)n, sizeof *d->chunks);
  if (!d->chunks)
    return out_of_memory(ctx);
  for (size_t i = 0; i < (size_t)n; i++) {
    char name[4096];
    snprintf(name, sizeof name, "%s.%09zu", d->ovf_href, i);
    d->chunks[i] = h2k_path_join(ctx->dir, name);
    if (!d->chunks[i])
      return out_of_memory(ctx);
    d->n_chunks = i + 1;
  }
  return 0;
}

/* Copy what References/File says about file into the disk. */
static int fill_from_file(ovf_ctx *ctx, xmlNodePtr file, h2k_vm_disk *d) {
  d->ovf_href = attr(ctx, file, "href");
  d->ovf_file_id = attr(ctx, file, "id");
  if (!d->ovf_href)
    return fail_at(ctx, file, "File \"%s\" has no ovf:href",
                   d->ovf_file_id ? d->ovf_file_id : "?");
  if (check_href(ctx, file, d->ovf_href) < 0)
    return -1;
  d->path = h2k_path_join(ctx->dir, d->ovf_href);
  if (!d->path)
    return out_of_memory(ctx);
  char *size = attr(ctx, file, "size");
  char *chunk = attr(ctx, file, "chunkSize");
  char *comp = attr(ctx, file, "compression");
  int rc = 0;
  if (size && parse_u64(size, &d->file_size) < 0)
    rc = fail_at(ctx, file, "ovf:size \"%s\" is not a number", size);
  else if (chunk && (parse_u64(chunk, &d->chunk_size) < 0 || !d->chunk_size))
    rc = fail_at(ctx, file, "ovf:chunkSize \"%s\" is not a positive number",
                 chunk);
  else if (comp && !strcasecmp(comp, "gzip"))
    d->gzip = true;
  else if (comp && *comp && strcasecmp(comp, "identity") != 0)
    rc = fail_at(ctx, file,
                 "ovf:compression \"%s\" is not supported "
                 "(only gzip)",
                 comp);
  if (rc == 0 && d->chunk_size)
    rc = fill_chunks(ctx, file, d);
  free(size);
  free(chunk);
  free(comp);
  return rc;
}

static xmlNodePtr find_file(ovf_ctx *ctx, const char *id) {
  return find_by_attr(ctx, ctx->references, "File", "id", id);
}

/* ---- DiskSection ---- */

/* The <Disk ovf:diskId=id>, searched in every DiskSection of the envelope
 * and of the collections/system on the way to the chosen system. */
static xmlNodePtr find_disk(ovf_ctx *ctx, const char *id) {
  for (xmlNodePtr scope = ctx->vs; scope; scope = scope->parent) {
    if (scope->type != XML_ELEMENT_NODE)
      break;
    for (xmlNodePtr s = scope->children; s; s = s->next) {
      if (!is_elem(s, "DiskSection"))
        continue;
      xmlNodePtr d = find_by_attr(ctx, s, "Disk", "diskId", id);
      if (d)
        return d;
    }
  }
  return NULL;
}

static const char *format_from_url(const char *url, bool *stream_optimized) {
  char low[512];
  size_t i = 0;
  for (; url[i] && i + 1 < sizeof low; i++)
    low[i] = (char)tolower((unsigned char)url[i]);
  low[i] = '\0';
  *stream_optimized = strstr(low, "streamoptimized") != NULL;
  if (strstr(low, "vmdk"))
    return "vmdk";
  if (strstr(low, "qcow"))
    return "qcow2";
  if (strstr(low, "vhdx"))
    return "vhdx";
  if (strstr(low, "vhd"))
    return "vpc";
  return NULL;
}

static int fill_capacity(ovf_ctx *ctx, xmlNodePtr disk, h2k_vm_disk *d) {
  char *cap = attr(ctx, disk, "capacity");
  char *units = attr(ctx, disk, "capacityAllocationUnits");
  int rc = 0;
  if (!cap)
    warn(ctx, "<Disk> at line %d has no ovf:capacity", line_of(disk));
  else if (cap[0] == '$')
    warn(ctx,
         "<Disk> at line %d: ovf:capacity \"%s\" is a property; "
         "capacity unknown",
         line_of(disk), cap);
  else
    rc = scaled(ctx, disk, "ovf:capacity", cap, units, 1, &d->capacity);
  free(cap);
  free(units);
  return rc;
}

static int fill_from_disk(ovf_ctx *ctx, xmlNodePtr disk, h2k_vm_disk *d) {
  if (fill_capacity(ctx, disk, d) < 0)
    return -1;
  d->ovf_format = attr(ctx, disk, "format");
  if (d->ovf_format) {
    const char *fmt = format_from_url(d->ovf_format, &d->stream_optimized);
    if (fmt && !(d->format = strdup(fmt)))
      return out_of_memory(ctx);
  }
  char *ref = attr(ctx, disk, "fileRef");
  if (!ref || !*ref) {
    free(ref);
    warn(ctx, "disk \"%s\" (line %d) has no ovf:fileRef: a blank disk",
         d->ovf_disk_id, line_of(disk));
    return 0;
  }
  xmlNodePtr file = find_file(ctx, ref);
  if (!file) {
    fail_at(ctx, disk,
            "ovf:fileRef \"%s\" of disk \"%s\" names no File in "
            "References",
            ref, d->ovf_disk_id);
    free(ref);
    return -1;
  }
  free(ref);
  return fill_from_file(ctx, file, d);
}

/* ---- controllers ---- */

static const char *scsi_model(const char *sub) {
  static const struct {
    const char *ovf, *model;
  } map[] = {{"lsilogic", "lsilogic"},
             {"lsilogicsas", "lsisas1068"},
             {"VirtualSCSI", "pvscsi"},
             {"pvscsi", "pvscsi"},
             {"buslogic", "buslogic"}};
  for (size_t i = 0; i < sizeof map / sizeof *map; i++)
    if (!strcasecmp(sub, map[i].ovf))
      return map[i].model;
  return NULL;
}

static void free_controllers(ovf_ctx *ctx) {
  for (size_t i = 0; i < ctx->n_ctls; i++) {
    free(ctx->ctls[i].instance_id);
    free(ctx->ctls[i].model);
  }
  free(ctx->ctls);
}

/* Controller bus for an Item, or H2K_BUS_UNKNOWN if it is not one. */
static enum h2k_bus controller_bus(int type, const char *sub) {
  if (sub && strcasestr(sub, "nvme"))
    return H2K_BUS_NVME;
  switch (type) {
  case 5:
    return H2K_BUS_IDE;
  case 6:
    return H2K_BUS_SCSI;
  case 20:
    return H2K_BUS_SATA;
  default:
    return H2K_BUS_UNKNOWN;
  }
}

static int next_index(const ovf_ctx *ctx, enum h2k_bus bus) {
  int n = 0;
  for (size_t i = 0; i < ctx->n_ctls; i++)
    if (ctx->ctls[i].bus == bus)
      n++;
  return n;
}

static const char *model_for(ovf_ctx *ctx, xmlNodePtr item, enum h2k_bus bus,
                             const char *sub) {
  switch (bus) {
  case H2K_BUS_IDE:
    return "ide";
  case H2K_BUS_SATA:
    return "ahci";
  case H2K_BUS_NVME:
    return "nvme";
  default:
    break;
  }
  const char *m = sub ? scsi_model(sub) : NULL;
  if (!m && sub)
    warn(ctx, "SCSI controller at line %d: ResourceSubType \"%s\" is unknown",
         line_of(item), sub);
  return m ? m : sub;
}

static int add_controller(ovf_ctx *ctx, xmlNodePtr item, int type) {
  char *sub = child_text(ctx, item, "ResourceSubType");
  enum h2k_bus bus = controller_bus(type, sub);
  char *id = child_text(ctx, item, "InstanceID");
  char *addr = child_text(ctx, item, "Address");
  int rc = 0;
  if (!id) {
    rc = fail_at(ctx, item, "controller Item has no InstanceID");
    goto out;
  }
  ovf_controller *grown =
      realloc(ctx->ctls, (ctx->n_ctls + 1) * sizeof *ctx->ctls);
  if (!grown) {
    rc = out_of_memory(ctx);
    goto out;
  }
  ctx->ctls = grown;
  ovf_controller *c = &ctx->ctls[ctx->n_ctls++];
  uint64_t index;
  *c = (ovf_controller){.instance_id = id, .bus = bus};
  id = NULL;
  c->index = addr && parse_u64(addr, &index) == 0 && index < 64
                 ? (int)index
                 : next_index(ctx, bus) - 1;
  const char *model = model_for(ctx, item, bus, sub);
  if (model && !(c->model = strdup(model)))
    rc = out_of_memory(ctx);
out:
  free(sub);
  free(id);
  free(addr);
  return rc;
}

static ovf_controller *find_controller(ovf_ctx *ctx, const char *id) {
  for (size_t i = 0; i < ctx->n_ctls; i++)
    if (!strcmp(ctx->ctls[i].instance_id, id))
      return &ctx->ctls[i];
  return NULL;
}

/* Bus, controller number, unit and model of a device Item. */
static int place_device(ovf_ctx *ctx, xmlNodePtr item, enum h2k_bus *bus,
                        int *index, int *unit, char **model) {
  char *parent = child_text(ctx, item, "Parent");
  char *addr = child_text(ctx, item, "AddressOnParent");
  ovf_controller *c = parent ? find_controller(ctx, parent) : NULL;
  uint64_t u;
  int rc = 0;
  *bus = H2K_BUS_UNKNOWN;
  *index = *unit = 0;
  if (parent && !c)
    warn(ctx, "Item at line %d: rasd:Parent \"%s\" is not a controller",
         line_of(item), parent);
  if (c) {
    *bus = c->bus;
    *index = c->index;
    *unit = c->devices++;
    if (c->model && !(*model = strdup(c->model)))
      rc = out_of_memory(ctx);
  }
  if (addr && parse_u64(addr, &u) == 0 && u < 1024)
    *unit = (int)u;
  else if (addr)
    warn(ctx, "Item at line %d: AddressOnParent \"%s\" is not a unit number",
         line_of(item), addr);
  free(parent);
  free(addr);
  return rc;
}

/* ---- device Items ---- */

/* "ovf:/disk/ID" -> "ID" for kind "disk"; NULL when another form. */
static const char *resource_ref(const char *host, const char *kind) {
  static const char *const prefixes[] = {"ovf:/", "ovf://", "/"};
  size_t kl = strlen(kind);
  for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
    size_t pl = strlen(prefixes[i]);
    if (!strncmp(host, prefixes[i], pl) && !strncmp(host + pl, kind, kl) &&
        host[pl + kl] == '/')
      return host + pl + kl + 1;
  }
  return NULL;
}

static int resolve_disk_resource(ovf_ctx *ctx, xmlNodePtr item,
                                 const char *host, h2k_vm_disk *d) {
  const char *id = resource_ref(host, "disk");
  if (id) {
    xmlNodePtr disk = find_disk(ctx, id);
    if (!disk)
      return fail_at(ctx, item,
                     "HostResource \"%s\" names no Disk in "
                     "DiskSection",
                     host);
    if (!(d->ovf_disk_id = strdup(id)))
      return out_of_memory(ctx);
    return fill_from_disk(ctx, disk, d);
  }
  id = resource_ref(host, "file");
  if (id) {
    xmlNodePtr file = find_file(ctx, id);
    if (!file)
      return fail_at(ctx, item,
                     "HostResource \"%s\" names no File in "
                     "References",
                     host);
    return fill_from_file(ctx, file, d);
  }
  return fail_at(ctx, item,
                 "HostResource \"%s\" is not ovf:/disk/<id> or "
                 "ovf:/file/<id>",
                 host);
}

static int add_disk(ovf_ctx *ctx, xmlNodePtr item) {
  char *host = child_text(ctx, item, "HostResource");
  if (!host)
    return fail_at(ctx, item, "disk Item has no HostResource");
  h2k_vm_disk *d = h2k_vm_add_disk(ctx->vm);
  int rc = -1;
  if (!d)
    ctx->oom = true;
  else if (place_device(ctx, item, &d->bus, &d->bus_index, &d->unit,
                        &d->controller) == 0)
    rc = resolve_disk_resource(ctx, item, host, d);
  if (rc == 0)
    d->boot_order = (int)ctx->vm->n_disks;
  free(host);
  return rc;
}

static int add_cdrom(ovf_ctx *ctx, xmlNodePtr item) {
  h2k_vm_cdrom *cd = h2k_vm_add_cdrom(ctx->vm);
  if (!cd)
    return out_of_memory(ctx);
  if (place_device(ctx, item, &cd->bus, &cd->bus_index, &cd->unit,
                   &cd->controller) < 0)
    return -1;
  char *host = child_text(ctx, item, "HostResource");
  const char *id = host ? resource_ref(host, "file") : NULL;
  xmlNodePtr file = id ? find_file(ctx, id) : NULL;
  int rc = 0;
  if (id && !file)
    rc = fail_at(ctx, item, "HostResource \"%s\" names no File in References",
                 host);
  if (file) {
    char *href = attr(ctx, file, "href");
    if (href && check_href(ctx, file, href) == 0)
      cd->path = h2k_path_join(ctx->dir, href);
    else
      rc = href ? -1 : fail_at(ctx, file, "File has no ovf:href");
    free(href);
  }
  free(host);
  return rc;
}

static char *nic_model(const char *sub) {
  if (!sub)
    return NULL;
  if (!strcasecmp(sub, "PCNet32"))
    return strdup("vlance");
  char *m = strdup(sub);
  for (char *p = m; p && *p; p++)
    *p = (char)tolower((unsigned char)*p);
  return m;
}

static char *normalise_mac(const char *v) {
  if (strlen(v) != 17)
    return NULL;
  char *mac = strdup(v);
  for (int i = 0; mac && i < 17; i++) {
    bool sep = i % 3 == 2;
    if (sep && (mac[i] == ':' || mac[i] == '-'))
      mac[i] = ':';
    else if (sep || !isxdigit((unsigned char)mac[i])) {
      free(mac);
      return NULL;
    } else
      mac[i] = (char)tolower((unsigned char)mac[i]);
  }
  return mac;
}

static int add_nic(ovf_ctx *ctx, xmlNodePtr item) {
  h2k_vm_nic *nic = h2k_vm_add_nic(ctx->vm);
  if (!nic)
    return out_of_memory(ctx);
  char *sub = child_text(ctx, item, "ResourceSubType");
  char *mac = child_text(ctx, item, "Address");
  nic->model = nic_model(sub);
  nic->network = child_text(ctx, item, "Connection");
  if (mac) {
    nic->mac = normalise_mac(mac);
    if (!nic->mac)
      warn(ctx, "NIC at line %d: Address \"%s\" is not a MAC address",
           line_of(item), mac);
  }
  free(sub);
  free(mac);
  return 0;
}

static int set_cpu(ovf_ctx *ctx, xmlNodePtr item) {
  char *qty = child_text(ctx, item, "VirtualQuantity");
  char *cores = child_text(ctx, item, "CoresPerSocket");
  uint64_t v;
  int rc = 0;
  if (!qty || parse_u64(qty, &v) < 0 || !v || v > 4096)
    rc = fail_at(ctx, item, "CPU VirtualQuantity \"%s\" is not in 1..4096",
                 qty ? qty : "");
  else
    ctx->vm->vcpus = (int)v;
  if (rc == 0 && cores) {
    if (parse_u64(cores, &v) < 0 || !v || v > 4096)
      warn(ctx, "CoresPerSocket \"%s\" at line %d ignored", cores,
           line_of(item));
    else
      ctx->vm->cores_per_socket = (int)v;
  }
  free(qty);
  free(cores);
  return rc;
}

static int set_memory(ovf_ctx *ctx, xmlNodePtr item) {
  char *qty = child_text(ctx, item, "VirtualQuantity");
  char *units = child_text(ctx, item, "AllocationUnits");
  uint64_t bytes = 0;
  int rc;
  if (!qty)
    rc = fail_at(ctx, item, "memory Item has no VirtualQuantity");
  else
    rc = scaled(ctx, item, "memory", qty, units, (uint64_t)1 << 20, &bytes);
  if (rc == 0 && !units)
    warn(ctx, "memory at line %d has no AllocationUnits; assuming MiB",
         line_of(item));
  ctx->vm->memory_mb = bytes >> 20;
  free(qty);
  free(units);
  return rc;
}

static int parse_item(ovf_ctx *ctx, xmlNodePtr item, bool controllers) {
  char *rt = child_text(ctx, item, "ResourceType");
  uint64_t type = 0;
  if (!rt || parse_u64(rt, &type) < 0) {
    free(rt);
    return fail_at(ctx, item, "Item has no numeric ResourceType");
  }
  free(rt);
  bool is_ctl = type == 5 || type == 6 || type == 20;
  if (controllers) {
    if (is_ctl && ctx->n_ctls >= MAX_CONTROLLERS)
      return fail_at(ctx, item, "more than %d controllers", MAX_CONTROLLERS);
    return is_ctl ? add_controller(ctx, item, (int)type) : 0;
  }
  const h2k_vm *vm = ctx->vm;
  if (vm->n_disks + vm->n_cdroms + vm->n_nics >= MAX_DEVICES)
    return fail_at(ctx, item, "more than %d devices", MAX_DEVICES);
  switch (type) {
  case 3:
    return set_cpu(ctx, item);
  case 4:
    return set_memory(ctx, item);
  case 10:
    return add_nic(ctx, item);
  case 15:
  case 16:
    return add_cdrom(ctx, item);
  case 17:
    return add_disk(ctx, item);
  default:
    return 0;
  }
}

static bool is_item(xmlNodePtr n) {
  return is_elem(n, "Item") || is_elem(n, "StorageItem") ||
         is_elem(n, "EthernetPortItem");
}

/* vmw:Config key/value pairs: firmware and secure boot. */
static void parse_config(ovf_ctx *ctx, xmlNodePtr cfg) {
  char *key = attr(ctx, cfg, "key");
  char *value = attr(ctx, cfg, "value");
  if (key && value) {
    if (!strcasecmp(key, "firmware")) {
      if (!strcasecmp(value, "efi"))
        ctx->vm->firmware = H2K_FW_UEFI;
      else if (strcasecmp(value, "bios") != 0)
        warn(ctx, "firmware \"%s\" is unknown; assuming BIOS", value);
    } else if (!strcasecmp(key, "uefi.secureBoot.enabled") ||
               !strcasecmp(key, "bootOptions.efiSecureBootEnabled")) {
      ctx->vm->secure_boot = !strcasecmp(value, "true");
    }
  }
  free(key);
  free(value);
}

static void parse_system_type(ovf_ctx *ctx, xmlNodePtr hw) {
  char *type = child_text(ctx, child(hw, "System"), "VirtualSystemType");
  /* may list several: "vmx-07 vmx-08"; take the first vmx-NN */
  const char *p = type ? strstr(type, "vmx-") : NULL;
  if (p)
    ctx->vm->hw_version = atoi(p + 4);
  free(type);
}

static int parse_hardware(ovf_ctx *ctx) {
  xmlNodePtr hw = child(ctx->vs, "VirtualHardwareSection");
  if (!hw)
    return fail_at(ctx, ctx->vs,
                   "VirtualSystem has no "
                   "VirtualHardwareSection");
  parse_system_type(ctx, hw);
  ctx->vm->firmware = H2K_FW_BIOS;
  for (int pass = 0; pass < 2; pass++) {
    for (xmlNodePtr n = hw->children; n; n = n->next) {
      if (is_item(n) && parse_item(ctx, n, pass == 0) < 0)
        return -1;
      if (pass == 1 && is_elem(n, "Config"))
        parse_config(ctx, n);
      if (ctx->oom)
        return -1;
    }
  }
  if (ctx->vm->secure_boot && ctx->vm->firmware != H2K_FW_UEFI)
    warn(ctx, "secure boot is enabled but firmware is not EFI");
  return 0;
}

/* ---- the virtual system ---- */

static int parse_sections(ovf_ctx *ctx) {
  h2k_vm *vm = ctx->vm;
  xmlNodePtr os = child(ctx->vs, "OperatingSystemSection");
  if (os) {
    char *id = attr(ctx, os, "id");
    uint64_t v;
    if (id && parse_u64(id, &v) == 0 && v < 100000)
      vm->ovf_os_id = (int)v;
    free(id);
    vm->guest_os = attr(ctx, os, "osType");
    if (!vm->guest_os)
      vm->guest_os = child_text(ctx, os, "Description");
  }
  vm->annotation =
      child_text(ctx, child(ctx->vs, "AnnotationSection"), "Annotation");
  xmlNodePtr prod = child(ctx->vs, "ProductSection");
  vm->product = child_text(ctx, prod, "Product");
  vm->product_vendor = child_text(ctx, prod, "Vendor");
  vm->product_version = child_text(ctx, prod, "Version");
  return ctx->oom ? -1 : 0;
}

static char *system_name(ovf_ctx *ctx, xmlNodePtr vs) {
  char *name = child_text(ctx, vs, "Name");
  if (!name)
    name = attr(ctx, vs, "id");
  return name;
}

static void collect_systems(xmlNodePtr parent, xmlNodePtr **list, size_t *n,
                            bool *oom) {
  for (xmlNodePtr c = parent->children; c; c = c->next) {
    if (is_elem(c, "VirtualSystemCollection")) {
      collect_systems(c, list, n, oom);
    } else if (is_elem(c, "VirtualSystem")) {
      xmlNodePtr *grown = realloc(*list, (*n + 1) * sizeof **list);
      if (!grown) {
        *oom = true;
        return;
      }
      *list = grown;
      (*list)[(*n)++] = c;
    }
  }
}

static bool system_matches(ovf_ctx *ctx, xmlNodePtr vs, const char *want) {
  char *name = child_text(ctx, vs, "Name");
  char *id = attr(ctx, vs, "id");
  bool match = (name && !strcmp(name, want)) || (id && !strcmp(id, want));
  free(name);
  free(id);
  return match;
}

/* "a", "b", "c" for messages. */
static void list_names(ovf_ctx *ctx, xmlNodePtr *list, size_t n, char *buf,
                       size_t size) {
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < n && used + 1 < size; i++) {
    char *name = system_name(ctx, list[i]);
    int w = snprintf(buf + used, size - used, "%s\"%s\"", i ? ", " : "",
                     name ? name : "?");
    free(name);
    if (w < 0)
      break;
    used += (size_t)w;
  }
}

static int choose_system(ovf_ctx *ctx, const char *want) {
  xmlNodePtr *list = NULL;
  size_t n = 0;
  collect_systems(ctx->envelope, &list, &n, &ctx->oom);
  if (ctx->oom) {
    free(list);
    return -1;
  }
  for (size_t i = 0; want && i < n && !ctx->vs; i++)
    if (system_matches(ctx, list[i], want))
      ctx->vs = list[i];
  if (!want && n == 1)
    ctx->vs = list[0];
  int rc = 0;
  if (!ctx->vs) {
    char names[600];
    list_names(ctx, list, n, names, sizeof names);
    if (!n)
      rc = fail_at(ctx, NULL, "the envelope has no VirtualSystem");
    else if (want)
      rc = fail_at(ctx, NULL, "no virtual system named \"%s\"; it has %s", want,
                   names);
    else
      rc = fail_at(ctx, NULL,
                   "it holds %zu virtual systems (%s); choose one "
                   "by name",
                   n, names);
  }
  free(list);
  return rc;
}

/* ---- entry points ---- */

static xmlDocPtr read_xml(const char *xml, size_t len, const char *name,
                          h2k_error *err) {
  if (len > H2K_VM_DESCRIPTOR_MAX || len > (size_t)INT32_MAX) {
    h2k_err_set(err, H2K_E_INPUT, "%s is too large for an OVF descriptor",
                name);
    return NULL;
  }
  xmlInitParser();
  xmlParserCtxtPtr pc = xmlNewParserCtxt();
  if (!pc) {
    h2k_err_set(err, H2K_E_FAIL, "out of memory parsing %s", name);
    return NULL;
  }
  /* No XML_PARSE_NOENT / DTDLOAD / DTDATTR: entities stay unexpanded and
   * nothing outside the buffer is ever loaded. */
  int opts = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
  xmlDocPtr doc = xmlCtxtReadMemory(pc, xml, (int)len, name, NULL, opts);
  if (!doc) {
    const xmlError *e = xmlCtxtGetLastError(pc);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", e && e->message ? e->message : "?");
    msg[strcspn(msg, "\n")] = '\0';
    h2k_err_set(err, H2K_E_INPUT, "%s: malformed XML at line %d: %s", name,
                e ? e->line : 0, msg);
  } else if (doc->intSubset || doc->extSubset) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: a DOCTYPE is not allowed in an OVF descriptor", name);
    xmlFreeDoc(doc);
    doc = NULL;
  }
  xmlFreeParserCtxt(pc);
  return doc;
}

static int check_envelope(ovf_ctx *ctx, xmlDocPtr doc) {
  xmlNodePtr root = xmlDocGetRootElement(doc);
  if (!is_elem(root, "Envelope"))
    return fail_at(ctx, root, "the root element is not an OVF Envelope");
  const char *ns = root->ns ? (const char *)root->ns->href : "";
  if (strcmp(ns, OVF1_NS) && strcmp(ns, OVF2_NS))
    return fail_at(ctx, root,
                   "namespace \"%s\" is not OVF 1.x (%s) or 2.x "
                   "(%s)",
                   ns, OVF1_NS, OVF2_NS);
  ctx->envelope = root;
  ctx->references = child(root, "References");
  return 0;
}

static int parse_vm(ovf_ctx *ctx, xmlDocPtr doc, const char *want) {
  if (check_envelope(ctx, doc) < 0 || choose_system(ctx, want) < 0)
    return -1;
  ctx->vm->name = system_name(ctx, ctx->vs);
  if (!ctx->vm->name && !ctx->oom)
    return fail_at(ctx, ctx->vs, "VirtualSystem has neither Name nor ovf:id");
  if (parse_sections(ctx) < 0 || parse_hardware(ctx) < 0)
    return -1;
  return ctx->oom ? -1 : 0;
}

h2k_vm *h2k_ovf_parse_buffer(const char *xml, size_t len,
                             const char *dir_for_relative_paths,
                             const char *vm_name_or_null,
                             const char *name_for_messages, h2k_error *err) {
  const char *name = name_for_messages ? name_for_messages : "OVF input";
  xmlDocPtr doc = read_xml(xml, len, name, err);
  if (!doc)
    return NULL;
  ovf_ctx ctx = {.name = name, .dir = dir_for_relative_paths, .err = err};
  ctx.vm = h2k_vm_new();
  int rc = -1;
  if (ctx.vm && (ctx.vm->source_path = strdup(name)))
    rc = parse_vm(&ctx, doc, vm_name_or_null);
  else
    ctx.oom = true;
  if (rc < 0 && ctx.oom)
    h2k_err_set(err, H2K_E_FAIL, "out of memory parsing %s", name);
  free_controllers(&ctx);
  xmlFreeDoc(doc);
  if (rc < 0) {
    h2k_vm_free(ctx.vm);
    return NULL;
  }
  return ctx.vm;
}

h2k_vm *h2k_ovf_parse_file(const char *path, const char *vm_name_or_null,
                           h2k_error *err) {
  char *text = NULL;
  size_t len = 0;
  if (h2k_vm_read_descriptor(path, H2K_VM_DESCRIPTOR_MAX, &text, &len, err) < 0)
    return NULL;
  char *dir = h2k_path_dirname(path);
  h2k_vm *vm = NULL;
  if (dir)
    vm = h2k_ovf_parse_buffer(text, len, dir, vm_name_or_null, path, err);
  else
    h2k_err_set(err, H2K_E_FAIL, "out of memory parsing %s", path);
  free(dir);
  free(text);
  return vm;
}
