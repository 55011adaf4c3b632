/* Kernel entry and exit: descriptor tables, the 256 interrupt stubs, the syscall entry, and the
 * one way back to ring 3 (iretq from a TrapFrame).
 *
 * Every entry from ring 3 builds the same TrapFrame at sprig_kernel_frame (the top of the kernel
 * stack) and calls sprig_trap(frame) in Swift; whatever the frame holds when it returns is what
 * ring 3 gets, except that when Swift loaded a context (sprig_exit_context, set by
 * X86Platform.loadCPUState) the general registers come straight from that context (or, for one
 * over two pages, from their copy at sprig_exit_registers) instead of from the frame, and the
 * load has written rip, rsp and rflags to the iretq words on the entry stack itself (otherwise they are copied there from the frame; cs and
 * ss are always the user selectors). DS, ES, FS and GS are null on every exit, whatever ring 3
 * had loaded.
 * The kernel runs with interrupts off (interrupt gates; syscall masks IF), so it is never
 * re-entered from ring 3 and one kernel stack suffices. A fault *in* the kernel pushes a frame
 * wherever the kernel stack is and Swift prints the crash report.
 *
 * TrapFrame (offsets in bytes), matching X86TrapFrame in TrapFrame.swift:
 *   0 rax, 8 rbx, 16 rcx, 24 rdx, 32 rsi, 40 rdi, 48 rbp, 56 r8 … 112 r15,
 *   120 vector, 128 error code, 136 rip, 144 cs, 152 rflags, 160 rsp, 168 ss
 * Vector 0x100 marks a syscall.
 *
 * The entry window (docs/yield.md, "The kernel's own mappings"): this code, the GDT, IDT, TSS,
 * the entry stack and the IST stacks are the only kernel pages a partition's PML4 maps when the
 * window is on (the default; `skim=off` on the kernel command line turns it off). The CPU pushes
 * the interrupt frame on the entry stack (TSS rsp0) or an IST stack; the entry code saves rax
 * there, loads the kernel's own tables (SWITCH_TO_KERNEL_CR3: sprig_kernel_cr3, 0 when the window
 * is off), copies the CPU's frame to the TrapFrame on the kernel stack, which no partition maps,
 * and zeroes what it copied. The way back writes the iretq words and rax to the entry stack and
 * loads the partition's PML4 (SWITCH_TO_USER_CR3) only after the last read of kernel memory.
 * No page is global (CR4.PGE stays off), so a CR3 load leaves nothing of the kernel in the TLB. */

#include "kernel_constants.h"  /* ERROR_CODE_VECTORS */
    .cfi_sections .debug_frame
#define SYSCALL_VECTOR 0x100
#define KERNEL_CS 0x08
#define USER_DS (0x18 | 3)
#define USER_CS (0x20 | 3)
#define TSS_SEL 0x28
#define ENTRY_TOP sprig_entry_stack_top
#define EXIT_RAX (sprig_entry_stack_top - 48) /* rax parked for after the CR3 load, then rip, cs, … */

    /* The CR3 switches, in three modes: TEST (0) asks the CR3 word (0: the window is off, no
     * switch), ON (1) and OFF (2) are the syscall entries' own copies, one per window setting,
     * so that the yield path does not test (X86Platform picks LSTAR at boot). */
#define TEST 0
#define ON 1
#define OFF 2
    /* With rax saved (it is free): the kernel's own tables, when the window is on. */
    .macro SWITCH_TO_KERNEL_CR3 mode
    .if \mode != OFF
    movq sprig_kernel_cr3(%rip), %rax
    .if \mode == TEST
    testq %rax, %rax
    jz 91f
    .endif
    movq %rax, %cr3
91:
    .endif
    .endm

    /* Before the last pops (rax is reloaded after it): the partition's tables, when the window
     * is on; then VERW, on every CPU: it clears the CPU's buffers (MDS) where the CPU reports
     * MD_CLEAR, and elsewhere is the legacy VERW, a selector check cheaper than a test of
     * whether to run it (docs/build.md, "The CPU protections"). */
    .macro SWITCH_TO_USER_CR3 mode
    .if \mode != OFF
    movq sprig_user_cr3(%rip), %rax
    .if \mode == TEST
    testq %rax, %rax
    jz 92f
    .endif
    movq %rax, %cr3
