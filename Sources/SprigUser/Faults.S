/* Faults on purpose, `int n` for any n, and a report loop that needs no stack: what the `fuzz`
 * system's children (Partitions/fuzzchild) execute on their parent's orders, to show that every
 * way ring 3 can leave for the kernel ends as a delivery the parent can take, never a crash.
 *
 * sprig_fault(kind, operand) executes one faulting instruction chosen by `kind`
 * (FaultKind in Sources/SprigUser/Faults.swift lists them with the vector each raises). A kind
 * that does not fault on this machine (x87 exceptions with CR0.NE clear, alignment checks with
 * CR0.AM clear, a read of a mapped address) returns normally, undoing what it changed: 0, or the
 * word read. A kind that faults never returns: resumed where the kernel saved it, the faulting
 * instruction runs again (single-step excepted: it goes on). */

#define SERVICE_YIELD 11
#define SERVICE_GET_INT_STATE 9

    .section .rodata
    .align 8
sprig_fault_zero64: .quad 0
sprig_fault_one32:  .long 0x3F800000      /* 1.0f */
sprig_fault_zero32: .long 0

    .text
    .global sprig_fault
sprig_fault:
    cmpq $22, %rdi
    jae 99f
    leaq sprig_fault_table(%rip), %rax
    movslq (%rax,%rdi,4), %rdx
    addq %rdx, %rax
    jmp *%rax
99: xorl %eax, %eax
    ret

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
    ret
f_write:                    /* same, for a write */
    movq %rsi, (%rsi)
    xorl %eax, %eax
    ret
f_execute:                  /* #PF (14) on a no-execute, unmapped or kernel page; #GP non-canonical */
    jmp *%rsi
f_int3:                     /* #BP (3); resumed, it goes on after the int3 */
    int3
    xorl %eax, %eax
    ret
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
    ret
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
    ret
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
    ret
f_single_step:              /* #DB (1) after the instruction that follows popfq */
    pushfq
    orq $0x100, (%rsp)
    popfq
    nop
    pushfq
    andq $~0x100, (%rsp)
    popfq
    xorl %eax, %eax
    ret
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
    ret
f_segment:                  /* #GP (13), error code the selector: a kernel or absent selector in ds */
    movw %si, %ds
    movw $0, %ax
    movw %ax, %ds
    xorl %eax, %eax
    ret
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
    ret
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

/* uint64_t sprig_int(n): executes `int $n` (n & 255) and returns rax as the kernel left it: the
 * status of a refused software interrupt, 0 when the parent resumed it after taking it. */
    .global sprig_int
sprig_int:
    andq $255, %rdi
    leaq sprig_int_table(%rip), %rax
    leaq (%rax,%rdi,4), %rdi
    xorl %eax, %eax
    jmp *%rdi
    .align 4
sprig_int_table:
    .set n, 0
    .rept 256
    .byte 0xCD, n
    ret
    nop
    .set n, n + 1
    .endr

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
