/* libFuzzer harness for the YAML configuration loader. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text)
    abort();
  memcpy(text, data, size);
  text[size] = '\0';
  h2k_config *cfg = h2k_config_new();
  h2k_error err = {0};
  h2k_config_load_yaml_string(cfg, text, "fuzz.yaml", &err);
  h2k_config_free(cfg);
  free(text);
  return 0;
}
