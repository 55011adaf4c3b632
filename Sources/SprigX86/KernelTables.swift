/// The CPU protections the kernel needs and its own page tables.
///
/// At boot, before anything else, `CPUProtection.enable` checks CPUID for NX, SMEP, SMAP and
/// UMIP and refuses to boot without them (status 0x71, the missing feature named on the
/// console): the isolation promise depends on each. It then sets EFER.NXE and CR4.SMEP, SMAP,
/// UMIP. MD_CLEAR is optional: the exit path runs VERW on every CPU, which clears the CPU's
/// buffers where CPUID reports MD_CLEAR; the boot line says whether it does.
///
/// `KernelTables.build` replaces the boot tables (2 MiB pages, writable and executable, an
/// identity map) with the kernel's own, at 4 KiB over the image:
///
/// * text (and the window's text) read+execute; rodata read-only, no-exec; data, bss and stacks
///   read+write, no-exec; the IDT read-only once built; an unmapped guard page below the kernel
///   stack, the entry stack and the two IST stacks; nothing else of the low 2 MiB;
/// * the direct map of the first 4 GiB read+write, no-exec, with the image's text and rodata
///   read-only there too; no identity map (the lower half of the kernel's PML4 is empty).
///
/// Partitions' PML4s get their upper half from the PML4 `RootBuilder` is given: with the entry
/// window on (the default) a PML4 that maps only the `.window.*` sections (entry/exit code, GDT,
/// IDT, TSS, entry and IST stacks) at the same addresses and rights as the kernel's own; with
/// `skim=off` on the kernel command line the kernel's own PML4, as before. No page is global.
import SprigABI
import SprigCore
import SprigFPUInstructions

@_extern(c, "sprig_text_start") nonisolated(unsafe) var textStartSymbol: UInt8
@_extern(c, "sprig_text_end") nonisolated(unsafe) var textEndSymbol: UInt8
@_extern(c, "sprig_data_start") nonisolated(unsafe) var dataStartSymbol: UInt8
@_extern(c, "sprig_window_text_start") nonisolated(unsafe) var windowTextStartSymbol: UInt8
@_extern(c, "sprig_window_text_end") nonisolated(unsafe) var windowTextEndSymbol: UInt8
@_extern(c, "sprig_window_data_start") nonisolated(unsafe) var windowDataStartSymbol: UInt8
@_extern(c, "sprig_window_data_end") nonisolated(unsafe) var windowDataEndSymbol: UInt8
@_extern(c, "sprig_window_bss_start") nonisolated(unsafe) var windowBssStartSymbol: UInt8
@_extern(c, "sprig_window_bss_end") nonisolated(unsafe) var windowBssEndSymbol: UInt8
@_extern(c, "sprig_boot_pdpt_high") nonisolated(unsafe) var bootPDPTHighSymbol: UInt8
@_extern(c, "sprig_boot_pd") nonisolated(unsafe) var bootPDSymbol: UInt8
@_extern(c, "sprig_kernel_tables") nonisolated(unsafe) var kernelTablesSymbol: UInt8
@_extern(c, "sprig_idt") nonisolated(unsafe) var idtSymbol: UInt8
@_extern(c, "sprig_kernel_stack_guard") nonisolated(unsafe) var kernelStackGuardSymbol: UInt8
@_extern(c, "sprig_entry_stack_guard") nonisolated(unsafe) var entryStackGuardSymbol: UInt8
@_extern(c, "sprig_df_stack_guard") nonisolated(unsafe) var dfStackGuardSymbol: UInt8
@_extern(c, "sprig_nmi_stack_guard") nonisolated(unsafe) var nmiStackGuardSymbol: UInt8
/// The kernel's PML4 while the window is on (entry.S loads it on entry), else 0
/// (include/kernel_words.h: one instruction an access).
var kernelCR3: UInt64 {
    @inline(__always) get { sprig_kernel_cr3 }
    @inline(__always) set { sprig_kernel_cr3 = newValue }
}
/// The PML4 ring 3 resumes with while the window is on (entry.S loads it on exit), else 0.
var userCR3: UInt64 {
    @inline(__always) get { sprig_user_cr3 }
    @inline(__always) set { sprig_user_cr3 = newValue }
}
/// The syscall entry for the window off (entry.S; `sprig_syscall_entry`, LSTAR's boot value,
/// is the one for the window on): neither tests the CR3 word, so LSTAR says which.
@_extern(c, "sprig_syscall_entry_flat") nonisolated(unsafe) var syscallEntryFlatSymbol: UInt8

@inline(__always)
func symbolAddress(_ s: UnsafeMutablePointer<UInt8>) -> UInt64 { UInt64(UInt(bitPattern: s)) }

