# gdb helpers for Sprig (docs/debugging.md). `sprig run-gdb` sources this file; by hand:
#   (gdb) source tools/gdb/sprig.py
#
#   sprig-partitions        the partition tree: descriptors, PML4, shadows, which one runs
#   sprig-vidt P            partition P's VIDT entries and each context's rip and rsp
#   sprig-walk P VA         VA translated as the MMU does it in P's tables: each level's entry
#                           and its P/W/U/NX bits
#
# P is `root`, `current` or a descriptor's physical address. Everything is read from physical
# memory through QEMU's gdb stub (`monitor xp`), so the commands work whichever CR3 is loaded:
# with the entry window on (the default), the kernel's memory is not mapped while a partition
# runs. The kernel's variables (root and current descriptor) are found by their symbols in the
# kernel ELF, at their link address minus KERNEL_VMA. Layouts: Sources/SprigCore/
# DescriptorLayout.swift, Shadow.swift, Sources/SprigABI/AddressSpace.swift, Context.swift.

import re

import gdb

KERNEL_VMA = 0xFFFFFFFF80000000
ROOT_DESCRIPTOR = "$e8SprigX8614rootDescriptors6UInt64Vvp"
CURRENT_DESCRIPTOR = "$e8SprigX8617currentDescriptors6UInt64Vvp"

# DescriptorLayout (byte offsets).
D_PML4, D_SHADOW1, D_SHADOW2, D_PARENT, D_NAME, D_INTSTATE, D_DEPTH = 0, 8, 16, 32, 40, 48, 56
VIDT_VA = 0x00007FFFFFFFF000  # AddressSpace.vidt
VIDT_ENTRIES = 512
CTX_RIP, CTX_RSP = 0, 8  # ContextLayout
ADDR_MASK = 0x000FFFFFFFFFF000
MAX_DEPTH = 8  # a corrupt tree cannot loop the walk


def phys_words(addr, count):
    """`count` 8-byte words of physical memory from `addr`, by QEMU's monitor."""
    out = gdb.execute("monitor xp /%dgx 0x%x" % (count, addr), to_string=True)
    words = []
    for line in out.splitlines():
        if ":" not in line:
            continue
        words += [int(w, 16) for w in re.findall(r"0x[0-9a-fA-F]+", line.split(":", 1)[1])]
    if len(words) < count:
        raise gdb.GdbError("monitor xp at 0x%x gave %d of %d words: %s" % (addr, len(words), count, out.strip()))
    return words[:count]


def phys_word(addr):
    return phys_words(addr, 1)[0]


def kernel_variable(name):
    """A kernel global by its symbol, read at its physical address (link address - KERNEL_VMA)."""
    va = int(gdb.parse_and_eval("(unsigned long)&'%s'" % name))
    return phys_word(va - KERNEL_VMA)


def partition(arg):
    arg = arg.strip()
    if arg in ("", "root"):
        return kernel_variable(ROOT_DESCRIPTOR)
    if arg == "current":
        return kernel_variable(CURRENT_DESCRIPTOR)
    return int(gdb.parse_and_eval(arg)) & ADDR_MASK


def bits(entry):
    return "P=%d W=%d U=%d NX=%d" % (entry & 1, (entry >> 1) & 1, (entry >> 2) & 1, entry >> 63)


def walk(pml4, va, trace=None):
    """(physical address, leaf entry) of `va` in the tables at `pml4`, or (None, entry) where the
    walk stops; `trace(level, index, entry)` sees every level."""
    table = pml4
    for level, shift in ((4, 39), (3, 30), (2, 21), (1, 12)):
        index = (va >> shift) & 511
        entry = phys_word(table + index * 8)
        if trace:
            trace(level, index, entry)
        if not entry & 1:
            return None, entry
        if level in (3, 2) and entry & 0x80:  # a large page
            size = 1 << shift
            return (entry & ADDR_MASK & ~(size - 1)) + (va & (size - 1)), entry
        table = entry & ADDR_MASK
    return table + (va & 0xFFF), entry


