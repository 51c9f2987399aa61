/* GEMM in float and double from one source (gemm.inc). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "clones.h"
#include "gemm_ukr.h"
#include "parallel.h"
#include "plan.h"
#include "tuning.h"

/* Packing buffers live per thread and only grow, so a run of GEMMs allocates once;
 * a thread's buffers are freed when it ends (a thread-local pointer would leak
 * them with every short-lived thread). */
typedef struct {
    void *buf[2];
    size_t bytes[2];
} pack_space;

static pthread_key_t pack_key;
static pthread_once_t pack_key_once = PTHREAD_ONCE_INIT;

static void free_pack_space(void *space)
{
    pack_space *s = space;
    free(s->buf[0]);
    free(s->buf[1]);
    free(s);
}

static void make_pack_key(void) { pthread_key_create(&pack_key, free_pack_space); }

/* The calling thread's buffer `which` (0: A, 1: B), at least `bytes` long and
 * 64-byte aligned, or NULL when out of memory. */
static void *nnf_pack_space(int which, size_t bytes)
{
    pthread_once(&pack_key_once, make_pack_key);
    pack_space *s = pthread_getspecific(pack_key);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s || pthread_setspecific(pack_key, s) != 0) {
            free(s);
            return NULL;
        }
    }
    if (bytes > s->bytes[which]) {
        free(s->buf[which]);
        s->buf[which] = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
        s->bytes[which] = s->buf[which] ? bytes : 0;
    }
    return s->buf[which];
}

/* The values a transposing pack may write past its panel: one vector of the widest
 * ISA (gemm_ukr_vec.inc). */
#define PACK_SLACK 16

/* How a product is computed (see gemm.inc). */
enum { PATH_BLOCKED, PATH_DIRECT, PATH_DOT };

/* The direct path's most rows a tile: MR, or on NNF_GEMM_PATH_DIRECT_SHORT two-thirds
 * of it (AVX2's 6 -> 4, AVX-512's 12 -> 8), fewer accumulators, whose tiles overlap
 * better where k is short: W2's 100 x 784 x 10 update (k the mini-batch) took 21.4 us
 * in tiles of 4 rows against 24.4 in tiles of 6, W1's 30 x 784 x 10 6.5 against 6.8,
 * and at k = 256 tiles of 6 were the faster (AVX2 AMD EPYC, C harnesses). Which wins
 * depends on the core and on k: the planner times both. */
static int direct_rows(int mr, int variant)
{
    int rows = variant == NNF_GEMM_PATH_DIRECT_SHORT ? 2 * mr / 3 : mr;
    return rows < 1 ? 1 : rows;
}

int nnf_gemm_takes_dot(nnf_int m, nnf_int n, nnf_int k, int a_rows_unit, int a_cols_unit,
                       int b_rows_unit, int b_cols_unit)
{
    double flops = 2.0 * (double)m * (double)n * (double)k;
    return a_cols_unit && b_rows_unit && !b_cols_unit && !a_rows_unit &&
           (flops < NNF_GEMM_DIRECT_FLOPS || m <= NNF_GEMM_DOT_NARROW || n <= NNF_GEMM_DOT_NARROW);
}

_Static_assert(NNF_GEMM_DOT_KB_BYTES % NNF_DOT_LANE_BYTES == 0,
               "a block of the dot path's k holds whole sets of lanes");

nnf_int nnf_dot_block(int is_double)
{
    return NNF_GEMM_DOT_KB_BYTES / (nnf_int)(is_double ? sizeof(double) : sizeof(float));
}

int nnf_gemm_dot_spans_blocks(nnf_int k, int is_double)
{
    return k >= 2 * nnf_dot_block(is_double);
}

/* Products the dot path has taken in blocks (tests see that the path runs). */
static atomic_llong dot_products_in_blocks;

long long nnf_dot_products_in_blocks(void) { return atomic_load(&dot_products_in_blocks); }

#define REAL float
#define P(name) nnf_s##name
#define BLOCK sblock
#define UKR sukr
#define DIRECT sdirect
#define DOT sdot
#define BACKSTEP sbackstep
#define GATHER sgather
#define PACK_ALONG_K spack_along_k
#include "gemm.inc"
#undef PACK_ALONG_K
#undef REAL
#undef P
#undef BLOCK
#undef UKR
#undef DIRECT
#undef DOT
#undef BACKSTEP
#undef GATHER

#define REAL double
#define P(name) nnf_d##name
#define BLOCK dblock
#define UKR dukr
#define DIRECT ddirect
#define DOT ddot
#define BACKSTEP dbackstep
#define GATHER dgather
#include "gemm.inc"
