#ifndef CCPUFEATURES_H
#define CCPUFEATURES_H

/// 1 when the CPU and the OS support AVX2 and FMA (x86-64 only; 0 elsewhere).
/// GCC/Clang's __builtin_cpu_supports reads CPUID and checks that the OS saves the YMM state.
int ccpu_has_avx2_fma(void);

/// 1 when the CPU has AVX-512 VNNI or AVX-VNNI: u8×s8 products accumulate in 32 bits in
/// one instruction. Without it, x86 int8 kernels pair bytes into saturating 16-bit sums
/// (vpmaddubsw), so weights must keep to 7 bits to stay exact.
int ccpu_has_vnni(void);

/// 1 when the CPU has AVX512_BF16 (`vdpbf16ps`: bf16 pairs multiplied and summed into fp32),
/// which oneDNN's bf16 matmul kernels need to be faster than fp32 (the `bf16` precision mode).
int ccpu_has_avx512_bf16(void);

#endif
