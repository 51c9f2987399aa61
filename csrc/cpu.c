/* Which micro-kernel to run: chosen once from cpuid/xgetbv, overridable.
 * Never compiled with -march=native: the wheel must run on any x86-64 (and
 * elsewhere the portable reference kernel is all there is). */
#include <pthread.h>

#include "gemm_ukr.h"
#include "plan.h"

static int cpu_supports(int arch)
{
    if (arch == NNF_ARCH_REF)
        return 1;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    /* __builtin_cpu_supports consults cpuid and the OS's xgetbv state, so a kernel
     * that disabled AVX state saving reports no support. */
    if (arch == NNF_ARCH_AVX2)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#ifdef NNF_EMULATED_AVX512
    /* A checking build: the AVX-512 kernels run on AVX2 (emulated_avx512.h). */
    if (arch == NNF_ARCH_AVX512)
        return cpu_supports(NNF_ARCH_AVX2);
#else
    if (arch == NNF_ARCH_AVX512)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
               __builtin_cpu_supports("fma");
#endif
#endif
    return 0;
}

int nnf_arch_best(void)
{
    for (int arch = NNF_ARCH_COUNT - 1; arch > NNF_ARCH_REF; arch--)
        if (cpu_supports(arch))
            return arch;
    return NNF_ARCH_REF;
}

static int current_arch = -1, arch_forced = 0;
/* Engine calls in flight (nnf_arch_hold): the table in use must not change under one,
 * which chooses a path under one table and may run it under another (a kernel the
 * other lacks, a NULL call). */
static pthread_mutex_t arch_lock = PTHREAD_MUTEX_INITIALIZER;
static int calls_in_flight;

void nnf_arch_hold(void)
{
    pthread_mutex_lock(&arch_lock);
    calls_in_flight++;
    pthread_mutex_unlock(&arch_lock);
}

void nnf_arch_release(void)
{
    pthread_mutex_lock(&arch_lock);
    calls_in_flight--;
    pthread_mutex_unlock(&arch_lock);
}

int nnf_arch_get(void)
{
    if (current_arch < 0)
        current_arch = nnf_arch_best();
    return current_arch;
}

int nnf_arch_set(int arch)
{
    if (arch < 0 || arch >= NNF_ARCH_COUNT || !cpu_supports(arch))
        return -1;
    pthread_mutex_lock(&arch_lock);
    const int busy = calls_in_flight > 0;
    if (!busy) {
        current_arch = arch;
        arch_forced = 1;
    }
    pthread_mutex_unlock(&arch_lock);
    return busy ? -2 : 0;
}

int nnf_arch_forced(void) { return arch_forced; }

const char *nnf_arch_name(int arch)
{
    static const char *names[NNF_ARCH_COUNT] = {"ref", "avx2", "avx512"};
    return (arch >= 0 && arch < NNF_ARCH_COUNT) ? names[arch] : "unknown";
}

const nnf_gemm_arch *nnf_gemm_current(void) { return nnf_gemm_table(nnf_arch_get()); }

nnf_blocking nnf_blocking_s(void) { return nnf_gemm_current()->sblock; }
nnf_blocking nnf_blocking_d(void) { return nnf_gemm_current()->dblock; }