enum CPUProtection {
    static let efer: UInt32 = 0xC000_0080
    /// The syscall entry point (the window off sets `sprig_syscall_entry_flat`).
    static let lstar: UInt32 = 0xC000_0082
    static let eferNXE: UInt64 = 1 << 11
    static let cr4UMIP: UInt64 = 1 << 11
    static let cr4PGE: UInt64 = 1 << 7
    static let cr4SMEP: UInt64 = 1 << 20
    static let cr4SMAP: UInt64 = 1 << 21
    static let cr0WP: UInt64 = 1 << 16

    static func cpuid(_ leaf: UInt32, _ subleaf: UInt32 = 0) -> (eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32) {
        var a: UInt32 = 0, b: UInt32 = 0, c: UInt32 = 0, d: UInt32 = 0
        cpuidC(leaf, subleaf, &a, &b, &c, &d)
        return (a, b, c, d)
    }

    /// Whether CPUID.7.0:EDX[10] (MD_CLEAR) is set: the exit path's VERW then clears the CPU's
    /// buffers (it runs either way: entry.S, `CLEAR_CPU_BUFFERS`).
    nonisolated(unsafe) static var reportsMDClear = false

    /// Checks the CPU (boot failure, naming what is missing) and turns every protection on.
    static func enable() {
        let maxExtended = cpuid(0x8000_0000).eax
        guard maxExtended >= 0x8000_0001, cpuid(0x8000_0001).edx & (1 << 20) != 0
        else { missing("NX (CPUID.80000001h:EDX[20])") }
        guard cpuid(0).eax >= 7 else { missing("CPUID leaf 7 (SMEP, SMAP, UMIP)") }
        let l7 = cpuid(7)
        guard l7.ebx & (1 << 7) != 0 else { missing("SMEP (CPUID.7.0:EBX[7])") }
        guard l7.ebx & (1 << 20) != 0 else { missing("SMAP (CPUID.7.0:EBX[20])") }
        guard l7.ecx & (1 << 2) != 0 else { missing("UMIP (CPUID.7.0:ECX[2])") }
        reportsMDClear = l7.edx & (1 << 10) != 0
        wrmsr(efer, rdmsr(efer) | eferNXE)
        writeCR4((readCR4() | cr4SMEP | cr4SMAP | cr4UMIP) & ~cr4PGE)
    }

    static func missing(_ what: StaticString) -> Never {
        Console.write("Sprig: boot failed: the CPU lacks ")
        Console.line(what)
        bootFailure("Sprig needs NX, SMEP, SMAP and UMIP (under QEMU: -cpu max, as sprig run passes)")
    }

    /// The boot line a test reads CR0, CR4 and EFER back from.
    static func report() {
        Console.write("Sprig: cr0=")
        Console.hex(readCR0())
        Console.write(" cr4=")
        Console.hex(readCR4())
        Console.write(" efer=")
        Console.hex(rdmsr(efer))
        Console.write(reportsMDClear ? " md_clear=1 (VERW on every exit clears the CPU's buffers)"
                                     : " md_clear=0 (VERW on every exit; the CPU reports no MD_CLEAR, so it clears nothing)")
        Console.newline()
    }
}

enum KernelTables {
    static let present: UInt64 = 1 << 0
    static let writable: UInt64 = 1 << 1
    static let user: UInt64 = 1 << 2
    static let large: UInt64 = 1 << 7
    static let global: UInt64 = 1 << 8
    static let noExecute: UInt64 = 1 << 63
    static let frameMask: UInt64 = 0x000F_FFFF_FFFF_F000
    static let table: UInt64 = present | writable

    static var textStart: UInt64 { symbolAddress(&textStartSymbol) }
    static var textEnd: UInt64 { symbolAddress(&textEndSymbol) }
    static var dataStart: UInt64 { symbolAddress(&dataStartSymbol) }
    static var imageEnd: UInt64 { symbolAddress(&imageEndPhysSymbol) &+ kernelVMA }

    static func tablePage(_ i: UInt64) -> UnsafeMutablePointer<UInt64> {
        UnsafeMutablePointer<UInt64>(bitPattern: UInt(symbolAddress(&kernelTablesSymbol) + i * AddressSpace.pageSize)).unsafelyUnwrapped
    }
    static func physical(_ p: UnsafeMutablePointer<UInt64>) -> UInt64 { UInt64(UInt(bitPattern: p)) - kernelVMA }
    static var kernelPML4: UnsafeMutablePointer<UInt64> {
        withUnsafeMutablePointer(to: &bootPML4Symbol) { UnsafeMutableRawPointer($0).assumingMemoryBound(to: UInt64.self) }
    }
    static var windowPML4: UnsafeMutablePointer<UInt64> { tablePage(2) }

