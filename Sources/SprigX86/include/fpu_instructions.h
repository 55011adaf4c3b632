/* FXSAVE, FXRSTOR and FNINIT for the kernel's Swift (CPU.swift), as inline functions: Swift
 * imports them through this module and inlines each where it is used, so a context switch makes
 * no call for them. The FPU/SSE state of the partition that trapped: saved and restored, never
 * computed with. */
#ifndef SPRIG_FPU_INSTRUCTIONS_H
#define SPRIG_FPU_INSTRUCTIONS_H
#include <stdint.h>

/* The 512-byte image as a memory operand, so that the compiler folds the image's address into
 * the instruction (base, index and displacement) instead of computing it into a register. */
typedef struct { uint64_t words[64]; } sprig_fxsave_image;
static inline __attribute__((always_inline)) void sprig_fxsave(uint64_t *area) {
    __asm__ volatile("fxsave64 %0" : "=m"(*(sprig_fxsave_image *)area) : : "memory");
}
static inline __attribute__((always_inline)) void sprig_fxrstor(uint64_t *area) {
    __asm__ volatile("fxrstor64 %0" : : "m"(*(const sprig_fxsave_image *)area) : "memory");
}
static inline __attribute__((always_inline)) void sprig_fninit(void) { __asm__ volatile("fninit"); }

/* The CR3 load, here with them because a switch with the entry window off makes it: inlined,
 * so that yield's fastpath makes no call (Trap.swift, `sprig_trap_syscall`). */
static inline __attribute__((always_inline)) void sprig_write_cr3(uint64_t v) {
    __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}

/* The general registers but rax of a trapped partition, from the TrapFrame (rbx ... r15, 14 words
 * from `frame` + 8) to a context (the same order, from `context` + 32), 16 bytes at a time through
 * xmm0 ... xmm6. Only between the FXSAVE of the partition that trapped and the FXRSTOR of the
 * one that resumes (a context save is always followed by a context load in the same entry),
 * when what these registers hold is already in the saved image: they move bytes here, nothing
 * is computed with them, and the kernel uses them nowhere else (-mno-sse). */
static inline __attribute__((always_inline)) void sprig_copy_saved_registers(uint64_t *context, const uint64_t *frame) {
    __asm__ volatile(
        "movdqu 8(%1), %%xmm0\n\t"
        "movdqu 24(%1), %%xmm1\n\t"
        "movdqu 40(%1), %%xmm2\n\t"
        "movdqu 56(%1), %%xmm3\n\t"
        "movdqu 72(%1), %%xmm4\n\t"
        "movdqu 88(%1), %%xmm5\n\t"
        "movdqu 104(%1), %%xmm6\n\t"
        "movdqu %%xmm0, 32(%0)\n\t"
        "movdqu %%xmm1, 48(%0)\n\t"
        "movdqu %%xmm2, 64(%0)\n\t"
        "movdqu %%xmm3, 80(%0)\n\t"
        "movdqu %%xmm4, 96(%0)\n\t"
        "movdqu %%xmm5, 112(%0)\n\t"
        "movdqu %%xmm6, 128(%0)"
        : : "r"(context), "r"(frame) : "memory");
}

#endif
