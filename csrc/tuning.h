/* Every tuning threshold of the C core, in one place. Most move speed only: the
 * path or the thread count they pick computes every output in the same order, so
 * results do not depend on them. Those marked "part of the summation order" shape
 * the order itself: moving one changes results (for every thread count alike).
 * Each cites the benchmark that set it; rerun that benchmark before moving it.
 * The GEMM block sizes {mr, nr, mc, nc} are data per ISA, next to their
 * micro-kernels (gemm_ukr_ref.c, gemm_ukr_avx2.c, gemm_ukr_avx512.c); they move
 * speed only. What fixes the order of a sum is here, the same on every ISA, so that
 * the reference, AVX2 and AVX-512 kernels give the same bits (README, Guarantees). */
#ifndef NNFAST_TUNING_H
#define NNFAST_TUNING_H

/* ---- GEMM (gemm.c) ---- */

/* The GEMM's summation orders, one per family of paths (gemm_ukr.h has the
 * details):
 *  - chain (the direct and packed paths): each element of C is one FMA chain over k
 *    in blocks of NNF_GEMM_KC, C = alpha*S + beta*C after the first block and
 *    C = C + alpha*S after each later one;
 *  - dot: each element is NNF_DOT_LANE_BYTES of partial sums (lane p mod 16 in
 *    float, p mod 8 in double), each an FMA chain, reduced by halving (lane l plus
 *    lane l + half, half = 8, 4, 2, 1 in float);
 *  - gather: each element is two FMA chains over A's entries (even and odd
 *    positions in the row), added at the end.
 * Which family a product takes depends on its shape and strides only (gemm.inc). */

/* The packed path's KC, and the blocks of k of the direct path: part of the
 * summation order, so one value for every ISA. 256 was the AVX2 kernels' KC, set by
 * benches/test_gemm.py::test_gemm_large; it keeps a 12 x 32 AVX-512 float tile's
 * panels of A and B (12 KiB and 32 KiB) in L1, where AVX-512's former 384 did not. */
#define NNF_GEMM_KC 256

/* The dot kernels' partial sums per element: one zmm of them, 16 float or 8 double
 * (two ymm on AVX2, that many scalars in the reference kernel). Part of the
 * summation order. */
#define NNF_DOT_LANE_BYTES 64

/* How many threads a product runs on, and with which kernel table, is not a
 * threshold: the planner (plan.c) times the candidates on the machine that runs. */

/* When B (or A^T) has unit column stride, packing costs more than it saves below
 * this many flops, or when C is at most NNF_GEMM_DIRECT_PANELS micro-tiles wide or
 * tall: such products run the direct kernel. The flops bound also admits products to
 * the dot path (below), which makes it part of the summation order. Set by
 * benches/test_gemm.py::test_gemm_book_shapes and benches/test_epoch.py::test_epoch. */
#define NNF_GEMM_DIRECT_FLOPS (4.0 * 1024 * 1024)
#define NNF_GEMM_DIRECT_PANELS 4

/* The direct path's blocks of B's columns: half of a 32 KiB L1, whatever k. Speed
 * only. W1's update in a C harness of nnf_sgemm: 14.0 us, 13.9 with one block as wide
 * as the product; benches/test_gemm.py::test_gemm_update times it. */
#define NNF_GEMM_DIRECT_BLOCK_BYTES (16 * 1024)

/* Products with both operands contiguous along k take the dot kernels when small,
 * or when C has at most this many rows or columns. Part of the summation order: it
 * picks the dot family over the chain family (gemm.inc). Set by
 * benches/test_gemm.py::test_gemm_book_shapes and benches/test_epoch.py::test_epoch. */
#define NNF_GEMM_DOT_NARROW 32

/* The dot path's panels of B: about half of a typical L2. Set by
 * benches/test_epoch.py::test_conv_epoch (conv backward's dot products). Where A is
 * no larger than that, the panels are L1-sized instead, A's rows coming from L2 at
 * each panel: B's rows, three a tile, no longer stream from L2 once for every pair of
 * A's rows. 10 x 100 x 784 (W2's forward at mini-batch 10) took 0.85 and 0.93 of
 * the time (AVX2 AMD EPYC, alternating processes, 8 and 14 rounds); 256 x 30 x 784,
 * whose A is 800 KB, 1.24 times as long with L1-sized panels, so it keeps L2-sized
 * ones. Where even a tile's three rows of B overflow L1 (W4's 10 x 100 x 2880), the
 * planner may take k in blocks (below). Speed only. */
