/* Faults on purpose, `int n` for any n, system calls, and a report loop that needs no stack:
 * what the `fuzz` system's children (systems/fuzz/fuzzchild) execute on their parent's orders, to
 * show that every way ring 3 can leave for the kernel ends as a delivery the parent can take,
 * never a crash.
 *
 * Each *_then_report routine does one thing and then reports through a report block (7 words
 * in the caller's static memory: where to store rax, where to store rdx, where to store the
 * sequence number, the sequence number, then sprig_yield_loop's target, save and fallback) and
 * yields forever. None of them returns, and after the thing is done none reads the stack: a
 * context the kernel saved in the middle (a fault, an `int n`, a yield) may be resumed much
 * later, when the stack holds something else, and still ends in a report. r12 holds the block,
 * r13 the continuation; the kernel preserves both across every exit to the parent and back.
 *
 * sprig_fault_then_report(kind, operand, block) executes one faulting instruction chosen by
 * `kind` (FaultKind in Sources/SprigUser/Faults.swift lists them with the vector each raises).
 * A kind that does not fault on this machine (SSE exceptions under QEMU's TCG, alignment checks
 * with CR0.AM clear, a read of a mapped address; x87 exceptions under a kernel without CR0.NE,
 * which Sprig sets) goes on,
 * undoing what it changed, and reports rax = 0xFFFFFFFF, rdx = 0 or the word read. A kind that
 * faults, resumed where the kernel saved it, runs its instruction again (a breakpoint or a single
 * step goes on to the report). */

#include "sprig_abi.h"          /* SERVICE_YIELD, SERVICE_GET_INT_STATE, …: generated from the service table */

    .section .rodata
    .align 8
sprig_fault_zero64: .quad 0
sprig_fault_one32:  .long 0x3F800000      /* 1.0f */
sprig_fault_zero32: .long 0

    .text
/* Reports through the block at r12: *block[0] = rax, *block[1] = rdx, *block[2] = block[3],
 * then yields forever (block[4], block[5], block[6]). */
sprig_report_r12:
    movq 0(%r12), %rcx
    movq %rax, (%rcx)
    movq 8(%r12), %rcx
    movq %rdx, (%rcx)
    movq 16(%r12), %rcx
    movq 24(%r12), %rdx
    movq %rdx, (%rcx)
    movq 32(%r12), %rdi
    movq 40(%r12), %rsi
    movq 48(%r12), %rdx
    jmp sprig_yield_loop

/* A fault kind that went on: rdx = rax (the word read, or 0), rax = "no fault". */
sprig_fault_went_on:
    movq %rax, %rdx
    movl $0xFFFFFFFF, %eax
    jmp sprig_report_r12

    .global sprig_fault_then_report
sprig_fault_then_report:
    movq %rdx, %r12
    leaq sprig_fault_went_on(%rip), %r13
    xorl %eax, %eax
    cmpq $22, %rdi
    jae sprig_fault_went_on
    leaq sprig_fault_table(%rip), %rax
    movslq (%rax,%rdi,4), %rdx
    addq %rdx, %rax
    jmp *%rax

    .section .rodata
    .align 4
sprig_fault_table:
    .long f_ud2 - sprig_fault_table
    .long f_divide - sprig_fault_table
    .long f_read - sprig_fault_table
    .long f_write - sprig_fault_table
    .long f_execute - sprig_fault_table
    .long f_int3 - sprig_fault_table
    .long f_hlt - sprig_fault_table
    .long f_in - sprig_fault_table
    .long f_cli - sprig_fault_table
    .long f_push - sprig_fault_table
    .long f_x87 - sprig_fault_table
    .long f_sse - sprig_fault_table
    .long f_single_step - sprig_fault_table
    .long f_step_syscall - sprig_fault_table
    .long f_segment - sprig_fault_table
    .long f_rdmsr - sprig_fault_table
    .long f_into - sprig_fault_table
    .long f_alignment - sprig_fault_table
    .long f_lgdt - sprig_fault_table
    .long f_cr3 - sprig_fault_table
    .long f_iret_ring0 - sprig_fault_table
    .long f_noncanonical - sprig_fault_table

    .text
f_ud2:                      /* #UD (6) */
    ud2
    jmp f_ud2
f_divide:                   /* #DE (0) */
    xorl %edx, %edx
    movl $1, %eax
    xorl %ecx, %ecx
    divl %ecx
    jmp f_divide
f_read:                     /* #PF (14) unmapped or kernel, #GP (13) non-canonical; else the word */
    movq (%rsi), %rax
    jmp *%r13
f_write:                    /* same, for a write */
    movq %rsi, (%rsi)
    xorl %eax, %eax
    jmp *%r13
f_execute:                  /* #PF (14) on a no-execute, unmapped or kernel page; #GP non-canonical */
    jmp *%rsi
f_int3:                     /* #BP (3); resumed, it goes on after the int3 */
    int3
    xorl %eax, %eax
    jmp *%r13
f_hlt:                      /* #GP (13): privileged */
    hlt
    jmp f_hlt
f_in:                       /* #GP (13): no I/O permission in ring 3 */
    inb $0x80, %al
    jmp f_in
f_cli:                      /* #GP (13): IOPL 0 */
    cli
    jmp f_cli
f_push:                     /* #SS (12) with a non-canonical rsp, #PF (14) unmapped; else undone */
    movq %rsp, %r11
    movq %rsi, %rsp
    pushq %rax
    movq %r11, %rsp
    xorl %eax, %eax
    jmp *%r13
