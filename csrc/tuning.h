/* Every tuning threshold of the C core, in one place. Most move speed only: the
 * path or the thread count they pick computes every output in the same order, so
 * results do not depend on them. Those marked "part of the summation order" shape
 * the order itself: moving one changes results (for every thread count alike).
 * Each cites the benchmark that set it; rerun that benchmark before moving it.
 * The GEMM block sizes {mr, nr, mc, kc, nc} are data per ISA, next to their
 * micro-kernels (gemm_ukr_ref.c, gemm_ukr_avx2.c, gemm_ukr_avx512.c). */
#ifndef NNFAST_TUNING_H
#define NNFAST_TUNING_H

/* ---- GEMM (gemm.c) ---- */

/* How many threads a product runs on, and with which kernel table, is not a
 * threshold: the planner (plan.c) times the candidates on the machine that runs. */

/* When B (or A^T) has unit column stride, packing costs more than it saves below
 * this many flops, or when C is at most NNF_GEMM_DIRECT_PANELS micro-tiles wide or
 * tall: such products run the direct kernel. Set by
 * benches/test_gemm.py::test_gemm_book_shapes and benches/test_epoch.py::test_epoch. */
#define NNF_GEMM_DIRECT_FLOPS (4.0 * 1024 * 1024)
#define NNF_GEMM_DIRECT_PANELS 4

/* Products with both operands contiguous along k take the dot kernels when small,
 * or when C has at most this many rows or columns. Set by
 * benches/test_gemm.py::test_gemm_book_shapes and benches/test_epoch.py::test_epoch. */
#define NNF_GEMM_DOT_NARROW 32

/* The dot path's panels of B: about half of a typical L2. Set by
 * benches/test_epoch.py::test_conv_epoch (conv backward's dot products). */
#define NNF_GEMM_DOT_PANEL_BYTES (128 * 1024)

/* The SIMD gather kernel's accumulator vectors (gemm_ukr_vec.inc, at most 8): C's
 * columns go by in panels of this many vectors, and a narrower panel (at most half
 * of them) splits each sum into two chains. Part of the summation order. Set by
 * benches/test_epoch.py::test_conv_epoch (the sparse products of convpool's
 * backward). */
#define NNF_GATHER_VECTORS 8

/* ---- Elementwise, pooling and dropout kernels ----
 * When they go parallel is derived from this machine's fork/join and per-element
 * costs by the planner (plan.c, nnf_parallel_threshold). */

/* ---- Convolution (conv.c) ---- */

/* conv_backward sums dweights and dbias over at most this many fixed groups of
 * samples, one partial sum each: enough groups to keep 16 cores busy, a grouping
 * that depends on the batch size alone, never on the thread count. Part of the
 * summation order. Set by benches/test_epoch.py::test_conv_epoch[W5-64-2-nnfast]. */
#define NNF_CONV_GROUPS 16

/* The bias gradient's interleaved partial sums in conv_backward (conv.inc): enough
 * independent additions to fill the vector adders. Part of the summation order.
 * Set by benches/test_epoch.py::test_conv_epoch. */
#define NNF_CONV_SUM_LANES 32

#endif
