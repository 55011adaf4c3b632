/* Partition runtime: the entry point, the console interrupt and the counter read (a system call is
 * inlined where it is made: include/syscall_instruction.h).
 *
 * _start is entered from a context the kernel loaded: rsp = the partition's stack, rdi = its
 * first argument (root: the boot-info address). It calls sprig_partition_main(rdi); if that
 * returns, the partition stops by executing ud2, a fault its parent is told about. */
    .section .text.start, "ax"
    .global _start
_start:
    andq $-16, %rsp
    xorl %ebp, %ebp
    call sprig_partition_main
    ud2

    .text
/* uint64_t sprig_console_interrupt(void): `int $0x80`, the partitions' console convention
 * (SprigUser's SharedConsole): the parent's handler prints the shared page and resumes us with
 * rax = 0, or the kernel refuses the interrupt and rax holds the status. */
    .global sprig_console_interrupt
sprig_console_interrupt:
    int $0x80
    ret

/* Keeps the partition's .data PROGBITS (see partition.ld). */
    .section .data.sprig_progbits, "aw"
    .quad 0

/* uint64_t sprig_rdtsc(void): the time-stamp counter; under QEMU with -icount shift=0 one tick
 * is one guest instruction (`sprig bench`). */
    .text
    .global sprig_rdtsc
sprig_rdtsc:
    rdtsc
    shlq $32, %rdx
    orq %rdx, %rax
    ret