    static func isGuard(_ va: UInt64) -> Bool {
        va == symbolAddress(&kernelStackGuardSymbol) || va == symbolAddress(&entryStackGuardSymbol)
            || va == symbolAddress(&dfStackGuardSymbol) || va == symbolAddress(&nmiStackGuardSymbol)
    }

    static func inWindow(_ va: UInt64) -> Bool {
        (va >= symbolAddress(&windowTextStartSymbol) && va < symbolAddress(&windowTextEndSymbol))
            || (va >= symbolAddress(&windowDataStartSymbol) && va < symbolAddress(&windowDataEndSymbol))
            || (va >= symbolAddress(&windowBssStartSymbol) && va < symbolAddress(&windowBssEndSymbol))
    }

    /// The leaf flags of the image page at `va`; 0 for a guard page and outside the image.
    static func imageFlags(_ va: UInt64) -> UInt64 {
        if va < textStart || va >= imageEnd || isGuard(va) { return 0 }
        if va < textEnd { return present }
        if va < dataStart || va == symbolAddress(&idtSymbol) { return present | noExecute }
        return present | writable | noExecute
    }

    /// Builds the kernel's tables and the window's, loads the kernel's and drops the boot
    /// tables' identity map. Returns the PML4 (physical) whose upper half partitions get.
    static func build(window: Bool) -> UInt64 {
        guard imageEnd - kernelVMA <= 0x20_0000 else { bootFailure("the kernel image passes 2 MiB") }
        let pt = tablePage(0), pd = tablePage(1)
        let wPML4 = tablePage(2), wPDPT = tablePage(3), wPD = tablePage(4), wPT = tablePage(5)
        let directLow = tablePage(6)
        var t: UInt64 = 0
        while t < 7 { tablePage(t).initialize(repeating: 0, count: 512); t += 1 }

        var va = textStart
        while va < imageEnd {
            let f = imageFlags(va)
            let i = Int((va >> 12) & 511)
            if f != 0 {
                pt[i] = (va - kernelVMA) | f
                if inWindow(va) { wPT[i] = pt[i] }
            }
            va += AddressSpace.pageSize
        }
        pd[0] = physical(pt) | table
        let pdptHigh = withUnsafeMutablePointer(to: &bootPDPTHighSymbol) { UnsafeMutableRawPointer($0).assumingMemoryBound(to: UInt64.self) }
        pdptHigh[510] = physical(pd) | table
        writeCR3(physical(kernelPML4))

        // The direct map: no-exec everywhere; its first 2 MiB at 4 KiB, the image's text and
        // rodata read-only.
        let textPhys = textStart - kernelVMA, dataPhys = dataStart - kernelVMA
        var p: UInt64 = 0
        while p < 512 {
            let pa = p * AddressSpace.pageSize
            let ro = pa >= textPhys && pa < dataPhys
            directLow[Int(p)] = pa | present | noExecute | (ro ? 0 : writable)
            p += 1
        }
        let boot2M = withUnsafeMutablePointer(to: &bootPDSymbol) { UnsafeMutableRawPointer($0).assumingMemoryBound(to: UInt64.self) }
        var e = 0
        while e < 2048 { boot2M[e] |= noExecute; e += 1 }
        boot2M[0] = physical(directLow) | table
        kernelPML4[0] = 0
        writeCR3(physical(kernelPML4))

        wPML4[511] = physical(wPDPT) | table
        wPDPT[510] = physical(wPD) | table
        wPD[0] = physical(wPT) | table
        if window {
            kernelCR3 = physical(kernelPML4)
            return physical(wPML4)
        }
        wrmsr(CPUProtection.lstar, symbolAddress(&syscallEntryFlatSymbol))
        return physical(kernelPML4)
    }

    /// What `verify` found in one PML4.
    struct Census {
        var readExecute: UInt64 = 0
        var readOnly: UInt64 = 0
        var readWrite: UInt64 = 0
        var writableExecutable: UInt64 = 0
        var userInKernelHalf: UInt64 = 0
        var lowerHalf: UInt64 = 0
        var global: UInt64 = 0
        var outsideWindow: UInt64 = 0
        var guardsMapped: UInt64 = 0
    }

