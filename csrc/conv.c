/* im2col / col2im and the convolutional layer's forward and backward passes in
 * float and double from one source (conv.inc). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "clones.h"
#include "conv_direct.h"
#include "gemm_ukr.h"
#include "nnfast.h"
#include "parallel.h"
#include "plan.h"
#include "tuning.h"

static nnf_int conv_groups(nnf_int n) { return n < NNF_CONV_GROUPS ? n : NNF_CONV_GROUPS; }

/* Threads that can run samples at once: min(n_threads, n), at least 1. */
static nnf_int conv_threads(nnf_int n, int n_threads)
{
    nnf_int threads = n < n_threads ? n : n_threads;
    return threads < 1 ? 1 : threads;
}

/* The stride of the im2row rows: k = c*kh*kw values rounded up to a whole number of
 * 16-value blocks, 64-byte lines of float (two of double). With each thread's
 * buffer starting on a line, the sparse products' vector loads of a row never
 * straddle two lines. Past two blocks, an odd number of them: the gather kernel
 * reads a panel of every row, and rows an even number of lines apart share fewer of
 * L1's 64 sets (W5's second layer, 500 taps on a 2 KiB stride, put the same line of
 * its 64 rows in 2 of the sets, 32 lines for 12 ways: its panels came from L2, and
 * convpool_backward took 290-310 us a mini-batch of 10 on one thread against
 * 240-260 us with 528 values). */
static nnf_int rows_stride(nnf_int k)
{
    nnf_int blocks = (k + 15) / 16;
    return (blocks > 2 && blocks % 2 == 0 ? blocks + 1 : blocks) * 16;
}

/* The values past an image that the windows kernel reads (a vector's lanes past kw). */
#define WINDOWS_SLACK 16

/* A thread's buffer: im2col's k x ohw values, im2row's ohw rows, the direct
 * convolution's scratch (conv_direct.h: the narrow one's shifted rows, 8 values for
 * each of the h rows of each of c*kw shifts, and the image's zero rows) or the image
 * and the windows kernel's slack, and a line of slack to start it on a line. */
static nnf_int buffer_size(nnf_int c, nnf_int h, nnf_int w, nnf_int kh, nnf_int kw)
{
    const nnf_int ohw = (h - kh + 1) * (w - kw + 1), rows = ohw * rows_stride(c * kh * kw);
    const nnf_int direct = nnf_conv_direct_scratch(c, h, kw);
    nnf_int size = rows > direct ? rows : direct;
    /* conv.inc's windows_image: two copies, rows on lines, half a line between them */
    const nnf_int windows = 2 * h * ((w + 15) / 16 * 16) + 16 + WINDOWS_SLACK;
    if (c == 1 && size < windows)
        size = windows;
    return size + 16;
}

/* A thread's lists for the pooled backward's sparse products, each an offset in
 * REALs from the first: for each of f*pooled pool outputs, and one slot more that
 * takes the entries left out (conv.inc writes every entry, without a branch), a value
 * and a filter (an int in a REAL's slot), max(ohw, f) + 1 list starts, and the ohw
 * windows' origins (conv.inc's window_origins); then their size. */
typedef struct {
    nnf_int filters, starts, origins, size;
} lists_layout;

static lists_layout lists_at(nnf_int f, nnf_int ohw, nnf_int pooled)
{
    lists_layout at;
    at.filters = f * pooled + 1;
    at.starts = 2 * (f * pooled + 1);
    at.origins = at.starts + (ohw > f ? ohw : f) + 1;
    at.size = at.origins + ohw;
    return at;
}

/* A group's partial dweights and dbias: f x k, then the f biases, on lines of their
 * own (the partials start on a line), so that no two threads write one line. */
static nnf_int partial_stride(nnf_int f, nnf_int k) { return (f * k + f + 15) / 16 * 16; }

/* The groups of the weight-gradient sum that thread t of a team takes: from
 * first_group(groups, team, t) to first_group(groups, team, t + 1). */
static nnf_int first_group(nnf_int groups, int team, int t) { return groups * t / team; }

/* Whether the groups [lo, hi) are all one thread's: the thread that takes group lo,
 * the last t with first_group(t) <= lo, takes hi - 1 too. */
static int one_thread_takes(nnf_int lo, nnf_int hi, nnf_int groups, int team)
{
    const int t = (int)(((lo + 1) * team - 1) / groups);
    return hi <= first_group(groups, team, t + 1);
}

/* A thread's channels-last image (c > 1), with a line of slack to start it on a line. */
static nnf_int image_size(nnf_int c, nnf_int h, nnf_int w) { return c > 1 ? c * h * w + 16 : 0; }

/* The levels of the tree that sums the groups (conv.inc's tree_sum): the sums over
 * [lo, hi) split at lo + (hi - lo) / 2 reach single groups ceil(log2(groups)) levels
 * down. */
static int tree_depth(nnf_int groups)
{
    int depth = 0;
    while (((nnf_int)1 << depth) < groups)
        depth++;
    return depth;
}

/* A row of the tree's sums: a filter's k values, or the f biases, on lines. */
static nnf_int tree_row(nnf_int f, nnf_int k) { return ((k > f ? k : f) + 15) / 16 * 16; }

/* A thread's rows for the tree's sums, one a level and one for the root, with a line
 * of slack to start them on a line. */
static nnf_int tree_rows_size(nnf_int f, nnf_int k, nnf_int groups)
{
    return (tree_depth(groups) + 1) * tree_row(f, k) + 16;
}

