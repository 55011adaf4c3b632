/* The threads library's context switch inside a partition (docs/threads.md, "Resuming a thread
 * with its flag"). A thread's context has ContextLayout's form, in its slot: what the kernel
 * saves when a tick interrupts a thread is copied there as is, and a voluntary switch writes
 * the same form.
 *
 * The `sti; iret` window. Resuming a thread that was preempted means clearing the virtual
 * interrupt flag (a setIntState system call) and then loading its registers; a tick between the
 * two would find a half-loaded thread. The instructions from the end of that system call to the
 * final `ret` form a *restartable sequence*: they only read the thread's slot (and write below
 * its red zone), so a tick anywhere in them finds the thread's context still whole in its slot.
 * The timer handler recognises the saved rip in [sprig_threads_window_start,
 * sprig_threads_window_end) and takes the tick as if it had arrived at the thread's own rip.
 * Right after the call, the sequence also looks for a tick held while the flag was set (the
 * kernel saved at the CLI slot: its valid word is nonzero) and takes it the same way. */

#include "sprig_abi.h"

#define CONTEXT_RIP 0
#define CONTEXT_RSP 8
#define CONTEXT_RFLAGS 16
#define CONTEXT_RAX 24
#define CONTEXT_RBX 32
#define CONTEXT_RBP 72
#define CONTEXT_R12 112
#define CONTEXT_R13 120
#define CONTEXT_R14 128
#define CONTEXT_R15 136
#define CONTEXT_FLAGS 144
#define CONTEXT_VALID 152
#define CONTEXT_SCRATCH 160
#define CONTEXT_FPU 256
/* Below the thread's red zone: rflags and rip for the final popfq; ret $128. */
#define RESUME_FRAME 144

    .text

/* void sprig_threads_switch(void *from, const void *to): saves the caller as a thread that
 * called a function (callee-saved registers, its return address and stack, flags word masked)
 * in `from`, then resumes `to`. Returns when `from` is resumed. */
    .global sprig_threads_switch
sprig_threads_switch:
    movq (%rsp), %rax
    movq %rax, CONTEXT_RIP(%rdi)
    leaq 8(%rsp), %rax
    movq %rax, CONTEXT_RSP(%rdi)
    pushfq
    popq CONTEXT_RFLAGS(%rdi)
    movq %rbx, CONTEXT_RBX(%rdi)
    movq %rbp, CONTEXT_RBP(%rdi)
    movq %r12, CONTEXT_R12(%rdi)
    movq %r13, CONTEXT_R13(%rdi)
    movq %r14, CONTEXT_R14(%rdi)
    movq %r15, CONTEXT_R15(%rdi)
    movq $1, CONTEXT_FLAGS(%rdi)
    fxsave64 CONTEXT_FPU(%rdi)
    movq %rsi, %rdi
    /* fall through */

/* void sprig_threads_resume(const void *context): continues at a thread's context. Flags word
 * masked: the caller has the flag set already, load and go. Enabled: clear the flag, then the
 * restartable sequence. Never returns. */
    .global sprig_threads_resume
sprig_threads_resume:
    movq %rdi, %rbx
    cmpq $0, CONTEXT_FLAGS(%rbx)
    jne 2f
    movl $SERVICE_SET_INT_STATE, %eax
    xorl %edi, %edi
    syscall
sprig_threads_window_start:
    movq sprig_threads_cli_slot(%rip), %rax
    cmpq $0, CONTEXT_VALID(%rax)
    jne 3f
2:  fxrstor64 CONTEXT_FPU(%rbx)
    movq CONTEXT_RSP(%rbx), %rax
    subq $RESUME_FRAME, %rax
    movq CONTEXT_RFLAGS(%rbx), %rcx
    movq %rcx, 0(%rax)
    movq CONTEXT_RIP(%rbx), %rcx
    movq %rcx, 8(%rax)
    movq %rax, CONTEXT_SCRATCH(%rbx)
    leaq CONTEXT_RAX(%rbx), %rsp
    popq %rax
    popq %rbx
    popq %rcx
    popq %rdx
    popq %rsi
    popq %rdi
    popq %rbp
    popq %r8
    popq %r9
    popq %r10
    popq %r11
    popq %r12
    popq %r13
    popq %r14
    popq %r15
    movq CONTEXT_SCRATCH - CONTEXT_FLAGS(%rsp), %rsp
    popfq
    ret $128

    /* A tick was held while the flag was set: set it again (the window ends once the call has
     * returned) and take the tick now, on the handler's stack, the thread's context whole in
     * its slot. */
3:  movl $SERVICE_SET_INT_STATE, %eax
    movl $1, %edi
    syscall
sprig_threads_window_end:
    movq sprig_threads_handler_stack(%rip), %rsp
    call sprig_threads_held_tick
    ud2

/* void sprig_threads_configure(void *cliSlot, uint64_t handlerStackTop): where the sequence
 * looks for a held tick, and the stack it takes one on. */
    .global sprig_threads_configure
sprig_threads_configure:
    movq %rdi, sprig_threads_cli_slot(%rip)
    movq %rsi, sprig_threads_handler_stack(%rip)
    ret

/* uint64_t sprig_threads_window(int end): the address of the window's start (0) or end (1). */
    .global sprig_threads_window
sprig_threads_window:
    leaq sprig_threads_window_start(%rip), %rax
    testq %rdi, %rdi
    jz 1f
    leaq sprig_threads_window_end(%rip), %rax
1:  ret

    .data
    .align 8
sprig_threads_cli_slot: .quad 0
sprig_threads_handler_stack: .quad 0