f_x87:                      /* x87 divide by zero unmasked: #MF (16) when CR0.NE is set */
    subq $16, %rsp
    fnstcw (%rsp)
    movw $0x037B, 2(%rsp)
    fninit
    fldcw 2(%rsp)
    fld1
    fdivl sprig_fault_zero64(%rip)
    fwait
    fninit
    fldcw (%rsp)
    addq $16, %rsp
    xorl %eax, %eax
    jmp *%r13
f_sse:                      /* SSE divide by zero unmasked: #XM (19) with CR4.OSXMMEXCPT */
    subq $16, %rsp
    stmxcsr (%rsp)
    movl $0x1D80, 4(%rsp)
    ldmxcsr 4(%rsp)
    movss sprig_fault_one32(%rip), %xmm0
    divss sprig_fault_zero32(%rip), %xmm0
    ldmxcsr (%rsp)
    addq $16, %rsp
    xorl %eax, %eax
    jmp *%r13
f_single_step:              /* #DB (1) after the instruction that follows popfq */
    pushfq
    orq $0x100, (%rsp)
    popfq
    nop
    pushfq
    andq $~0x100, (%rsp)
    popfq
    xorl %eax, %eax
    jmp *%r13
f_step_syscall:             /* TF set across a system call: #DB in ring 3 at most, never in the kernel */
    movl $SERVICE_GET_INT_STATE, %eax
    xorl %edi, %edi
    pushfq
    orq $0x100, (%rsp)
    popfq
    syscall
    pushfq
    andq $~0x100, (%rsp)
    popfq
    xorl %eax, %eax
    jmp *%r13
f_segment:                  /* #GP (13), error code the selector: a kernel or absent selector in ds */
    movw %si, %ds
    movw $0, %ax
    movw %ax, %ds
    xorl %eax, %eax
    jmp *%r13
f_rdmsr:                    /* #GP (13): privileged */
    movl $0xC0000080, %ecx
    rdmsr
    jmp f_rdmsr
f_into:                     /* #UD (6): into does not exist in 64-bit mode */
    .byte 0xCE
    jmp f_into
f_alignment:                /* #AC (17) only with CR0.AM; undone otherwise */
    pushfq
    orq $0x40000, (%rsp)
    popfq
    movq 1(%rsp), %rax
    pushfq
    andq $~0x40000, (%rsp)
    popfq
    xorl %eax, %eax
    jmp *%r13
f_lgdt:                     /* #GP (13): privileged */
    subq $16, %rsp
    lgdt (%rsp)
    jmp f_lgdt
f_cr3:                      /* #GP (13): privileged */
    movq %rsi, %cr3
    jmp f_cr3
f_iret_ring0:               /* #GP (13), error code 8: iretq to the kernel's code selector */
    movq %rsp, %rax
    pushq $0x1B
    pushq %rax
    pushfq
    pushq $0x08
    leaq f_ud2(%rip), %rax
    pushq %rax
    iretq
f_noncanonical:          /* #GP (13), error 0: a non-canonical memory operand */
    movabsq $0x0000800000000000, %rax
    movq (%rax), %rax
    jmp f_noncanonical

/* sprig_int_then_report(n, block): `int $n` (n & 255), then reports rax as the kernel left it
 * (the status of a refused software interrupt, 0 once resumed) and rdx = 0. */
    .global sprig_int_then_report
sprig_int_then_report:
    movq %rsi, %r12
    leaq 1f(%rip), %r13
    andq $255, %rdi
    leaq sprig_int_table(%rip), %rax
    leaq (%rax,%rdi,8), %rdi
    xorl %eax, %eax
    jmp *%rdi
1:  xorl %edx, %edx
    jmp sprig_report_r12
    .align 8
    .global sprig_int_table
sprig_int_table:                /* 8 bytes per vector: int $n; jmp *%r13; padding */
    .set n, 0
    .rept 256
    .byte 0xCD, n
    jmp *%r13
    .byte 0x90, 0x90, 0x90
    .set n, n + 1
    .endr

/* sprig_syscall_then_report(number, a0, a1, a2, a3, a4, block): one system call (a yield among
 * them), then reports its rax and rdx. SysV: rdi rsi rdx rcx r8 r9, block at 8(%rsp). */
    .global sprig_syscall_then_report
sprig_syscall_then_report:
    movq 8(%rsp), %r12
    movq %rdi, %rax
    movq %rsi, %rdi
    movq %rdx, %rsi
    movq %rcx, %rdx
    movq %r8, %r10
    movq %r9, %r8
    syscall
    jmp sprig_report_r12

/* void sprig_yield_loop(target, save, fallback): forever yields to the parent at VIDT[target],
 * saving at `save`; refused, yields at VIDT[fallback]; refused again, executes ud2 (a fault the
 * parent always takes). Resumed at `save`, it starts over. It touches no memory, so a context
 * saved here can be resumed any number of times, whatever happened to the stack meanwhile. */
    .global sprig_yield_loop
sprig_yield_loop:
    movq %rdi, %r12
    movq %rsi, %r13
    movq %rdx, %r14
1:  movl $SERVICE_YIELD, %eax
    xorl %edi, %edi
    movq %r12, %rsi
    movq %r13, %rdx
    xorl %r10d, %r10d
    xorl %r8d, %r8d
    syscall
    testq %rax, %rax
    jz 1b
    movl $SERVICE_YIELD, %eax
    xorl %edi, %edi
    movq %r14, %rsi
    movq %r13, %rdx
    xorl %r10d, %r10d
    xorl %r8d, %r8d
    syscall
    testq %rax, %rax
    jz 1b
    ud2
    jmp 1b
