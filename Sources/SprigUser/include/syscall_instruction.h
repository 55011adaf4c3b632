/* The `syscall` instruction for SprigUser's Swift (Sprig.swift), as an inline function: Swift
 * imports it through this module and inlines it where a service is called, so a call loads its
 * arguments into the kernel's registers and traps, with no call into a stub.
 *
 * The kernel's convention (SprigABI.Service): rax = the number, rdi, rsi, rdx, r10, r8 = the five
 * arguments; rax = the status and rdx = the second result come back; `syscall` itself takes rcx
 * and r11. The compiler may assume no more than a call would let it: a yield returns when
 * someone resumes the saved context, which the parent may have rewritten, so every register a
 * call may change (the argument registers, r9, the SSE registers, the flags) is declared
 * changed, as it was with the out-of-line stub. */
#ifndef SPRIG_SYSCALL_INSTRUCTION_H
#define SPRIG_SYSCALL_INSTRUCTION_H
#include <stdint.h>

typedef struct {
    uint64_t status;
    uint64_t value;
} sprig_syscall_result;

static inline __attribute__((always_inline)) sprig_syscall_result
sprig_syscall_inline(uint64_t number, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4) {
    register uint64_t r10 __asm__("r10") = a3;
    register uint64_t r8 __asm__("r8") = a4;
    register uint64_t r9 __asm__("r9");
    uint64_t rax = number, rdi = a0, rsi = a1, rdx = a2;
    __asm__ volatile("syscall"
                     : "+a"(rax), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+r"(r10), "+r"(r8), "=r"(r9)
                     :
                     : "rcx", "r11", "memory", "cc",
                       "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
                       "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    (void)r9;
    return (sprig_syscall_result){rax, rdx};
}

#endif
