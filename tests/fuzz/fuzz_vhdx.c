/* libFuzzer harness for the VHDX reader (log replay included): the VHD
 * harness with the "vhdx" format forced. Build as fuzz_vhd.c. */
#define FUZZ_VHD_FORMAT "vhdx"
#define FUZZ_VHD_DRIVER h2k_driver_vhdx
#include "fuzz_vhd.c"
