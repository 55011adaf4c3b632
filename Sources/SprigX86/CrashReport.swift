/// The kernel crash report: what a fault in ring 0 (or in root, which has no parent to take it)
/// prints before the machine stops with `ExitStatus.kernelCrash`.
///
/// A failed Swift precondition in the kernel compiles to `ud2`; a #UD whose rip points at the
/// bytes 0F 0B inside the kernel is reported as "kernel trap" (a debug build has already printed
/// the check's message through `putchar`).
import SprigABI
import SprigCore

enum CrashReport {
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
        guard frame[TrapFrame.vector] == 6, !frame.fromUser, frame[TrapFrame.rip] >= 0xFFFF_FFFF_8000_0000 else { return false }
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
    static func report(_ frame: TrapFrame, reason: StaticString, partition: PhysicalAddress? = nil) -> Never {
        let vector = frame[TrapFrame.vector]
        Console.newline()
        Console.line("*** SPRIG KERNEL CRASH ***")
        Console.write("reason: ")
        Console.line(reason)
        if let partition {
            let root = PhysicalAddress(rootDescriptor)
            Console.write("partition: ")
            if partition == root {
                Console.line("root")
            } else {
                Console.write("root's child ")
                Console.hex(InterruptRouting.name(X86Platform(), partition, in: root))
                Console.write(" (descriptor ")
                Console.hex(partition.raw)
                Console.line(")")
            }
        }
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
        Console.line("*** machine stopped ***")
        Machine.powerOff(status: ExitStatus.kernelCrash)
    }
}
