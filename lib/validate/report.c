/* The validation verdict in report.json / metadata.json (`validation`) and
 * in report.md ("## Validation"). */
#include <json-c/json.h>

#include "core/util.h"
#include "validate/validate.h"

static json_object *str_or_null(const char *s) {
  return s && *s ? json_object_new_string(s) : NULL;
}

static json_object *secs_or_null(bool known, double s) {
  return known ? json_object_new_double(s) : NULL;
}

json_object *h2k_validate_json(const h2k_validate_result *v) {
  json_object *o = json_object_new_object();
  json_object_object_add(
      o, "status", json_object_new_string(h2k_val_status_name(v->status)));
  json_object_object_add(o, "accelerator", str_or_null(v->accel));
  json_object_object_add(o, "firmware", str_or_null(v->firmware));
  json_object_object_add(
      o, "boot",
      v->ran ? json_object_new_string(h2k_val_boot_name(v->boot)) : NULL);
  json_object_object_add(o, "network",
                         v->ran ? json_object_new_boolean(v->network) : NULL);
  json_object_object_add(o, "boot_seconds",
                         secs_or_null(v->boot == H2K_VBOOT_YES, v->boot_s));
  json_object_object_add(o, "network_seconds",
                         secs_or_null(v->network, v->network_s));
  json_object_object_add(o, "duration_s", secs_or_null(v->ran, v->total_s));
  json_object_object_add(o, "mac", str_or_null(v->mac));
  json_object_object_add(o, "reason", str_or_null(v->reason));
  json_object_object_add(o, "serial_log", str_or_null(v->serial_log));
  return o;
}

void h2k_validate_markdown(const h2k_validate_result *v, h2k_buf *md) {
  h2k_buf_printf(md, "\n## Validation\n\n- Status: **%s**\n",
                 h2k_val_status_name(v->status));
  if (v->ran) {
    h2k_buf_printf(md, "- Boot: %s", h2k_val_boot_name(v->boot));
    if (v->boot == H2K_VBOOT_YES)
      h2k_buf_printf(md, " (after %.0f s)", v->boot_s);
    h2k_buf_printf(md, "\n- Network (DHCP from the NIC): %s",
                   v->network ? "yes" : "no");
    if (v->network)
      h2k_buf_printf(md, " (after %.0f s)", v->network_s);
    h2k_buf_printf(md, "\n- QEMU: %s, %s firmware, NIC MAC `%s`, ran %.0f s\n",
                   v->accel, v->firmware, v->mac, v->total_s);
  }
  if (v->reason[0])
    h2k_buf_printf(md, "- Reason: %s\n", v->reason);
  if (v->serial_log[0])
    h2k_buf_printf(md, "- Serial log: `%s`\n", v->serial_log);
  if (v->status == H2K_VAL_FAILED && v->serial_tail[0])
    h2k_buf_printf(md, "\nLast serial console lines:\n\n```\n%s```\n",
                   v->serial_tail);
}
