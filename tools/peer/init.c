/* The Linux peer's init (`sprig bench --peer linux`): guest-instruction counts of null system
 * calls and of process switches (sched_yield, a pipe ping-pong), measured with rdtsc under QEMU's
 * -icount shift=0,align=off, where one TSC tick is one guest instruction.
 *
 * It runs as PID 1 from an initramfs the tool builds, prints one line per measurement,
 *     peer: <key> <median> <min> <max> <samples>
 * each sample already less the cost of two back-to-back rdtsc (the `baseline` line gives it),
 * after `peer: kernel`, `peer: pti on|off` and the kernel's mitigation lines,
 * then `peer: done`, and powers the machine off through QEMU's isa-debug-exit port (0xf4), so
 * QEMU's exit status says whether the init got that far.
 *
 * Keys:
 *   syscall.getppid  rdtsc; syscall(getppid); rdtsc — the raw instruction, no libc wrapper:
 *                    kernel entry, the call, exit (Linux's null system call).
 *   syscall.invalid  the same with a number no system call has: entry, the range check, the
 *                    ENOSYS return, exit (what Sprig's service.null, an unknown service, runs).
 *   pipe.write_read  one process writes one byte to its own pipe and reads it back: a write
 *                    and a read that does not block, no switch (lmbench lat_ctx's overhead).
 *   pipe.round_trip  process A writes a byte to pipe 1 and reads pipe 2; B, its child, reads
 *                    pipe 1 and writes pipe 2. Both pinned to CPU 0. Two switches, two writes
 *                    (each waking the other side), two reads that block and two that return.
 *   yield.round_trip A calls sched_yield and B, its child, runs until it calls sched_yield in
 *                    turn: two system calls, two switches. Both pinned to CPU 0, both SCHED_OTHER;
 *                    B counts its turns in a shared page and a sample in which B did not run
 *                    exactly once is dropped (`peer: yield.dropped <n>` says how many).
 * The tool derives the one-way switches from the round trips (Sources/SprigTool/Peer.swift).
 * Every measured system call is a raw `syscall` instruction, so no libc code is counted.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#define SAMPLES 1001
/* A number past every x86-64 system call (and without the x32 bit): refused with ENOSYS. */
#define INVALID_SYSCALL 4000
#define WARMUP 64

static inline uint64_t tsc(void) {
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
    return ((uint64_t)hi << 32) | lo;
}

static inline long sys1(long n, long a) {
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a) : "rcx", "r11", "memory");
    return r;
}

static inline long sys3(long n, long a, long b, long c) {
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}

static int compare(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorts `v` and prints its median, min and max, each less `baseline`. */
static void report(const char *key, uint64_t *v, int n, uint64_t baseline) {
    qsort(v, n, sizeof *v, compare);
    uint64_t med = v[n / 2], lo = v[0], hi = v[n - 1];
    printf("peer: %s %llu %llu %llu %d\n", key,
           (unsigned long long)(med >= baseline ? med - baseline : 0),
           (unsigned long long)(lo >= baseline ? lo - baseline : 0),
           (unsigned long long)(hi >= baseline ? hi - baseline : 0), n);
    fflush(stdout);
}

static void power_off(int status) {
    fflush(stdout);
    if (ioperm(0xf4, 1, 1) == 0) outb((unsigned char)status, 0xf4);
    sync();
    reboot(RB_POWER_OFF);
    for (;;) pause();
}

static void fail(const char *what) {
    printf("peer: error: %s\n", what);
    power_off(3);
}

static void pin(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) fail("sched_setaffinity");
}

/* Reads `path` into `text` (NUL-terminated); false when it cannot. */
static int read_text(const char *path, char *text, size_t size) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    ssize_t n = read(fd, text, size - 1);
    close(fd);
    if (n <= 0) return 0;
    text[n] = 0;
    return 1;
}

/* Prints the kernel's own word on one of its CPU mitigations, so the numbers say what they include. */
static void mitigation(const char *name) {
    char path[128], text[160];
    snprintf(path, sizeof path, "/sys/devices/system/cpu/vulnerabilities/%s", name);
    if (!read_text(path, text, sizeof text)) return;
    char *nl = strchr(text, '\n');
    if (nl) *nl = 0;
    printf("peer: mitigation %s: %s\n", name, text);
}

/* Whether page-table isolation is on: the `pti` flag of /proc/cpuinfo (the vulnerabilities file
 * says only whether the CPU is affected, not whether `pti=on` forced it). */
