// OpenBLAS's CBLAS interface plus openblas_set_num_threads (declared in Debian's cblas.h).
#include <cblas.h>
