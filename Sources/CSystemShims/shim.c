#include "CSystemShims.h"
int csystemshims_placeholder(void) { return 0; }