static void isolation(void) {
    static char text[8192];
    mkdir("/proc", 0755);
    if (mount("proc", "/proc", "proc", 0, NULL) != 0 || !read_text("/proc/cpuinfo", text, sizeof text)) return;
    char *flags = strstr(text, "\nflags");
    if (!flags) return;
    char *end = strchr(flags + 1, '\n');
    if (end) *end = 0;
    /* The flags line, with a space after its last flag, so " pti " matches only the whole word. */
    char line[4096];
    snprintf(line, sizeof line, "%s ", flags);
    printf("peer: pti %s\n", strstr(line, " pti ") ? "on" : "off");
}

static uint64_t samples[SAMPLES];

/* SAMPLES times, after WARMUP unrecorded rounds: one byte written to `out`, one read from `in`. */
static void write_then_read(int out, int in) {
    char byte = 'x';
    for (int i = -WARMUP; i < SAMPLES; i++) {
        uint64_t a = tsc();
        if (sys3(SYS_write, out, (long)&byte, 1) != 1) fail("write to a pipe");
        if (sys3(SYS_read, in, (long)&byte, 1) != 1) fail("read from a pipe");
        uint64_t b = tsc();
        if (i >= 0) samples[i] = b - a;
    }
}

int main(void) {
    if (open("/dev/console", O_RDWR) < 0) {
        mkdir("/dev", 0755);
        mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
        int fd = open("/dev/ttyS0", O_RDWR);
        if (fd >= 0) { dup2(fd, 0); dup2(fd, 1); dup2(fd, 2); }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct utsname u;
    uname(&u);
    printf("peer: kernel %s %s\n", u.release, u.version);
    mkdir("/sys", 0755);
    if (mount("sysfs", "/sys", "sysfs", 0, NULL) == 0) {
        mitigation("meltdown");
        mitigation("spectre_v1");
        mitigation("spectre_v2");
        mitigation("mds");
        mitigation("retbleed");
    }
    isolation();
    pin();

    /* The cost of reading the counter: two back-to-back reads. */
    for (int i = 0; i < SAMPLES; i++) { uint64_t a = tsc(); samples[i] = tsc() - a; }
    qsort(samples, SAMPLES, sizeof *samples, compare);
    uint64_t baseline = samples[SAMPLES / 2];
    printf("peer: baseline %llu\n", (unsigned long long)baseline);

    for (int i = 0; i < WARMUP; i++) sys1(SYS_getppid, 0);
    for (int i = 0; i < SAMPLES; i++) {
        uint64_t a = tsc();
        sys1(SYS_getppid, 0);
        samples[i] = tsc() - a;
    }
    report("syscall.getppid", samples, SAMPLES, baseline);

    for (int i = 0; i < SAMPLES; i++) {
        uint64_t a = tsc();
        if (sys1(INVALID_SYSCALL, 0) != -ENOSYS) fail("an unknown system call number was not refused");
        samples[i] = tsc() - a;
    }
    report("syscall.invalid", samples, SAMPLES, baseline);

    int self[2];
    if (pipe(self) != 0) fail("pipe");
    write_then_read(self[1], self[0]);
    report("pipe.write_read", samples, SAMPLES, baseline);

    int there[2], back[2];
    if (pipe(there) != 0 || pipe(back) != 0) fail("pipe");
    pid_t child = fork();
    if (child < 0) fail("fork");
    if (child == 0) {
        char byte;
        close(there[1]);
        close(back[0]);
        pin();
        for (;;) {
            if (sys3(SYS_read, there[0], (long)&byte, 1) != 1) _exit(0);
            if (sys3(SYS_write, back[1], (long)&byte, 1) != 1) _exit(1);
        }
    }
    write_then_read(there[1], back[0]);
    report("pipe.round_trip", samples, SAMPLES, baseline);
    close(there[0]);
    close(back[1]);
    close(there[1]);
    waitpid(child, NULL, 0);

    /* Two processes that only yield: B counts its turns in a shared page, so a sample in which
     * A's sched_yield came back without B having run exactly once is not a switch and is dropped. */
    volatile uint64_t *turns = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (turns == MAP_FAILED) fail("mmap");
    *turns = 0;
    child = fork();
    if (child < 0) fail("fork");
    if (child == 0) {
        pin();
        for (;;) { (*turns)++; sys1(SYS_sched_yield, 0); }
    }
    int kept = 0, dropped = 0;
    for (int i = -WARMUP; kept < SAMPLES && dropped < 100 * SAMPLES; i++) {
        uint64_t before = *turns;
        uint64_t a = tsc();
        sys1(SYS_sched_yield, 0);
        uint64_t b = tsc();
        if (i < 0) continue;
        if (*turns == before + 1) samples[kept++] = b - a; else dropped++;
    }
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    printf("peer: yield.dropped %d\n", dropped);
    if (kept < SAMPLES) fail("sched_yield did not alternate between the two processes");
    report("yield.round_trip", samples, SAMPLES, baseline);

    printf("peer: done\n");
    power_off(0);
}
