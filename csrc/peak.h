/* The machine's own yardstick: the peak flop rate of one core (peak.c). */
#ifndef NNFAST_PEAK_H
#define NNFAST_PEAK_H

/* GFLOP/s one core reaches running arch's FMA-only loop on float (is_double == 0) or
 * double, best of a few milliseconds of timed runs on the calling thread; -1 when this
 * CPU cannot run arch. Measures on every call: callers cache the result. */
double nnf_peak_gflops(int arch, int is_double);

#endif
