// oneDNN (Debian libdnnl-dev 2.6): its BLAS-like integer product dnnl_gemm_u8s8s32 (the int8
// precision mode) and the matmul primitive (the fp32 `onednn` backend). Debian builds oneDNN
// on OpenMP (libgomp), whose thread count is set here directly: omp.h lives in GCC's private
// include directory, which the Swift toolchain's clang does not search.
#include <dnnl.h>
#include <stdint.h>
void omp_set_num_threads(int count);

// Argument indices and the runtime-dimension marker are macros defined through other macros
// (INT64_MIN), which Swift does not import: plain constants here.
static const int fs_dnnl_arg_src = DNNL_ARG_SRC;
static const int fs_dnnl_arg_weights = DNNL_ARG_WEIGHTS;
static const int fs_dnnl_arg_dst = DNNL_ARG_DST;
static const int fs_dnnl_arg_scratchpad = DNNL_ARG_SCRATCHPAD;
static const int fs_dnnl_arg_from = DNNL_ARG_FROM;
static const int fs_dnnl_arg_to = DNNL_ARG_TO;
static const int64_t fs_dnnl_runtime_dim = DNNL_RUNTIME_DIM_VAL;