92:
    .endif
    .endm
    .macro CLEAR_CPU_BUFFERS
    verw sprig_verw_selector(%rip)
    .endm

    /* The last steps to ring 3, after the general registers but rax are loaded and rax is parked
     * in EXIT_RAX: onto the entry stack, the partition's tables, rax, VERW, iretq. */
    .macro EXIT_TAIL mode
    leaq EXIT_RAX(%rip), %rsp
    SWITCH_TO_USER_CR3 \mode
    popq %rax
    CLEAR_CPU_BUFFERS
    iretq
    .endm

    .section .window.text, "ax"
    /* The TrapFrame's general registers but rax, r15 first (rax is the last push, word 0). */
    /* The entry code's frames are where a backtrace ends (gdb): their call to Swift has no
     * caller. The CFI goes to .debug_frame (.eh_frame is discarded by kernel.ld). */
    .macro OUTERMOST_FRAME_BEGIN
    .cfi_startproc simple
    .cfi_def_cfa %rsp, 0
    .cfi_undefined %rip
    .endm
    .macro OUTERMOST_FRAME_END
    .cfi_endproc
    .endm

    .macro PUSH_RBX_TO_R15
    pushq %r15
    pushq %r14
    pushq %r13
    pushq %r12
    pushq %r11
    pushq %r10
    pushq %r9
    pushq %r8
    pushq %rbp
    pushq %rdi
    pushq %rsi
    pushq %rdx
    pushq %rcx
    pushq %rbx
    .endm
    .macro POP_RBX_TO_R15
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
    .endm
    .macro SAVE_GPRS
    PUSH_RBX_TO_R15
    pushq %rax
    .endm

    .macro STUB vector
    .align 16
sprig_isr_\vector:
    /* The CPU pushes an error code for the vectors of ERROR_CODE_VECTORS; the others get a 0. */
    .if \vector < 64
    .if (ERROR_CODE_VECTORS >> \vector) & 1
    .else
    pushq $0
    .endif
    .else
    pushq $0
    .endif
    pushq $\vector
    /* The legacy PICs' IRQs (32-47) have an entry of their own into Swift, with no decode. */
    .if \vector >= 32 && \vector < 48
    jmp sprig_irq_common
    .else
    jmp sprig_trap_common
    .endif
    .endm

    .altmacro
    .set vec, 0
    .rept 256
    STUB %vec
    .set vec, vec + 1
    .endr
    .noaltmacro

