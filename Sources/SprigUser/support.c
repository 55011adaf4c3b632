/* What Embedded Swift needs from C in a partition (memory primitives: Sources/SprigRuntime/memory.c):
 * an allocator that always fails (partitions here allocate nothing; Swift traps on a failed allocation). */
#include <stddef.h>
#include <stdint.h>

int posix_memalign(void **out, size_t align, size_t size) {
    (void)align;
    (void)size;
    *out = 0;
    return 12;
}
void free(void *p) { (void)p; }
int putchar(int c) { return c; }
