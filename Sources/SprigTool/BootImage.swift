/// `sprig iso`: a GRUB image that boots a system on a real PC, BIOS or UEFI.
///
/// grub-mkrescue lays out one ISO 9660 image (hybrid: a CD and a USB stick alike) with both
/// GRUB's BIOS core (El Torito and an MBR) and its x86-64 EFI application (an EFI system
/// partition built with mtools). GRUB loads the kernel as QEMU's `-kernel` does, through its
/// multiboot header, and each partition as a module in the system's order, root's first, with
/// the same file names (root finds its modules by name). GRUB's own menu goes to the serial port,
/// where the kernel writes too, and boots at once.
import Foundation

public enum BootImage {
    /// The Debian packages grub-mkrescue needs for both platforms.
    public static let packages = ["grub-common", "grub-pc-bin", "grub-efi-amd64-bin", "xorriso", "mtools"]
    /// Where the ISO puts the kernel and the partitions.
    static let directory = "/boot/sprig"
    /// GRUB's module directories for the two platforms: grub-mkrescue leaves out, without a
    /// word, a platform whose directory is missing.
    static let platforms = ["/usr/lib/grub/i386-pc": "grub-pc-bin", "/usr/lib/grub/x86_64-efi": "grub-efi-amd64-bin"]

    /// The image's grub.cfg for `system` with kernel command line `commandLine`.
    /// - Throws: `ToolError` for a command line GRUB would read as more than words.
    public static func grubConfiguration(system: SystemDescription, modules: [String], commandLine: String) throws -> String {
        try check(commandLine: commandLine)
        var lines = [
            "# Sprig: the \(system.name) system. The kernel and GRUB both use the serial port at 0x3F8.",
            "serial --unit=0 --speed=115200",
            "terminal_input serial",
            "terminal_output serial",
            "set timeout=0",
            "menuentry \"Sprig: \(system.name)\" {",
            "  multiboot \(directory)/kernel.bin\(commandLine.isEmpty ? "" : " " + commandLine)",
        ]
        // GRUB gives a module the words after its path as its string (QEMU's -initrd gives the
        // path); the kernel names a module by the last path component of the string's first word.
        for m in modules { lines.append("  module \(directory)/\(m) \(m)") }
        lines += ["  boot", "}", ""]
        return lines.joined(separator: "\n")
    }

    /// - Throws: `ToolError` for a command line GRUB would read as more than words.
    public static func check(commandLine: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._=,:+-/ ")
        guard commandLine.allSatisfy(allowed.contains) else {
            throw ToolError("the kernel command line may only hold letters, digits, spaces and . _ = , : + - /, not '\(commandLine)'")
        }
    }

    /// What is missing for grub-mkrescue to make an image for both platforms, as the packages
    /// to install; empty when nothing is.
    public static func missingPackages() -> [String] {
        var missing: [String] = []
        for (tool, package) in [("grub-mkrescue", "grub-common"), ("xorriso", "xorriso"), ("mformat", "mtools")]
        where findExecutable(tool) == nil { missing.append(package) }
        for (dir, package) in platforms.sorted(by: { $0.key < $1.key }) where !FileManager.default.fileExists(atPath: dir) {
            missing.append(package)
        }
        return missing
    }