/* Ring 3's registers never rest in window memory (docs/yield.md, "The way back
 * to ring 3"). The TrapFrame is built on the kernel stack at the fixed address sprig_kernel_frame
 * (which no partition maps), after the kernel's CR3 is loaded. In the window, the stack the CPU
 * pushed on (the entry stack, or NMI/#DF's IST stack) is read and zeroed on entry; the way back
 * writes only the resumed partition's five iretq words and its rax to the top of the entry stack.
 * So while a partition runs, the only partition values in window memory are its own. */
    /* rsp: vector 0, error code 8, rip 16, cs 24, … ss 48; calls `handler` with rsp =
     * sprig_kernel_frame, which the TrapFrame starts at (also in rdi, for sprig_trap). */
    .macro TRAP_ENTRY handler
    OUTERMOST_FRAME_BEGIN
    cld
    clac                               /* ring 3 may have set AC: SMAP stays on in the kernel */
    testb $3, 24(%rsp)
    jz sprig_trap_from_kernel
    pushq %rax
    SWITCH_TO_KERNEL_CR3 TEST
    movq %rsp, %rax                    /* the CPU's frame: rax 0, vector 8, error 16, rip 24 … ss 56 */
    leaq sprig_kernel_stack_top(%rip), %rsp
    pushq 56(%rax)                     /* ss */
    pushq 48(%rax)                     /* rsp */
    pushq 40(%rax)                     /* rflags */
    pushq 32(%rax)                     /* cs */
    pushq 24(%rax)                     /* rip */
    pushq 16(%rax)                     /* error code */
    pushq 8(%rax)                      /* vector */
    PUSH_RBX_TO_R15
    pushq (%rax)                       /* rax */
    /* Nothing of ring 3 stays on the stack the CPU chose (entry, NMI or #DF stack) but the
     * user cs and ss, the same for every partition. */
    movq $0, (%rax)
    movq $0, 8(%rax)
    movq $0, 16(%rax)
    movq $0, 24(%rax)                  /* rip; cs stays the user code selector */
    movq $0, 40(%rax)
    movq $0, 48(%rax)                  /* rsp; ss stays the user data selector */
    movq %rsp, %rdi                    /* = sprig_kernel_frame */
    call \handler
    OUTERMOST_FRAME_END
    .endm


    /* The way back to ring 3, rsp = sprig_kernel_frame (every entry from ring 3 and
     * sprig_enter_user end here). Only the entry stack is mapped after SWITCH_TO_USER_CR3, so the
     * iretq words go there; cs and ss are always the user selectors, whatever the frame says
     * (sprig_cpu_init writes them once: the CPU can only ever push the same two from ring 3, the
     * one DPL-3 code and the one DPL-3 data selector, and nothing else writes those words). */
    /* The general registers no delivery sets, from the context at 2 * %rax (ContextLayout
     * offsets; ExitPathTests holds them to it). */
    .macro LOAD_KEPT_REGISTERS
    movq 32(%rax,%rax), %rbx
    movq 72(%rax,%rax), %rbp
    movq 88(%rax,%rax), %r9
    movq 96(%rax,%rax), %r10
    movq 104(%rax,%rax), %r11
    movq 112(%rax,%rax), %r12
    movq 120(%rax,%rax), %r13
    movq 128(%rax,%rax), %r14
    movq 136(%rax,%rax), %r15
    .endm

    /* kept = 1 (the syscall entry's exit): with no context loaded, rbx, rbp and r12-r15 still
     * hold what ring 3 entered with (the entry leaves them, the Swift code preserves them, and
     * nothing writes their frame words but a context load, which always leaves its registers in
     * sprig_exit_context), so only the other registers come from the frame. */
    .macro EXIT_PATH mode, kept=0
    cmpq $0, sprig_nmi_pending(%rip)   /* an NMI came while the kernel ran: root gets it first */
    jne sprig_nmi_deliver
    /* Null data selectors on every way back to ring 3: ring 3 can load the user selectors into
     * DS/ES/FS/GS, the kernel never does, and iretq keeps a DPL-3 selector, so without this a
     * partition would resume with the selectors of the one that last entered the kernel. */
    xorl %eax, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %fs
    movl %eax, %gs
    /* sprig_exit_context halved: CF its bit 0 (a delivery), ZF set when there is no context; the
     * context's address is then %rax + %rax. */
    movq sprig_exit_context(%rip), %rax
    shrq $1, %rax
    ja 94f
    jc 95f
    movq 136(%rsp), %rax
    movq %rax, ENTRY_TOP - 40(%rip)    /* rip */
    movq 152(%rsp), %rax
    movq %rax, ENTRY_TOP - 24(%rip)    /* rflags */
    movq 160(%rsp), %rax
    movq %rax, ENTRY_TOP - 16(%rip)    /* rsp */
    popq %rax
    movq %rax, EXIT_RAX(%rip)
    .if \kept
    movq 8(%rsp), %rcx                 /* TrapFrame offsets less the rax word popped */
    movq 16(%rsp), %rdx
    movq 24(%rsp), %rsi
    movq 32(%rsp), %rdi
    movq 48(%rsp), %r8
    movq 56(%rsp), %r9
    movq 64(%rsp), %r10
    movq 72(%rsp), %r11
    .else
    POP_RBX_TO_R15
    .endif
    EXIT_TAIL \mode
    /* The general registers from the context at 2 * %rax (its address, ContextLayout
     * offsets: rax 24, rbx 32 ... r15 136, checked by the core; ExitPathTests holds these
     * loads to ContextLayout). The context load wrote rip, rflags and rsp to the iretq words
     * itself (X86Platform.loadCPUState, ExitWords). */
94:
    movq $0, sprig_exit_context(%rip)
    LOAD_KEPT_REGISTERS
    movq 40(%rax,%rax), %rcx
    movq 48(%rax,%rax), %rdx
    movq 56(%rax,%rax), %rsi
    movq 64(%rax,%rax), %rdi
    movq 80(%rax,%rax), %r8
    movq 24(%rax,%rax), %rax
    movq %rax, EXIT_RAX(%rip)
    EXIT_TAIL \mode
    /* A delivery: rdi, rsi, rdx, rcx and r8 from the frame (TrapFrame offsets), the others
     * from the context. */
