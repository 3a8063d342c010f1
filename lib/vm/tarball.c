/* stub: to be implemented */
#include "vm/vm.h"