    /// Writes the image of `system` (built in `products`) to `output`, replacing it.
    /// - Throws: `ToolError` naming what is missing, or grub-mkrescue's output when it fails.
    public static func build(_ products: BuildProducts, system: SystemDescription, commandLine: String = "", output: URL) throws {
        let missing = missingPackages()
        guard missing.isEmpty else {
            throw ToolError("sprig iso needs \(missing.joined(separator: ", ")). Install them: apt-get install \(packages.joined(separator: " ")) (make iso and make test do this when run as root)")
        }
        let fm = FileManager.default
        let tree = fm.temporaryDirectory.appendingPathComponent("sprig-iso-\(getpid())-\(UUID().uuidString)")
        defer { try? fm.removeItem(at: tree) }
        let files = tree.appendingPathComponent(String(directory.dropFirst()))
        try fm.createDirectory(at: files, withIntermediateDirectories: true)
        try fm.createDirectory(at: tree.appendingPathComponent("boot/grub"), withIntermediateDirectories: true)
        try fm.copyItem(at: products.kernelImage, to: files.appendingPathComponent("kernel.bin"))
        var modules: [String] = []
        for p in system.bootModules {
            guard let image = products.partitions[p] else { throw ToolError("partition \(p) of \(system.name) was not built") }
            let name = image.lastPathComponent
            if !modules.contains(name) { try fm.copyItem(at: image, to: files.appendingPathComponent(name)) }
            modules.append(name)
        }
        let symbols = try KernelSymbols.commandLine(for: system, elf: products.kernelELF)
        let cfg = try grubConfiguration(system: system, modules: modules,
                                        commandLine: [commandLine, symbols].filter { !$0.isEmpty }.joined(separator: " "))
        try cfg.write(to: tree.appendingPathComponent("boot/grub/grub.cfg"), atomically: true, encoding: .utf8)
        try fm.createDirectory(at: output.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? fm.removeItem(at: output)
        // No translations, fonts or themes: the menu is a serial line, and the image stays small.
        try run(findExecutable("grub-mkrescue")!, ["--locales=", "--fonts=", "--themes=", "-o", output.path, tree.path])
    }

    /// How QEMU boots an image: from its CD-ROM, under SeaBIOS or OVMF.
    public enum Firmware: String, Sendable, CaseIterable {
        case bios
        case uefi

        /// OVMF as Debian ships it: the combined image (`-bios`), else the 4 MiB code image as
        /// read-only flash (its variables then start from a copy of the template each boot).
        static let ovmfCombined = ["/usr/share/ovmf/OVMF.fd", "/usr/share/OVMF/OVMF.fd"]
        static let ovmfCode = [("/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"),
                               ("/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd")]

        /// QEMU arguments that select this firmware; a flash variable store is copied to `variables`.
        /// - Throws: `ToolError` when OVMF is not installed.
        func qemuArguments(variables: URL) throws -> [String] {
            guard self == .uefi else { return [] }
            let fm = FileManager.default
            if let combined = Firmware.ovmfCombined.first(where: fm.fileExists(atPath:)) { return ["-bios", combined] }
            if let (code, vars) = Firmware.ovmfCode.first(where: { fm.fileExists(atPath: $0.0) && fm.fileExists(atPath: $0.1) }) {
                try? fm.removeItem(at: variables)
                try fm.copyItem(at: URL(fileURLWithPath: vars), to: variables)
                return ["-drive", "if=pflash,format=raw,readonly=on,file=\(code)", "-drive", "if=pflash,format=raw,file=\(variables.path)"]
            }
            throw ToolError("booting under UEFI needs OVMF. Install it: apt-get install ovmf (make test does this when run as root)")
        }
    }
}

/// An image `QEMU.run` boots from the CD-ROM instead of `-kernel` (`RunOptions.image`).
public struct ImageBoot: Sendable {
    public let image: URL
    public let firmware: BootImage.Firmware
    let firmwareArguments: [String]

    /// - Throws: `ToolError` when the firmware is not installed.
    public init(image: URL, firmware: BootImage.Firmware) throws {
        self.image = image
        self.firmware = firmware
        firmwareArguments = try firmware.qemuArguments(variables: image.appendingPathExtension("OVMF_VARS.fd"))
    }

    /// `arguments` (QEMU's for a `-kernel` boot) without `-kernel`, `-initrd` or `-append` (GRUB
    /// and the image's grub.cfg load the kernel and modules), with the image as the CD-ROM, the
    /// firmware, and the CPU model the kernel needs.
    func qemuArguments(replacingKernelIn arguments: [String]) -> [String] {
        var out: [String] = []
        var i = 0
        while i < arguments.count {
            if ["-kernel", "-initrd", "-append"].contains(arguments[i]) { i += 2; continue }
            out.append(arguments[i])
            i += 1
        }
        // The kernel refuses to boot without NX, SMEP, SMAP and UMIP, which `max` has under TCG.
        if !out.contains("-cpu") { out += ["-cpu", "max"] }
        return out + ["-cdrom", image.path] + firmwareArguments
    }
}

/// The first executable called `name` on PATH.
func findExecutable(_ name: String) -> URL? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for dir in path.split(separator: ":") {
        let u = URL(fileURLWithPath: String(dir)).appendingPathComponent(name)
        if FileManager.default.isExecutableFile(atPath: u.path) { return u }
    }
    return nil
}