def children(descriptor):
    """Child descriptors: shadow-1 leaves flagged D|1 (this page is child D's descriptor)."""
    found = []

    def visit(page, level, base):
        words = phys_words(page, 512)
        for i, w in enumerate(words[:256] if level == 4 else words):
            if not w:
                continue
            va = base | (i << (12 + 9 * (level - 1)))
            if level == 1:
                if w & 1:
                    found.append((w & ~1 & ADDR_MASK, va))
            else:
                visit(w & ADDR_MASK, level - 1, va)

    visit(phys_word(descriptor + D_SHADOW1), 4, 0)
    return found


class Partitions(gdb.Command):
    """sprig-partitions: the partition tree (descriptor, its name in the parent, PML4, shadows, depth), marking the running one."""

    def __init__(self):
        super().__init__("sprig-partitions", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        root = kernel_variable(ROOT_DESCRIPTOR)
        current = kernel_variable(CURRENT_DESCRIPTOR)
        if root == 0:
            print("no root partition yet (the kernel is booting)")
            return

        def show(d, depth, name):
            w = phys_words(d, 8)
            label = "root" if depth == 0 else "child 0x%x" % name
            print("%s%s: descriptor 0x%x pml4 0x%x shadow1 0x%x shadow2 0x%x depth %d vcli %d%s" % (
                "  " * depth, label, d, w[D_PML4 // 8], w[D_SHADOW1 // 8], w[D_SHADOW2 // 8],
                w[D_DEPTH // 8], w[D_INTSTATE // 8], "  <- running" if d == current else ""))
            if depth >= MAX_DEPTH:
                print("%s(deeper levels not shown)" % ("  " * (depth + 1)))
                return
            for child, child_name in children(d):
                show(child, depth + 1, child_name)

        show(root, 0, 0)
        print("current descriptor 0x%x" % current)


class VIDT(gdb.Command):
    """sprig-vidt P: partition P's nonzero VIDT entries (P: root, current or a descriptor address) and each context's rip and rsp."""

    def __init__(self):
        super().__init__("sprig-vidt", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        d = partition(arg)
        pml4 = phys_word(d + D_PML4)
        vidt, _ = walk(pml4, VIDT_VA)
        if vidt is None:
            print("partition 0x%x has no VIDT page mapped at 0x%x" % (d, VIDT_VA))
            return
        print("partition 0x%x: VIDT at 0x%x (physical 0x%x)" % (d, VIDT_VA, vidt))
        for i, ctx in enumerate(phys_words(vidt, VIDT_ENTRIES)):
            if not ctx:
                continue
            where, _ = walk(pml4, ctx)
            if where is None or (where & 0xFFF) > 0x1000 - 16:
                print("VIDT[%d] = context 0x%x (not mapped)" % (i, ctx))
                continue
            rip, rsp = phys_words(where + CTX_RIP, 2)
            print("VIDT[%d] = context 0x%x rip 0x%x rsp 0x%x" % (i, ctx, rip, rsp))


class Walk(gdb.Command):
    """sprig-walk P VA: VA translated in partition P's tables as the MMU does it, each level's entry and its P/W/U/NX bits."""

    def __init__(self):
        super().__init__("sprig-walk", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        parts = gdb.string_to_argv(arg)
        if len(parts) != 2:
            raise gdb.GdbError("usage: sprig-walk P VA (P: root, current or a descriptor address)")
        d = partition(parts[0])
        va = int(gdb.parse_and_eval(parts[1]))
        pml4 = phys_word(d + D_PML4)
        print("partition 0x%x, pml4 0x%x, va 0x%x" % (d, pml4, va))
        names = {4: "PML4", 3: "PDPT", 2: "PD", 1: "PT"}

        def trace(level, index, entry):
            print("  %-4s[%3d] = 0x%016x  %s" % (names[level], index, entry, bits(entry)))

        pa, entry = walk(pml4, va, trace)
        if pa is None:
            print("  not mapped")
        else:
            print("  -> physical 0x%x" % pa)


Partitions()
VIDT()
Walk()
