/* FXSAVE, FXRSTOR and FNINIT for the kernel's Swift (CPU.swift), as inline functions: Swift
 * imports them through this module and inlines each where it is used, so a context switch makes
 * no call for them. The FPU/SSE state of the partition that trapped: saved and restored, never
 * computed with. */
#ifndef SPRIG_FPU_INSTRUCTIONS_H
#define SPRIG_FPU_INSTRUCTIONS_H
#include <stdint.h>

static inline __attribute__((always_inline)) void sprig_fxsave(uint64_t *area) {
    __asm__ volatile("fxsave64 (%0)" : : "r"(area) : "memory");
}
static inline __attribute__((always_inline)) void sprig_fxrstor(uint64_t *area) {
    __asm__ volatile("fxrstor64 (%0)" : : "r"(area) : "memory");
}
static inline __attribute__((always_inline)) void sprig_fninit(void) { __asm__ volatile("fninit"); }

#endif
