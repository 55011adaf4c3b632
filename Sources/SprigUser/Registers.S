/* Register-level tools for partitions that test the kernel's register hygiene (the `attacks`
 * system, docs/yield.md "Attacks on the booted kernel"): what Swift cannot say.
 *
 * Marker values: a partition passes one 64-bit `pattern`; the general register at ContextLayout
 * index i (rax = 0, rbx = 1, rcx = 2, rdx = 3, rsi = 4, rdi = 5, rbp = 6, r8 = 7 ... r15 = 14)
 * gets pattern ^ (i + 1), rsp gets pattern ^ 0x10, both halves of xmm n get pattern ^ (0x100 + n),
 * the x87 control word is MARK_FCW, MXCSR is MARK_MXCSR, the x87 stack holds pi, and DS, ES,
 * FS and GS hold the partition's marker selector (0x1B, the user data selector, unless set with
 * sprig_set_marker_selector). Another partition that sees any of these values sees a register
 * it was never given; the kernel nulls the data selectors on every way back to ring 3.
 *
 * The probe (sprig_register_probe) is a handler entry point: a context whose rip is the probe
 * records every register it is entered with, in ContextLayout form (FXSAVE image included; DS,
 * ES, FS and GS in the reserved words at 160, 168, 176 and 184), in
 * the area set by sprig_probe_configure, and then jumps to the configured Swift handler with
 * every register as it was (so the handler still gets the delivery registers as arguments). */

#define MARK_FCW 0x0E7F     /* round toward zero, 64-bit precision, all exceptions masked */
#define MARK_MXCSR 0xFF80   /* flush to zero, round toward zero, all exceptions masked */
#include "sprig_abi.h"          /* SERVICE_YIELD: generated from the service table */

    .section .rodata
    .align 4
sprig_mark_fcw:   .word MARK_FCW
    .align 4
sprig_mark_mxcsr: .long MARK_MXCSR

    /* xmm\n := pattern (rdi) ^ (0x100 + n) in both halves; uses rax. */
    .macro MARK_XMM n
    movq %rdi, %rax
    xorq $(0x100 + \n), %rax
    movq %rax, %xmm\n
    punpcklqdq %xmm\n, %xmm\n
    .endm

    /* \reg := pattern (rdi) ^ \k. */
    .macro MARK reg, k
    movq %rdi, \reg
    xorq $\k, \reg
    .endm

    /* DS, ES, FS, GS := the marker selector; uses ax. */
    .macro MARK_SELECTORS
    movw sprig_marker_selector(%rip), %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    .endm

    .macro MARK_FPU
    MARK_XMM 0
    MARK_XMM 1
    MARK_XMM 2
    MARK_XMM 3
    MARK_XMM 4
    MARK_XMM 5
    MARK_XMM 6
    MARK_XMM 7
    MARK_XMM 8
    MARK_XMM 9
    MARK_XMM 10
    MARK_XMM 11
    MARK_XMM 12
    MARK_XMM 13
    MARK_XMM 14
    MARK_XMM 15
    fldcw sprig_mark_fcw(%rip)
    ldmxcsr sprig_mark_mxcsr(%rip)
    fldpi
    .endm

    .text

/* uint64_t sprig_fill_registers_and_yield(pattern, callee, target, save, flagsOnYield, flagsOnWake)
 * SysV: rdi rsi rdx rcx r8 r9. Loads the marker into every register yield does not take as an
 * argument (rbx, rbp, r9, r11, r12-r15, xmm0-15, FCW, MXCSR, x87 stack; rcx and r11 are the
 * syscall instruction's own) and yields. Returns yield's status: a refusal, or 0 when someone
 * resumes the saved context. Callee-saved registers and the FPU control words are restored. */
    .global sprig_fill_registers_and_yield
sprig_fill_registers_and_yield:
    pushq %rbx
    pushq %rbp
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    fnstcw (%rsp)
    stmxcsr 4(%rsp)
    MARK_SELECTORS
    MARK_FPU
    movq %r8, %r10          /* flagsOnYield */
    movq %r9, %r8           /* flagsOnWake */
    MARK %rbx, 2
    MARK %rbp, 7
    MARK %r9, 9
    MARK %r11, 11
    MARK %r12, 12
    MARK %r13, 13
    MARK %r14, 14
    MARK %r15, 15
    movq %rsi, %rdi         /* callee */
    movq %rdx, %rsi         /* target */
    movq %rcx, %rdx         /* save */
    movl $SERVICE_YIELD, %eax
    syscall
    fstp %st(0)
    fldcw (%rsp)
    ldmxcsr 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbp
    popq %rbx
    ret

/* void sprig_fill_registers_and_fault(pattern): loads the marker into every register, rsp
 * included, sets DF and CF, and executes ud2. Resumed where the kernel saved it, it faults
 * again (the saved rip is the ud2): a partition that calls this never runs on. */
    .global sprig_fill_registers_and_fault
sprig_fill_registers_and_fault:
    MARK_SELECTORS
    MARK_FPU
    MARK %rbx, 2
    MARK %rcx, 3
    MARK %rdx, 4
    MARK %rsi, 5
    MARK %rbp, 7
    MARK %r8, 8
    MARK %r9, 9
    MARK %r10, 10
    MARK %r11, 11
    MARK %r12, 12
    MARK %r13, 13
    MARK %r14, 14
    MARK %r15, 15
    MARK %rax, 1
    MARK %rsp, 0x10
    xorq $6, %rdi
    std
    stc
    .global sprig_fault_point
