/* The trace build's one piece of state (Trace.swift): the FXSAVE image the trace last carried.
 * Zero at boot, like the reader's. Unreferenced outside the trace build, so the linker drops it
 * there (--gc-sections). */
#include <stdint.h>

uint64_t sprig_trace_last_fpu[58];
