/// Kernel symbols a system's root is told on the kernel command line: a teaching system that
/// shows an attack on the kernel's code needs to know where it is, as WeensyOS's Eve reads
/// obj/kernel.sym. The addresses come from the kernel ELF's symbol table (llvm-nm) and reach
/// root as `<system>.<symbol>=0x…` words (BootInfo.argument reads them).
import Foundation

public enum KernelSymbols {
    /// The command-line words for `system.kernelSymbols`, read from `elf`.
    /// - Throws: `ToolError` when llvm-nm is missing or a symbol is not in the ELF.
    public static func commandLine(for system: SystemDescription, elf: URL) throws -> String {
        guard !system.kernelSymbols.isEmpty else { return "" }
        let table = try addresses(elf: elf)
        return try system.kernelSymbols.map { name in
            guard let a = table[name] else {
                throw ToolError("the kernel ELF \(elf.path) has no symbol \(name), which the \(system.name) system needs; rebuild with `sprig build`")
            }
            return "\(system.name).\(name)=0x\(String(a, radix: 16))"
        }.joined(separator: " ")
    }

    /// Every defined symbol of `elf` with its address.
    public static func addresses(elf: URL) throws -> [String: UInt64] {
        guard let nm = CrashSymbols.tool("llvm-nm") else {
            throw ToolError("llvm-nm is not installed (it comes with the Swift toolchain at /opt/swift)")
        }
        var table: [String: UInt64] = [:]
        for line in try run(nm, ["--defined-only", elf.path]).split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 3, let a = UInt64(parts[0], radix: 16) { table[String(parts[2])] = a }
        }
        return table
    }
}
