/* What Embedded Swift needs from C in a partition: memory primitives, and an allocator that
 * always fails (partitions here allocate nothing; Swift traps on a failed allocation). */
#include <stddef.h>
#include <stdint.h>

void *memset(void *d, int c, size_t n) {
    unsigned char *p = d;
    while (n--) *p++ = (unsigned char)c;
    return d;
}
void *memcpy(void *restrict d, const void *restrict s, size_t n) {
    unsigned char *dp = d;
    const unsigned char *sp = s;
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
int posix_memalign(void **out, size_t align, size_t size) {
    (void)align;
    (void)size;
    *out = 0;
    return 12;
}
void free(void *p) { (void)p; }
int putchar(int c) { return c; }
