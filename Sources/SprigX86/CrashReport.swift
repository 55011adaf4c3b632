/// The kernel crash report: what a fault in ring 0 (or in root, which has no parent to take it)
/// prints before the machine stops with `ExitStatus.kernelCrash`.
///
/// A failed Swift precondition in the kernel compiles to `ud2`; a #UD whose rip points at the
/// bytes 0F 0B inside the kernel is reported as "kernel trap" (a debug build has already printed
/// the check's message through `putchar`).
///
/// The report names what it can from the kernel alone: the running partition (root by the
/// program name of its boot module; a child by root's name for it and its descriptor, since
/// root tells the kernel no program name for it), the last service call the kernel served
/// (`LastServiceCall`), and a frame-pointer walk of the kernel stack as raw addresses. The host
/// (`sprig run`, `CrashSymbols`) turns every kernel address of the report into a function and
/// source line with the kernel ELF (docs/debugging.md).
import SprigABI
import SprigCore

/// The last service call the kernel served, written in `sprigTrap` only when the call returned
/// a status to its caller (`.returned`, `.machineService`): a successful yield (`.resume`) is
/// not recorded, so yield's path does not pay for it (docs/debugging.md).
enum LastServiceCall {
    nonisolated(unsafe) static var number: UInt64 = 0
    nonisolated(unsafe) static var a0: UInt64 = 0
    nonisolated(unsafe) static var a1: UInt64 = 0
    nonisolated(unsafe) static var a2: UInt64 = 0
    /// The caller's descriptor; 0 while no call has been recorded.
    nonisolated(unsafe) static var caller: UInt64 = 0

    @inline(__always)
    static func record(_ frame: TrapFrame) {
        number = frame[TrapFrame.rax]
        a0 = frame[TrapFrame.rdi]; a1 = frame[TrapFrame.rsi]; a2 = frame[TrapFrame.rdx]
        caller = currentDescriptor
    }
}

enum CrashReport {
    /// Root's program name: its boot module's name (`BootModule.name0`, `name1`), set at boot.
    nonisolated(unsafe) static var rootName0: UInt64 = 0
    nonisolated(unsafe) static var rootName1: UInt64 = 0
    /// Frames the backtrace prints at most.
    static let maxFrames = 32

    static func serviceName(_ n: UInt64) -> StaticString {
        guard let s = Service(rawValue: n) else { return "no such service" }
        return s.name
    }

    static func nameWord(_ w: UInt64) {
        var i: UInt64 = 0
        while i < 8 {
            let b = UInt8(truncatingIfNeeded: w >> (i * 8))
            if b == 0 { return }
            serialPutC(b >= 32 && b < 127 ? b : 63)
            i += 1
        }
    }

    static func partitionLine(_ partition: Descriptor) {
        let root = X86Platform().rootPartition
        Console.write("partition: ")
        if partition == root {
            Console.write("root, program ")
            if rootName0 == 0 { Console.write("(unnamed)") } else { nameWord(rootName0); nameWord(rootName1) }
            Console.write(" (descriptor ")
            Console.hex(partition.paddr.raw)
            Console.line(")")
        } else {
            Console.write("root's child ")
            Console.hex(InterruptRouting.name(X86Platform(), partition, in: root))
            Console.write(" (descriptor ")
            Console.hex(partition.paddr.raw)
            Console.line("); its program: unknown, root gives the kernel no name for it")
        }
    }

    static func lastServiceCall(_ partition: Descriptor?) {
        Console.write("last service call: ")
        guard LastServiceCall.caller != 0 else {
            Console.line("none recorded (a successful yield is not recorded)")
            return
        }
        Console.hex(LastServiceCall.number, digits: 4)
        Console.write(" ")
        Console.write(serviceName(LastServiceCall.number))
        Console.write("(")
        Console.hex(LastServiceCall.a0); Console.write(", ")
        Console.hex(LastServiceCall.a1); Console.write(", ")
        Console.hex(LastServiceCall.a2)
        Console.write(") by ")
        if let partition, partition.paddr.raw == LastServiceCall.caller {
            Console.line("this partition")
        } else if LastServiceCall.caller == rootDescriptor {
            Console.line("root")
        } else {
            Console.write("descriptor ")
            Console.hex(LastServiceCall.caller)
            Console.newline()
        }
    }

