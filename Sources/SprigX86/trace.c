/* The trace build's state (Trace.swift): the FXSAVE image the trace last carried (zero at
 * boot, like the reader's) and the recorder's own FXSAVE area. Unreferenced outside the trace build, so the linker drops it
 * there (--gc-sections). */
#include <stdint.h>

uint64_t sprig_trace_last_fpu[58];

/* Where the recorder runs FXSAVE: its own area, so that the kernel's staging area
 * (sprig_fpu_area) holds what it holds in the release build. */
uint64_t sprig_trace_fpu[64] __attribute__((aligned(16)));
