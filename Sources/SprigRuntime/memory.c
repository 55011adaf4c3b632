/* memset, memcpy, memmove, memcmp: what Embedded Swift calls for bulk memory, written once and
 * compiled twice by `sprig build` — with the kernel's flags (no SSE, no red zone, kernel code
 * model) into the kernel, and with the partitions' flags into every partition. Built with
 * -ffreestanding -fno-builtin so these loops are not turned back into calls to themselves. */
#include <stddef.h>
#include <stdint.h>

void *memset(void *d, int c, size_t n) {
    unsigned char *p = d;
    if ((((uintptr_t)p | n) & 7) == 0) {
        uint64_t w = (unsigned char)c * 0x0101010101010101ull;
        uint64_t *pw = d;
        for (n /= 8; n; n--) *pw++ = w;
        return d;
    }
    while (n--) *p++ = (unsigned char)c;
    return d;
}

void *memcpy(void *restrict d, const void *restrict s, size_t n) {
    unsigned char *dp = d;
    const unsigned char *sp = s;
    if ((((uintptr_t)dp | (uintptr_t)sp | n) & 7) == 0) {
        uint64_t *dw = d;
        const uint64_t *sw = s;
        for (n /= 8; n; n--) *dw++ = *sw++;
        return d;
    }
    while (n--) *dp++ = *sp++;
    return d;
}

void *memmove(void *d, const void *s, size_t n) {
    unsigned char *dp = d;
    const unsigned char *sp = s;
    if (dp < sp) {
        while (n--) *dp++ = *sp++;
    } else {
        dp += n;
        sp += n;
        while (n--) *--dp = *--sp;
    }
    return d;
}

int memcmp(const void *a, const void *b, size_t n) {
    const unsigned char *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y) return *x - *y;
    return 0;
}