#define NNF_GEMM_DOT_PANEL_BYTES (128 * 1024)
#define NNF_GEMM_DOT_L1_PANEL_BYTES (24 * 1024)

/* The dot path's blocks of k, where the planner times them (NNF_GEMM_PATH_DOT_BLOCKS):
 * 3 KiB of each row (768 floats, 384 doubles: a multiple of the lanes, so each
 * block's lanes are the whole product's), B's panels two tiles wide, each panel's k
 * block by block. A tile's rows, too long for L1 at once, then come from L1: at
 * mini-batch 10 the block's rows of A (30 KiB) from L1 or L2, the panel's rows of B
 * and its elements' partial sums, stored between blocks, from L1. W4's forward
 * through its dense layer, 10 x 100 x 2880, in a C harness of nnf_sgemm_planned (AVX2
 * AMD EPYC, medians of 201, three rounds): 99-101 us with k whole, 78-80 with these
 * blocks; 2 KiB 80-85, 4 KiB 85-86 (with the blocks outside the panels, 3 KiB 84-89,
 * 512 floats 86, 1024 89, panels of one tile 88, of four 96). Speed only. */
#define NNF_GEMM_DOT_KB_BYTES 3072
#define NNF_GEMM_DOT_KB_TILES 2
/* ... and C's rows a chunk at a time, their partial sums (64 bytes an element) within
 * this many bytes: W4's 10 x 100 in one, 64 KiB. Speed and memory only. */
#define NNF_GEMM_DOT_PARTIAL_BYTES (256 * 1024)

/* The SIMD gather kernel's panels of C (gemm_ukr_vec.inc, at most 8 vectors): two
 * accumulators a vector (the two chains of each sum), in 16 of AVX-512's 32
 * registers and 14 of AVX2's 16 (with the broadcast, 15: W5's second layer's dW, 40
 * filters x 500 taps from 16 rows each, 22.7 -> 21.5 us a sample with 7 vectors
 * rather than 6 on an AVX2 AMD EPYC; W5's epoch 1% faster). Speed only. Set by
 * benches/test_epoch.py::test_conv_epoch (the sparse products of convpool's
 * backward). */
#define NNF_GATHER_VECTORS_AVX512 8
#define NNF_GATHER_VECTORS_AVX2 7

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

/* ---- The engine's dense layers (engine_dense.inc) ---- */

/* BP2 of a dense layer, delta_below = delta . w, sums over the layer's units in
 * blocks of at most this many, the fewest, a power of two, as equal as whole units
 * allow (100 units are two blocks of 50): block 0's sum, to which each later block's
 * sum is added in turn, as the GEMM's chain family adds its blocks of k. A team that
 * splits the layer by units then computes BP2 from each thread's own rows of w, the
 * rows it also reads in the forward product and writes in the update; one thread
 * sums the same blocks in the same order. Part of the summation order. Set by
 * benches/test_epoch.py::test_conv_epoch (W4's and W5's 100-unit dense layers). */
#define NNF_BP2_UNITS 64

/* While a chunk trains, a dense layer split by units keeps the rows of w (and v) of
 * its parts 1, 2, ... in the workspace, each part followed by this many rows of
 * nothing, and the first part preceded by them (engine_dense.inc, P(hold_parts)):
 * a core's hardware prefetchers, seeing its part's rows read at a stride, run on past
 * the part's last row into the next part's, which the core that writes them then has
 * to win back at every step. On a 2-core AVX-512 AMD EPYC (Zen 4) the backward step of
 * W4's 100 x 2880 layer, the halves on two threads at once, took 56 us on units 0-49
 * and 86 on units 50-99 (each alone 56); in a stretch when a line took 350 ns to cross
 * between the cores instead of 55, 314 us, and 231, 176 and 96 us with 16, 24 and 44
 * rows left empty between the halves, 57 with the second half elsewhere. So the reach
 * is about 50 rows of a 4-unit stride there; 64 leaves a margin. The first layer's
 * parts' copies of the mini-batch are each followed by as many (engine.inc, carve).
 * Speed only: the values are copied, not changed. */
#define NNF_PART_GUARD_ROWS 64

/* The most bytes a layer's held parts (with their guards) may take: a layer wider
 * than that keeps every row in w. */
#define NNF_HELD_MOST_BYTES (64 << 20)

#endif