    /// The kernel stack's frame-pointer chain from the faulting frame's rbp, as raw return
    /// addresses. Every step is checked before it is read (inside the kernel stack, aligned,
    /// growing upward, the return address inside the kernel's text), so a corrupt chain ends
    /// the walk with its reason instead of faulting the report.
    static func backtrace(_ frame: TrapFrame) {
        guard !frame.fromUser else {
            Console.line("backtrace: none (the fault was ring 3's)")
            return
        }
        let low = symbolAddress(&kernelStackGuardSymbol) &+ AddressSpace.pageSize
        let high = symbolAddress(&kernelStackTopSymbol)
        let textStart = KernelTables.textStart, textEnd = KernelTables.textEnd
        Console.line("backtrace (kernel stack, frame pointers):")
        Console.write("  #0 ")
        Console.hex(frame[TrapFrame.rip])
        Console.newline()
        var fp = frame[TrapFrame.rbp]
        var n: UInt64 = 1
        while true {
            guard n < UInt64(maxFrames) else { Console.line("  (walk ends: frame limit)"); return }
            guard fp & 7 == 0, fp >= low, fp <= high &- 16 else {
                Console.write("  (walk ends: frame pointer ")
                Console.hex(fp)
                Console.line(" is not in the kernel stack)")
                return
            }
            let ret = UnsafePointer<UInt64>(bitPattern: UInt(fp &+ 8))!.pointee
            let next = UnsafePointer<UInt64>(bitPattern: UInt(fp))!.pointee
            guard ret >= textStart, ret < textEnd else {
                Console.write("  (walk ends: return address ")
                Console.hex(ret)
                Console.line(" is not in the kernel's text: stack corrupt or a frame without a frame pointer)")
                return
            }
            Console.write("  #")
            Console.decimal(n)
            Console.write(" ")
            Console.hex(ret)
            Console.newline()
            guard next > fp else {
                if next != 0 {
                    Console.write("  (walk ends: next frame pointer ")
                    Console.hex(next)
                    Console.line(" does not grow up the stack)")
                }
                return
            }
            fp = next
            n += 1
        }
    }
    static func vectorName(_ v: UInt64) -> StaticString {
        switch v {
        case 0: return "divide error (#DE)"
        case 1: return "debug (#DB)"
        case 2: return "non-maskable interrupt"
        case 3: return "breakpoint (#BP)"
        case 4: return "overflow (#OF)"
        case 5: return "bound range (#BR)"
        case 6: return "invalid opcode (#UD)"
        case 7: return "device not available (#NM)"
        case 8: return "double fault (#DF)"
        case 10: return "invalid TSS (#TS)"
        case 11: return "segment not present (#NP)"
        case 12: return "stack fault (#SS)"
        case 13: return "general protection (#GP)"
        case 14: return "page fault (#PF)"
        case 16: return "x87 floating point (#MF)"
        case 17: return "alignment check (#AC)"
        case 18: return "machine check (#MC)"
        case 19: return "SIMD floating point (#XM)"
        default: return "interrupt"
        }
    }

    static func isSwiftTrap(_ frame: TrapFrame) -> Bool {
        guard frame[TrapFrame.vector] == 6, !frame.fromUser, frame[TrapFrame.rip] >= KernelLayout.base else { return false }
        let p = UnsafePointer<UInt8>(bitPattern: UInt(frame[TrapFrame.rip]))!
        return p[0] == 0x0F && p[1] == 0x0B
    }

    static func register(_ name: StaticString, _ v: UInt64) {
        Console.write("  ")
        Console.write(name)
        Console.write("=")
        Console.hex(v)
    }

    /// Prints the report for `frame` and stops the machine. `reason` says who faulted;
    /// `partition`, when the fault was a partition's, is its descriptor (named as root names it).
    static func report(_ frame: TrapFrame, reason: StaticString, partition: Descriptor? = nil) -> Never {
        let vector = frame[TrapFrame.vector]
        Console.newline()
        Console.line("*** SPRIG KERNEL CRASH ***")
        Console.write("reason: ")
        Console.line(reason)
        // A kernel fault names the partition it was serving, if root was running yet.
        if let running = partition ?? (currentDescriptor != 0 ? X86Platform().currentPartition : nil) {
            partitionLine(running)
        } else {
            Console.line("partition: none yet (the kernel was booting)")
        }
        lastServiceCall(partition)
        if isSwiftTrap(frame) { Console.line("kernel trap: a Swift runtime check failed in the kernel") }
        Console.write("vector: ")
        Console.decimal(vector)
        Console.write(" ")
        Console.line(vectorName(vector))
        Console.write("error code: ")
        Console.hex(frame[TrapFrame.errorCode])
        Console.newline()
        register("rip", frame[TrapFrame.rip]); register("cs", frame[TrapFrame.cs]); register("rflags", frame[TrapFrame.rflags]); Console.newline()
        register("rsp", frame[TrapFrame.rsp]); register("ss", frame[TrapFrame.ss]); register("cr2", readCR2()); Console.newline()
        register("cr3", readCR3()); Console.newline()
        register("rax", frame[TrapFrame.rax]); register("rbx", frame[TrapFrame.rbx]); register("rcx", frame[TrapFrame.rcx]); Console.newline()
        register("rdx", frame[TrapFrame.rdx]); register("rsi", frame[TrapFrame.rsi]); register("rdi", frame[TrapFrame.rdi]); Console.newline()
        register("rbp", frame[TrapFrame.rbp]); register("r8", frame[TrapFrame.r8]); register("r9", frame[TrapFrame.r9]); Console.newline()
        register("r10", frame[TrapFrame.r10]); register("r11", frame[TrapFrame.r11]); register("r12", frame[TrapFrame.r12]); Console.newline()
        register("r13", frame[TrapFrame.r13]); register("r14", frame[TrapFrame.r14]); register("r15", frame[TrapFrame.r15]); Console.newline()
        backtrace(frame)
        Console.line("*** machine stopped ***")
        Machine.powerOff(status: ExitStatus.kernelCrash)
    }
}
