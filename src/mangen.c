/* Prints the man page generated from the option table (build helper). */
#include <stdio.h>

#include "cli.h"

void h2k_cli_set_cancel_target(atomic_bool *flag) {
  (void)flag;
}
int h2k_cli_fail(const h2k_error *err) {
  return err->code;
}

int main(void) {
  h2k_man_print(stdout);
  return 0;
}
