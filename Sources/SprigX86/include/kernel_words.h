/* Words entry.S defines and the kernel's Swift reads and writes on every switch, declared here
 * rather than with `@_extern(c)`: Swift takes an `@_extern(c)` variable for one another module may
 * define, and reaches it through the GOT (an address load, which the linker turns into a `lea`,
 * then the access: two instructions). Declared hidden, they are this image's own, and each access
 * is one rip-relative instruction. */
#ifndef SPRIG_KERNEL_WORDS_H
#define SPRIG_KERNEL_WORDS_H
#include <stdint.h>

#define SPRIG_HIDDEN __attribute__((visibility("hidden")))

/* The kernel's PML4 while the entry window is on (entry.S loads it on entry), else 0. */
extern uint64_t sprig_kernel_cr3 SPRIG_HIDDEN;
/* The PML4 ring 3 resumes with while the window is on (entry.S loads it on exit), else 0. */
extern uint64_t sprig_user_cr3 SPRIG_HIDDEN;
/* When nonzero, the address of the context whose general registers ring 3 resumes with (see
 * `exitContext` in Hardware.swift). */
extern uint64_t sprig_exit_context SPRIG_HIDDEN;

/* Words whose addresses the kernel computes with. Hidden, each is a constant the compiler folds
 * into an instruction's address (the kernel is linked in the top 2 GiB: a 32-bit displacement
 * reaches it), instead of a register loaded first. */
/* The frame of every entry from ring 3 (`sprig_kernel_frame`: `trappedFrame`, CPU.swift). */
extern uint64_t sprig_initial_frame SPRIG_HIDDEN;
/* The top of the entry stack, where the iretq words lie (`ExitWords`, CPU.swift). */
extern uint64_t sprig_entry_stack_top SPRIG_HIDDEN;
/* `KernelCache.words` words: the translation and yield caches (X86Platform.swift). */
extern uint64_t sprig_translation_cache SPRIG_HIDDEN;

#endif