95:
    movq $0, sprig_exit_context(%rip)
    LOAD_KEPT_REGISTERS
    movq 16(%rsp), %rcx
    movq 24(%rsp), %rdx
    movq 32(%rsp), %rsi
    movq 40(%rsp), %rdi
    movq 56(%rsp), %r8
    movq 24(%rax,%rax), %rax
    movq %rax, EXIT_RAX(%rip)
    EXIT_TAIL \mode
    .endm

    /* Every entry from ring 3 but syscall: rsp is sprig_kernel_frame again after the call, and
     * the way back follows. */
sprig_trap_common:
    TRAP_ENTRY sprig_trap
    EXIT_PATH TEST
sprig_irq_common:
    TRAP_ENTRY sprig_trap_irq
    .global sprig_trap_return
sprig_trap_return:
    EXIT_PATH TEST

/* syscall: rcx = user rip, r11 = user rflags, IF and AC masked by FMASK. The frame is built by
 * hand on the kernel stack: ring 3's rsp, rflags and rip go straight into their words, the
 * general registers are pushed, and rax waits in EXIT_RAX, the entry-stack word the way back
 * overwrites with the resumed partition's rax, until the kernel's tables are loaded. The vector,
 * error-code, cs and ss words are not written: sprig_trap_syscall reads none of them (cs and ss hold
 * the user selectors for good, written by sprig_cpu_init and by every interrupt entry). Two
 * copies, entry and exit: sprig_syscall_entry with the window on, sprig_syscall_entry_flat with
 * it off (X86Platform writes LSTAR to match); neither tests the CR3 word. */
    .macro SYSCALL_ENTRY mode
    OUTERMOST_FRAME_BEGIN
    movq %rax, EXIT_RAX(%rip)
    SWITCH_TO_KERNEL_CR3 \mode
    movq %rsp, sprig_kernel_frame + 160(%rip)
    movq %r11, sprig_kernel_frame + 152(%rip)
    movq %rcx, sprig_kernel_frame + 136(%rip)
    leaq sprig_kernel_frame + 120(%rip), %rsp
    PUSH_RBX_TO_R15
    pushq EXIT_RAX(%rip)
    /* a0, a1 and a2 in the registers of a three-argument call: rdi, rsi and rdx already hold
     * them; the number (rax), a3 (r10) and a4 (r8) stay in the frame at sprig_kernel_frame,
     * which keeps them all, for the Swift code to read where it uses them (Trap.swift,
     * sprig_trap_syscall). */
    call sprig_trap_syscall            /* DF is clear: FMASK masks it (sprig_cpu_init) */
    OUTERMOST_FRAME_END
    EXIT_PATH \mode, 1
    .endm

    .global sprig_syscall_entry
    .align 16
sprig_syscall_entry:
    SYSCALL_ENTRY ON
    .global sprig_syscall_entry_flat
    .align 16
sprig_syscall_entry_flat:
    SYSCALL_ENTRY OFF

/* From ring 0 (a kernel fault, an NMI or #DF in the kernel): the kernel's tables for Swift, on
 * the stack the CPU chose; the CR3 that was loaded is back on the way out, and the registers
 * saved on that stack (which may be an IST stack in the window) are zeroed after their reload. */
sprig_trap_from_kernel:
    OUTERMOST_FRAME_BEGIN
    SAVE_GPRS
    movq %cr3, %r12
    SWITCH_TO_KERNEL_CR3 TEST
    movq %rsp, %rbx
    movq %rsp, %rdi
    andq $-16, %rsp
    call sprig_trap
    OUTERMOST_FRAME_END
    movq %rbx, %rsp
    movq %r12, %cr3
    popq %rax
    POP_RBX_TO_R15
    addq $16, %rsp
    .irp off, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112, 120, 128, 136
    movq $0, -\off(%rsp)
    .endr
    iretq

/* sprig_enter_user(frame): start ring 3 from the TrapFrame the kernel prepared at
 * sprig_kernel_frame (the first entry into root). */
    .global sprig_enter_user
sprig_enter_user:
    movq %rdi, %rsp
    jmp sprig_trap_return

/* On the way back to ring 3 with an NMI pending (one came while the kernel ran, and
 * sprig_trap_from_kernel only noted it): one more entry for root, for the frame as it is; rsp
 * is sprig_kernel_frame, Swift runs below it. */
