// oneDNN (Debian libdnnl-dev 2.6): only its BLAS-like integer product, dnnl_gemm_u8s8s32,
// which the int8 precision mode uses. Debian builds oneDNN on OpenMP (libgomp), whose thread
// count is set here directly: omp.h lives in GCC's private include directory, which the
// Swift toolchain's clang does not search.
#include <dnnl.h>
void omp_set_num_threads(int count);
