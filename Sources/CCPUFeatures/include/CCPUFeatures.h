#ifndef CCPUFEATURES_H
#define CCPUFEATURES_H

/// 1 when the CPU and the OS support AVX2 and FMA (x86-64 only; 0 elsewhere).
/// GCC/Clang's __builtin_cpu_supports reads CPUID and checks that the OS saves the YMM state.
int ccpu_has_avx2_fma(void);

#endif