    /// Walks the upper half of `pml4` in 4 KiB pages (and counts lower-half entries when
    /// `countLower`). `window`: every leaf must be a window page.
    static func census(_ pml4Phys: UInt64, window: Bool, countLower: Bool) -> Census {
        var c = Census()
        let pml4 = X86Platform.pointer(PhysicalAddress(pml4Phys))
        var i = 0
        while i < 512 {
            let e = pml4[i]
            if e & present != 0 {
                if i < 256 { if countLower { c.lowerHalf += 1 } } else {
                    let va = UInt64(0xFFFF_0000_0000_0000) | (UInt64(i) << 39)
                    walk(e & frameMask, level: 3, va: va, inherited: e, window: window, &c)
                }
            }
            i += 1
        }
        let g: InlineArray<4, UInt64> = [symbolAddress(&kernelStackGuardSymbol), symbolAddress(&entryStackGuardSymbol),
                                          symbolAddress(&dfStackGuardSymbol), symbolAddress(&nmiStackGuardSymbol)]
        var k = 0
        while k < 4 { if translates(pml4Phys, g[k]) { c.guardsMapped += 1 }; k += 1 }
        return c
    }

    private static func walk(_ tablePhys: UInt64, level: Int, va: UInt64, inherited: UInt64, window: Bool, _ c: inout Census) {
        let t = X86Platform.pointer(PhysicalAddress(tablePhys))
        let span: UInt64 = 1 << (12 + 9 * UInt64(level - 1))
        var i = 0
        while i < 512 {
            let e = t[i]
            if e & present != 0 {
                let at = va + UInt64(i) * span
                if e & user != 0 || inherited & user != 0 { c.userInKernelHalf += 1 }
                if level > 1 && e & large == 0 {
                    walk(e & frameMask, level: level - 1, va: at, inherited: e, window: window, &c)
                } else {
                    let pages = span / AddressSpace.pageSize
                    let w = e & writable != 0, x = e & noExecute == 0
                    if w && x { c.writableExecutable += pages }
                    else if x { c.readExecute += pages }
                    else if w { c.readWrite += pages }
                    else { c.readOnly += pages }
                    if e & global != 0 { c.global += pages }
                    if window && (level > 1 || !inWindow(at)) { c.outsideWindow += pages }
                }
            }
            i += 1
        }
    }

    /// Whether `va` is mapped in `pml4Phys`.
    static func translates(_ pml4Phys: UInt64, _ va: UInt64) -> Bool {
        var table = pml4Phys
        var level = 4
        while level >= 1 {
            let e = X86Platform.pointer(PhysicalAddress(table))[Int((va >> (12 + 9 * UInt64(level - 1))) & 511)]
            if e & present == 0 { return false }
            if level == 1 || e & large != 0 { return true }
            table = e & frameMask
            level -= 1
        }
        return true
    }

    /// Checks the kernel's tables and root's upper half (boot failure if anything is writable
    /// and executable, user-accessible, global or a mapped guard page, or, with the window, any
    /// kernel page outside it) and prints what they hold, for the boot test.
    static func verify(rootPML4: UInt64, window: Bool) {
        let k = census(physical(kernelPML4), window: false, countLower: true)
        print("kernel", k)
        if k.writableExecutable != 0 || k.userInKernelHalf != 0 || k.lowerHalf != 0 || k.global != 0 || k.guardsMapped != 0 {
            bootFailure("the kernel's page tables break W^X, map a user or global page, or map a guard page")
        }
        guard window else {
            Console.line("Sprig: entry window off (skim=off): partitions map the whole kernel half")
            return
        }
        let w = census(rootPML4, window: true, countLower: false)
        print("window", w)
        if w.writableExecutable != 0 || w.userInKernelHalf != 0 || w.lowerHalf != 0 || w.global != 0
            || w.guardsMapped != 0 || w.outsideWindow != 0 {
            bootFailure("the entry window maps more than the window, or breaks W^X")
        }
    }

    private static func print(_ name: StaticString, _ c: Census) {
        Console.write("Sprig: tables ")
        Console.write(name)
        Console.write(": r-x=")
        Console.decimal(c.readExecute)
        Console.write(" r--=")
        Console.decimal(c.readOnly)
        Console.write(" rw-=")
        Console.decimal(c.readWrite)
        Console.write(" rwx=")
        Console.decimal(c.writableExecutable)
        Console.write(" user=")
        Console.decimal(c.userInKernelHalf)
        Console.write(" global=")
        Console.decimal(c.global)
        Console.write(" lower=")
        Console.decimal(c.lowerHalf)
        Console.write(" guards-mapped=")
        Console.decimal(c.guardsMapped)
        Console.write(" outside-window=")
        Console.decimal(c.outsideWindow)
        Console.newline()
    }
}

/// The PML4 of the partition the kernel serves (CR3 itself when the window is off).
func partitionCR3() -> UInt64 { kernelCR3 != 0 ? userCR3 : readCR3() }
