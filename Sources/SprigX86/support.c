/* The few things Embedded Swift needs from C, and the instructions Swift cannot emit.
 *
 * memset/memcpy/memmove/memcmp are in Sources/SprigRuntime/memory.c, shared with the partitions.
 * The kernel allocates nothing: posix_memalign always fails, so any accidental allocation in
 * kernel Swift code traps at once instead of corrupting memory. */
#include <stddef.h>
#include <stdint.h>

int posix_memalign(void **out, size_t align, size_t size) {
    (void)align;
    (void)size;
    *out = 0;
    return 12; /* ENOMEM: the kernel has no heap */
}

void free(void *p) { (void)p; }

void sprig_serial_putc(uint8_t c);
int putchar(int c) {
    sprig_serial_putc((uint8_t)c);
    return c;
}

void sprig_outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
uint8_t sprig_inb(uint16_t port) {
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
void sprig_outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
uint64_t sprig_read_cr2(void) {
    uint64_t v;
    __asm__ volatile("mov %%cr2, %0" : "=r"(v));
    return v;
}
uint64_t sprig_read_cr3(void) {
    uint64_t v;
    __asm__ volatile("mov %%cr3, %0" : "=r"(v));
    return v;
}
uint64_t sprig_read_cr0(void) {
    uint64_t v;
    __asm__ volatile("mov %%cr0, %0" : "=r"(v));
    return v;
}
uint64_t sprig_read_cr4(void) {
    uint64_t v;
    __asm__ volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}
void sprig_write_cr4(uint64_t v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }
uint64_t sprig_rdmsr(uint32_t msr) {
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}
void sprig_wrmsr(uint32_t msr, uint64_t v) {
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}
/* CPUID leaf/subleaf. */
void sprig_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d) {
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(subleaf));
}
void sprig_invlpg(uint64_t va) { __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory"); }
/* Vector 2 through the NMI's gate from ring 0 (debug crash test only). */
void sprig_raise_nmi_vector(void) { __asm__ volatile("int $2" : : : "memory"); }
void sprig_halt_forever(void) {
    for (;;) __asm__ volatile("cli; hlt");
}

/* Debug crash test only (DebugCrashTest.swift; unreferenced, so dropped, in release): the
 * stack pointer at the top of the kernel stack's guard page, then a push. */
void sprig_debug_overflow_stack(uint64_t guard_top) {
    __asm__ volatile("mov %0, %%rsp; pushq $0" : : "r"(guard_top) : "memory");
    for (;;) {}
}

/* Debug crash test only: a frame on the kernel stack whose first link is sound (rbp points to
 * it, its return address is in the kernel's text) but whose saved rbp points above the kernel
 * stack, to an unmapped address, then ud2: the crash report's walk must stop at the bad link. */
void sprig_debug_corrupt_frame_fault(void) {
    __asm__ volatile(
        "subq $16, %%rsp\n\t"
        "movabsq $0xfffffffffffff000, %%rax\n\t"
        "movq %%rax, (%%rsp)\n\t"
        "leaq sprig_debug_corrupt_frame_fault(%%rip), %%rax\n\t"
        "movq %%rax, 8(%%rsp)\n\t"
        "movq %%rsp, %%rbp\n\t"
        "ud2" : : : "rax", "memory");
    for (;;) {}
}