sprig_nmi_deliver:
    OUTERMOST_FRAME_BEGIN
    movq %rsp, %rdi
    call sprig_deliver_pending_nmi
    OUTERMOST_FRAME_END
    jmp sprig_trap_return

/* sprig_cpu_init(): GDT with user segments and the TSS, IDT for all 256 vectors, syscall MSRs. */
    .text
    .global sprig_cpu_init
sprig_cpu_init:
    /* TSS descriptor (16 bytes) at GDT[5]. */
    leaq sprig_tss(%rip), %rax
    leaq sprig_gdt + TSS_SEL(%rip), %rdi
    movq $103, %rdx                    /* limit */
    movq %rax, %rcx
    andq $0xFFFFFF, %rcx
    shlq $16, %rcx
    orq %rcx, %rdx                     /* base 23:0 */
    movq $0x89, %rcx
    shlq $40, %rcx
    orq %rcx, %rdx                     /* present, 64-bit available TSS */
    movq %rax, %rcx
    shrq $24, %rcx
    andq $0xFF, %rcx
    shlq $56, %rcx
    orq %rcx, %rdx                     /* base 31:24 */
    movq %rdx, (%rdi)
    movq %rax, %rcx
    shrq $32, %rcx
    movq %rcx, 8(%rdi)                 /* base 63:32 */
    /* TSS stacks: rsp0 = entry stack, IST1 = double fault, IST2 = NMI (all in the window). */
    leaq sprig_entry_stack_top(%rip), %rcx
    movq %rcx, sprig_tss + 4(%rip)
    leaq sprig_df_stack_top(%rip), %rcx
    movq %rcx, sprig_tss + 36(%rip)
    leaq sprig_nmi_stack_top(%rip), %rcx
    movq %rcx, sprig_tss + 44(%rip)
    movw $104, sprig_tss + 102(%rip)   /* I/O map base past the limit: no port for ring 3 */
    movq $USER_CS, ENTRY_TOP - 32(%rip) /* the iretq frame's cs and ss, for good (EXIT_PATH) */
    movq $USER_DS, ENTRY_TOP - 8(%rip)
    movq $USER_CS, sprig_kernel_frame + 144(%rip) /* the TrapFrame's, for the syscall entry */
    movq $USER_DS, sprig_kernel_frame + 168(%rip)

    lgdt sprig_gdtr(%rip)
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    leaq 1f(%rip), %rax
    pushq $KERNEL_CS
    pushq %rax
    lretq
1:  movw $TSS_SEL, %ax
    ltr %ax

    /* IDT: 256 interrupt gates; each stub is 16 bytes apart from sprig_isr_0. */
    leaq sprig_idt(%rip), %rdi
    leaq sprig_isr_0(%rip), %rsi
    xorl %ecx, %ecx
2:  movq %rsi, %rax
    andq $0xFFFF, %rax                 /* offset 15:0 */
    movq $KERNEL_CS, %rdx
    shlq $16, %rdx
    orq %rdx, %rax
    /* Attributes (bits 47:32): 0x8E = present interrupt gate DPL 0; 0xEE = DPL 3 for the
     * vectors ring 3 may raise with int n (3 = breakpoint, 48-255 = software interrupts); the
     * low byte is the IST: 1 for #DF, 2 for NMI. Hardware IRQs (32-47) stay DPL 0 so a
     * partition cannot fake one. */
    movq $0x8E00, %rdx
    cmpl $8, %ecx
    jne 3f
    movq $0x8E01, %rdx
    jmp 4f
3:  cmpl $2, %ecx
    jne 5f
    movq $0x8E02, %rdx
    jmp 4f
5:  cmpl $3, %ecx
    je 6f
    cmpl $48, %ecx
    jb 4f
6:  movq $0xEE00, %rdx
4:  shlq $32, %rdx
    orq %rdx, %rax
    movq %rsi, %rdx
    shrq $16, %rdx
    andq $0xFFFF, %rdx
    shlq $48, %rdx
    orq %rdx, %rax                     /* offset 31:16 */
    movq %rax, (%rdi)
    movq %rsi, %rax
    shrq $32, %rax
    movq %rax, 8(%rdi)                 /* offset 63:32 */
    addq $16, %rdi
    addq $16, %rsi
    incl %ecx
    cmpl $256, %ecx
    jne 2b
    lidt sprig_idtr(%rip)

    /* syscall: STAR, LSTAR, FMASK (IF, TF, DF, AC, NT cleared on entry). */
    movl $0xC0000081, %ecx
    xorl %eax, %eax
    movl $((0x10 << 16) | KERNEL_CS), %edx
    wrmsr
    movl $0xC0000082, %ecx
    leaq sprig_syscall_entry(%rip), %rax
    movq %rax, %rdx
    shrq $32, %rdx
    wrmsr
    movl $0xC0000084, %ecx
    movl $((1 << 9) | (1 << 8) | (1 << 10) | (1 << 18) | (1 << 14)), %eax
    xorl %edx, %edx
    wrmsr
    ret

    .section .window.data, "aw"
    .align 16
sprig_gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF           /* 0x08 kernel code 64 */
    .quad 0x00CF92000000FFFF           /* 0x10 kernel data */
    .quad 0x00CFF2000000FFFF           /* 0x18 user data, DPL 3 */
    .quad 0x00AFFA000000FFFF           /* 0x20 user code 64, DPL 3 */
    .quad 0, 0                         /* 0x28 TSS, filled by sprig_cpu_init */
sprig_gdt_end:
    .align 8
    .global sprig_kernel_cr3
sprig_kernel_cr3:                      /* the kernel's PML4 when the window is on, else 0 */
    .quad 0
    .align 2
sprig_verw_selector:
    .word 0x10                         /* any writable data selector */

    .data
    .align 8
sprig_gdtr:
    .word sprig_gdt_end - sprig_gdt - 1
    .quad sprig_gdt
    .align 8
sprig_idtr:
    .word 256 * 16 - 1
    .quad sprig_idt
    .global sprig_user_cr3
sprig_user_cr3:                        /* the PML4 ring 3 resumes with when the window is on, else 0 */
    .quad 0
    .global sprig_exit_context
sprig_exit_context:
    .quad 0
    .global sprig_nmi_pending
sprig_nmi_pending:                     /* nonzero: an NMI came while the kernel ran (Trap.swift) */
    .quad 0

    .bss
    .align 16
    .global sprig_fpu_area
sprig_fpu_area: .skip 512
    /* The general registers of a context over two pages, at their ContextLayout offsets, for the
     * exit path (CPU.swift loadStraddling, sprig_exit_context). */
    .global sprig_exit_registers
sprig_exit_registers: .skip 144
    /* KernelCache storage, zero (every entry empty) at boot: TranslationCache, 32 entries of
     * 3 words, then YieldCache, 16 entries of 16 words, then the generation word (Main.swift
     * checks the size). */
    .global sprig_translation_cache
    .global sprig_translation_cache_end
    .align 64
sprig_translation_cache: .skip (32 * 3 + 16 * 16 + 1) * 8
sprig_translation_cache_end:
    /* The kernel stack (Swift runs here; never in the window), an unmapped guard page below. */
    .align 4096
    .global sprig_kernel_stack_guard
sprig_kernel_stack_guard: .skip 4096
sprig_kernel_stack: .skip 16384 - 22 * 8
    /* The TrapFrame of every entry from ring 3 (and the first entry into root); Swift and the
     * boot code run below it. */
    .global sprig_kernel_frame
    .global sprig_initial_frame
sprig_kernel_frame:
sprig_initial_frame: .skip 22 * 8
    .global sprig_kernel_stack_top
sprig_kernel_stack_top:

    /* The window's pages: IDT (read-only once built), TSS, and three stacks, each above an
     * unmapped guard page. Between entries the entry stack holds only the running partition's
     * iretq words and rax (its top 6 words); the IST stacks hold nothing of ring 3. */
    .section .window.bss, "aw", @nobits
    .align 4096
    .global sprig_idt
sprig_idt:      .skip 256 * 16
    .global sprig_tss
sprig_tss:      .skip 104
    .align 4096
    .global sprig_entry_stack_guard
sprig_entry_stack_guard: .skip 4096
sprig_entry_stack: .skip 4096
    .global sprig_entry_stack_top
sprig_entry_stack_top:
    .global sprig_df_stack_guard
sprig_df_stack_guard: .skip 4096
sprig_df_stack: .skip 4096
sprig_df_stack_top:
    .global sprig_nmi_stack_guard
sprig_nmi_stack_guard: .skip 4096
sprig_nmi_stack: .skip 4096
sprig_nmi_stack_top:
