/* Thread counts. Every kernel takes n_threads explicitly; the default here is what
 * the bindings pass when a caller names none. */
#include <pthread.h>

#include "nnfast.h"
#include "parallel.h"

int nnf_forked_child = 0;

static void note_fork(void) { nnf_forked_child = 1; }

__attribute__((constructor)) static void watch_for_fork(void)
{
    pthread_atfork(NULL, NULL, note_fork);
}

int nnf_openmp_enabled(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

int nnf_default_threads(void)
{
#ifdef _OPENMP
    return nnf_team_size(omp_get_max_threads());
#else
    return 1;
#endif
}

void nnf_set_default_threads(int n)
{
#ifdef _OPENMP
    omp_set_num_threads(n);
#else
    (void)n;
#endif
}