sprig_fault_point:
    ud2
    jmp sprig_fault_point

/* void sprig_spin_counting(uint64_t *counter): adds 1 to *counter forever, with no system call
 * (a partition that never yields; only the timer takes the CPU from it). */
    .global sprig_spin_counting
sprig_spin_counting:
1:  incq (%rdi)
    jmp 1b

/* void sprig_resume_context(const void *context): continues at a context of this partition's
 * own memory (ContextLayout, 16-aligned), as the kernel would load it but in ring 3: the FXSAVE
 * image, rsp, the arithmetic flags (popfq cannot change IF in ring 3), every general register,
 * rip. How a root handler returns to root's main flow, which it cannot yield to. */
    .global sprig_resume_context
sprig_resume_context:
    movq %rdi, %rax
    fxrstor64 256(%rax)
    movq 0(%rax), %rcx
    movq %rcx, sprig_resume_rip(%rip)
    movq 8(%rax), %rsp
    pushq 16(%rax)
    popfq
    movq 32(%rax), %rbx
    movq 40(%rax), %rcx
    movq 48(%rax), %rdx
    movq 56(%rax), %rsi
    movq 64(%rax), %rdi
    movq 72(%rax), %rbp
    movq 80(%rax), %r8
    movq 88(%rax), %r9
    movq 96(%rax), %r10
    movq 104(%rax), %r11
    movq 112(%rax), %r12
    movq 120(%rax), %r13
    movq 128(%rax), %r14
    movq 136(%rax), %r15
    movq 24(%rax), %rax
    jmp *sprig_resume_rip(%rip)

/* void sprig_set_marker_selector(uint64_t selector): what the fill routines load into DS, ES,
 * FS and GS (a selector ring 3 may load: 0-3, 0x18-0x1B, 0x20-0x23). */
    .global sprig_set_marker_selector
sprig_set_marker_selector:
    movw %di, sprig_marker_selector(%rip)
    ret

/* void sprig_load_data_selectors(uint64_t selector): DS, ES, FS, GS := selector. */
    .global sprig_load_data_selectors
sprig_load_data_selectors:
    movw %di, %ds
    movw %di, %es
    movw %di, %fs
    movw %di, %gs
    ret

/* uint64_t sprig_data_selectors(void): DS | ES << 16 | FS << 32 | GS << 48. */
    .global sprig_data_selectors
sprig_data_selectors:
    xorl %eax, %eax
    movw %gs, %ax
    shlq $16, %rax
    movw %fs, %ax
    shlq $16, %rax
    movw %es, %ax
    shlq $16, %rax
    movw %ds, %ax
    ret

/* void sprig_probe_configure(void *area, handler next): where the probe records (768 bytes,
 * 16-aligned, ContextLayout) and the handler it continues to. */
    .global sprig_probe_configure
sprig_probe_configure:
    movq %rdi, sprig_probe_area(%rip)
    movq %rsi, sprig_probe_next(%rip)
    ret

/* uint64_t sprig_register_probe_address(void): the probe's entry, for a context's rip. */
    .global sprig_register_probe_address
sprig_register_probe_address:
    leaq sprig_register_probe(%rip), %rax
    ret

/* The probe: entered from a context, never called. Records rip (the probe's own address), rsp,
 * rflags, the fifteen general registers and FXSAVE, changing none of them, then jumps on. */
    .global sprig_register_probe
sprig_register_probe:
    movq %rax, sprig_probe_scratch(%rip)
    movq sprig_probe_area(%rip), %rax
    pushfq
    popq 16(%rax)
    movq %rsp, 8(%rax)
    movq %rbx, 32(%rax)
    movq %rcx, 40(%rax)
    movq %rdx, 48(%rax)
    movq %rsi, 56(%rax)
    movq %rdi, 64(%rax)
    movq %rbp, 72(%rax)
    movq %r8, 80(%rax)
    movq %r9, 88(%rax)
    movq %r10, 96(%rax)
    movq %r11, 104(%rax)
    movq %r12, 112(%rax)
    movq %r13, 120(%rax)
    movq %r14, 128(%rax)
    movq %r15, 136(%rax)
    fxsave64 256(%rax)
    xorl %ebx, %ebx
    movw %ds, %bx
    movq %rbx, 160(%rax)
    movw %es, %bx
    movq %rbx, 168(%rax)
    movw %fs, %bx
    movq %rbx, 176(%rax)
    movw %gs, %bx
    movq %rbx, 184(%rax)
    leaq sprig_register_probe(%rip), %rbx
    movq %rbx, 0(%rax)
    movq sprig_probe_scratch(%rip), %rbx
    movq %rbx, 24(%rax)
    movq 32(%rax), %rbx
    movq 24(%rax), %rax
    jmp *sprig_probe_next(%rip)

    .data
    .align 8
sprig_probe_area:    .quad 0
sprig_probe_next:    .quad 0
sprig_probe_scratch: .quad 0
sprig_resume_rip:    .quad 0
sprig_marker_selector: .word 0x1B
