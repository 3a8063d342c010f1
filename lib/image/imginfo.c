/* `info` output for an image chain (in the spirit of
 * `qemu-img info --backing-chain`). */
#include "image/imginfo.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <string.h>

static void human_size(uint64_t bytes, char *buf, size_t len) {
  static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = (double)bytes;
  size_t u = 0;
  while (v >= 1024 && u + 1 < sizeof units / sizeof *units) {
    v /= 1024;
    u++;
  }
  if (u == 0)
    snprintf(buf, len, "%" PRIu64 " B", bytes);
  else
    snprintf(buf, len, "%.3g %s", v, units[u]);
}

static void print_layer_text(const h2k_image *img, FILE *out) {
  char vs[32], as[32];
  uint64_t alloc = h2k_image_allocated_bytes(img);
  human_size(img->virtual_size, vs, sizeof vs);
  human_size(alloc, as, sizeof as);
  fprintf(out, "image: %s\n", h2k_image_path(img));
  fprintf(out, "file format: %s\n", h2k_image_format(img));
  if (img->subformat)
    fprintf(out, "subformat: %s\n", img->subformat);
  fprintf(out, "virtual size: %s (%" PRIu64 " bytes)\n", vs, img->virtual_size);
  fprintf(out, "disk size: %s (%" PRIu64 " bytes)\n", as, alloc);
  if (img->backing_name) {
    fprintf(out, "backing file: %s", img->backing_name);
    if (img->backing_path && strcmp(img->backing_path, img->backing_name))
      fprintf(out, " (actual path: %s)", img->backing_path);
    fputc('\n', out);
  }
  if (img->backing_format)
    fprintf(out, "backing file format: %s\n", img->backing_format);
}

static json_object *layer_json(const h2k_image *img) {
  json_object *o = json_object_new_object();
  json_object_object_add(o, "filename",
                         json_object_new_string(h2k_image_path(img)));
  json_object_object_add(o, "format",
                         json_object_new_string(h2k_image_format(img)));
  if (img->subformat)
    json_object_object_add(o, "subformat",
                           json_object_new_string(img->subformat));
  json_object_object_add(o, "virtual-size",
                         json_object_new_uint64(img->virtual_size));
  json_object_object_add(
      o, "actual-size", json_object_new_uint64(h2k_image_allocated_bytes(img)));
  json_object_object_add(o, "depth", json_object_new_int(img->depth));
  if (img->backing_name)
    json_object_object_add(o, "backing-filename",
                           json_object_new_string(img->backing_name));
  if (img->backing_path)
    json_object_object_add(o, "full-backing-filename",
                           json_object_new_string(img->backing_path));
  if (img->backing_format)
    json_object_object_add(o, "backing-filename-format",
                           json_object_new_string(img->backing_format));
  return o;
}

int h2k_image_info_print(h2k_image *img, FILE *out, bool json, h2k_error *err) {
  if (json) {
    json_object *arr = json_object_new_array();
    for (const h2k_image *l = img; l; l = l->backing)
      json_object_array_add(arr, layer_json(l));
    fprintf(out, "%s\n",
            json_object_to_json_string_ext(
                arr, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                         JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(arr);
  } else {
    for (const h2k_image *l = img; l; l = l->backing) {
      if (l != img)
        fputc('\n', out);
      print_layer_text(l, out);
    }
  }
  if (fflush(out) != 0 || ferror(out)) {
    h2k_err_errno(err, H2K_E_IO, errno, "INFO: writing the report");
    return -1;
  }
  return 0;
}