/* A thread's partials for the levels of its depth-first sums (conv.inc's
 * own_subtree), one a level below the root, with a line of slack. */
static nnf_int tree_levels_size(nnf_int f, nnf_int k, nnf_int groups)
{
    return tree_depth(groups) * partial_stride(f, k) + 16;
}

/* One cols buffer per thread, the partials (and a line of slack to start them on a
 * line), then a channels-last image, the tree's rows and its levels per thread. */
nnf_int nnf_conv_workspace_size(nnf_int n, nnf_int c, nnf_int h, nnf_int w, nnf_int f,
                                nnf_int kh, nnf_int kw, int n_threads)
{
    nnf_int k = c * kh * kw, groups = conv_groups(n), threads = conv_threads(n, n_threads);
    return threads * (buffer_size(c, h, w, kh, kw) + image_size(c, h, w) +
                      tree_rows_size(f, k, groups) + tree_levels_size(f, k, groups)) +
           groups * partial_stride(f, k) + 16;
}

/* convpool_forward: a cols buffer per thread, then a conv output per thread.
 * convpool_backward: conv_workspace_size's cols buffers and partials, then per
 * thread the lists of its sparse products (lists_at), then per thread the weights
 * with rows_stride rows, on a line. */
nnf_int nnf_convpool_workspace_size(nnf_int n, nnf_int c, nnf_int h, nnf_int w, nnf_int f,
                                    nnf_int kh, nnf_int kw, nnf_int ph, nnf_int pw,
                                    int n_threads)
{
    nnf_int oh = h - kh + 1, ow = w - kw + 1, pooled = (oh / ph) * (ow / pw);
    nnf_int threads = conv_threads(n, n_threads), cols = threads * buffer_size(c, h, w, kh, kw);
    nnf_int forward = cols + threads * f * oh * ow;
    nnf_int backward = nnf_conv_workspace_size(n, c, h, w, f, kh, kw, n_threads) +
                       threads * lists_at(f, oh * ow, pooled).size +
                       threads * (f * rows_stride(c * kh * kw) + 16);
    return forward > backward ? forward : backward;
}

/* A max-pool window's tie bits (maxpool_ties's): whether any is set, the next set
 * bit after t (start from -1; -1 when none is left), and the position in the
 * ow-wide conv output plane of bit t of the plane's pooled window o. */
static int window_ties(const unsigned *bits, nnf_int words)
{
    for (nnf_int t = 0; t < words; t++)
        if (bits[t])
            return 1;
    return 0;
}

static nnf_int next_tie(const unsigned *bits, nnf_int n_bits, nnf_int t)
{
    for (t++; t < n_bits; t++)
        if ((bits[t / 32] >> (t % 32)) & 1u)
            return t;
    return -1;
}

static nnf_int tie_position(nnf_int o, nnf_int t, nnf_int ow, nnf_int ph, nnf_int pw)
{
    const nnf_int across = ow / pw; /* windows in a row */
    return ((o / across) * ph + t / pw) * ow + (o % across) * pw + t % pw;
}

/* Float's direct convolutions (conv_direct.h): on NNF_CONV_PATH_DIRECT the kernel of
 * the SIMD table in use (nnf_arch_get: the best this CPU runs, or the one NNFAST_ARCH
 * chose), on NNF_CONV_PATH_DIRECT_AVX2 AVX2's, which the planner weighs against
 * AVX-512's where that is in use. */
#if defined(__x86_64__)
static void sconv_direct(int path, nnf_int c, nnf_int h, nnf_int w, const float *x, nnf_int f,
                         nnf_int kh, nnf_int kw, const float *weights, float *out,
                         float *scratch, int skip_zeros)
{
    if (path == NNF_CONV_PATH_DIRECT && nnf_arch_get() == NNF_ARCH_AVX512)
        nnf_sconv_direct_avx512(c, h, w, x, f, kh, kw, weights, out, scratch, skip_zeros);
    else
        nnf_sconv_direct_avx2(c, h, w, x, f, kh, kw, weights, out, scratch, skip_zeros);
}
#define DIRECT_CONV sconv_direct
#define DIRECT_CONV_RUNS(c, h, w, kh, kw)                                                          \
    (nnf_conv_direct_fits(c, h, w, kh, kw) && nnf_arch_get() >= NNF_ARCH_AVX2)
#define DIRECT_AVX2_OFFERED (nnf_arch_get() == NNF_ARCH_AVX512)
#else
#define DIRECT_CONV_RUNS(c, h, w, kh, kw) 0
#define DIRECT_AVX2_OFFERED 0
#endif

#define REAL float
#define P(name) nnf_s##name
#define GEMM nnf_sgemm
#define SPARSE_GEMM nnf_ssparse_gemm
#define WINDOWS swindows
#define WINDOWS_WIDTH swindows_width
#include "conv.inc"
#undef REAL
#undef P
#undef GEMM
#undef SPARSE_GEMM
#undef WINDOWS
#undef WINDOWS_WIDTH
#undef DIRECT_CONV
#undef DIRECT_CONV_RUNS
#undef DIRECT_AVX2_OFFERED

/* Double has no direct convolution. */
#define DIRECT_CONV_RUNS(c, h, w, kh, kw) 0
#define DIRECT_AVX2_OFFERED 0
#define REAL double
#define P(name) nnf_d##name
#define GEMM nnf_dgemm
#define SPARSE_GEMM nnf_dsparse_gemm
#define WINDOWS dwindows
#define WINDOWS_WIDTH dwindows_width
#include "conv.inc"
