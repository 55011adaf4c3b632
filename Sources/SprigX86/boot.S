/* Boot: multiboot entry in 32-bit protected mode, into 64-bit long mode in the higher half.
 *
 * QEMU's -kernel loads the flat image at 1 MiB following the multiboot header's a.out-kludge
 * fields and jumps to sprig_start32 with eax = multiboot magic, ebx = multiboot info (physical).
 * We build boot page tables (identity map of the first GiB, the kernel at -2 GiB, and the
 * direct map of the first 4 GiB of physical memory at 0xFFFF800000000000, all with 2 MiB
 * pages, supervisor-only), enable PAE + long mode + syscall, enable paging, and jump to
 * sprig_start64 in the higher half with the kernel stack. These boot tables are writable and
 * executable everywhere: sprig_kmain checks the CPU, then replaces them with the kernel's own
 * 4 KiB tables (KernelTables.swift) and drops the identity map. */

#include "kernel_constants.h"  /* KERNEL_VMA */
#define PHYS(x) ((x) - KERNEL_VMA)

#define MB_MAGIC 0x1BADB002
#define MB_FLAGS ((1 << 0) | (1 << 1) | (1 << 16))   /* page-align modules, memory map, a.out kludge */

    .section .multiboot, "a"
    .align 4
sprig_multiboot_header:
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)
    .long sprig_multiboot_header      /* header_addr */
    .long sprig_image_start_phys      /* load_addr */
    .long sprig_load_end_phys         /* load_end_addr */
    .long sprig_image_end_phys        /* bss_end_addr */
    .long sprig_start32               /* entry_addr */

    .section .boot.data, "aw"
    .align 8
sprig_boot_magic: .long 0
sprig_boot_info:  .long 0
    .align 16
sprig_boot_gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF          /* 0x08: 64-bit kernel code */
    .quad 0x00CF92000000FFFF          /* 0x10: kernel data */
sprig_boot_gdt_end:
sprig_boot_gdtr:
    .word sprig_boot_gdt_end - sprig_boot_gdt - 1
    .long sprig_boot_gdt

    .section .boot.text, "ax"
    .code32
    .global sprig_start32
sprig_start32:
    cli
    cld
    movl %eax, sprig_boot_magic
    movl %ebx, sprig_boot_info
    movl $PHYS(sprig_boot_stack_top), %esp

    /* PML4: [0] identity, [256] direct map, [511] kernel. */
    movl $PHYS(sprig_boot_pdpt_low) + 3, PHYS(sprig_boot_pml4)
    movl $PHYS(sprig_boot_pdpt_direct) + 3, PHYS(sprig_boot_pml4) + 256 * 8
    movl $PHYS(sprig_boot_pdpt_high) + 3, PHYS(sprig_boot_pml4) + 511 * 8
    movl $PHYS(sprig_boot_pd) + 3, PHYS(sprig_boot_pdpt_low)
    movl $PHYS(sprig_boot_pd) + 3, PHYS(sprig_boot_pdpt_high) + 510 * 8
    /* Direct map: 4 PDPT entries -> the 4 consecutive page directories. */
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $12, %eax
    addl $PHYS(sprig_boot_pd) + 3, %eax
    movl %eax, PHYS(sprig_boot_pdpt_direct)(,%ecx,8)
    incl %ecx
    cmpl $4, %ecx
    jne 1b
    /* 2048 2 MiB entries covering 0..4 GiB: present, writable, large. */
    xorl %ecx, %ecx
2:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax
    movl %eax, PHYS(sprig_boot_pd)(,%ecx,8)
    movl %ecx, %eax
    shrl $11, %eax                   /* high dword: bits 32+ of ecx * 2 MiB */
    movl %eax, PHYS(sprig_boot_pd) + 4(,%ecx,8)
    incl %ecx
    cmpl $2048, %ecx
    jne 2b

    movl %cr4, %eax
    orl $((1 << 5) | (1 << 9) | (1 << 10)), %eax   /* PAE, OSFXSR, OSXMMEXCPT: ring 3 may use SSE */
    movl %eax, %cr4
    movl $PHYS(sprig_boot_pml4), %eax
    movl %eax, %cr3
    movl $0xC0000080, %ecx           /* EFER */
    rdmsr
    orl $((1 << 0) | (1 << 8)), %eax   /* SCE, LME; NXE once sprig_kmain has seen NX in CPUID */
    wrmsr
    movl %cr0, %eax
    andl $~(1 << 2), %eax                           /* no x87 emulation */
    /* PG, WP, NE, MP, PE. NE: an unmasked x87 exception is #MF (vector 16), delivered to the
       partition's parent like any fault, not the legacy FERR# line to IRQ 13. */
    orl $((1 << 31) | (1 << 16) | (1 << 5) | (1 << 1) | 1), %eax
    movl %eax, %cr0
    lgdt sprig_boot_gdtr
    ljmp $0x08, $sprig_start64_low

    .code64
sprig_start64_low:
    movabsq $sprig_start64, %rax
    jmp *%rax

    .section .text.entry, "ax"
    .global sprig_start64
sprig_start64:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    movabsq $sprig_kernel_frame, %rsp     /* below the TrapFrame (entry.S) */
    xorl %ebp, %ebp
    movl sprig_boot_magic, %edi
    movl sprig_boot_info, %esi
    call sprig_kmain
3:  cli
    hlt
    jmp 3b

    .section .bss, "aw", @nobits
    .align 4096
    .global sprig_boot_pml4
sprig_boot_pml4:        .skip 4096
sprig_boot_pdpt_low:    .skip 4096
    .global sprig_boot_pdpt_high
sprig_boot_pdpt_high:   .skip 4096
sprig_boot_pdpt_direct: .skip 4096
    .global sprig_boot_pd
sprig_boot_pd:          .skip 4 * 4096
    /* KernelTables.swift fills these: the image at 4 KiB (PD + PT), the direct map's first
     * 2 MiB at 4 KiB (the image's text and rodata read-only there too), and the entry window
     * partitions map (PML4, PDPT, PD, PT). */
    .global sprig_kernel_tables
sprig_kernel_tables:    .skip 7 * 4096
sprig_boot_stack:       .skip 4096
sprig_boot_stack_top:
