/// `sprig iso`: a bootable GRUB image of a system for a real PC (BIOS or UEFI), and a boot of it in
/// QEMU from the CD-ROM (`--boot`), as the image tests do (Sources/SprigTool/BootImage.swift).
import ArgumentParser
import Foundation
import SprigTool

struct ImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "iso",
        abstract: "Build a GRUB image (ISO, also for a USB stick) that boots a system on a BIOS or UEFI PC.",
        discussion: """
            The image holds GRUB for BIOS and for x86-64 UEFI (grub-mkrescue; needs the Debian packages \
            grub-common, grub-pc-bin, grub-efi-amd64-bin, xorriso and mtools), the kernel, loaded through \
            its multiboot header, and the system's partitions as multiboot modules, root's first. GRUB and \
            the kernel use the serial port at 0x3F8 (115200 baud); GRUB boots at once. Write it to a USB \
            stick with dd (README.md, "Booting a real PC"): it erases the whole stick.

            --boot bios|uefi then boots the image in QEMU from its CD-ROM under SeaBIOS or OVMF (TCG), \
            console on this terminal, and exits with the system's status like `sprig run`.
            """)
    @OptionGroup var options: BuildOptions
    @Option(help: "The system to put on the image (see `sprig systems`).") var system = Systems.defaultName
    @Option(help: "Where to write the image (default .build/sprig/<variant>/<system>.iso).") var output: String?
    @Option(help: "Kernel command line on the image's GRUB entry.") var append = ""
    @Option(help: "Boot the image in QEMU afterwards: bios (SeaBIOS) or uefi (OVMF).") var boot: BootImage.Firmware?
    @Option(help: "With --boot: seconds before the machine is stopped.") var timeout: Double = 180

    func validate() throws {
        _ = try Systems.named(system)
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        do { try BootImage.check(commandLine: append) } catch let e as ToolError { throw ValidationError(e.description) }
    }

    func run() throws {
        let description = try Systems.named(system)
        let builder = try makeBuilder(options.variant)
        let products = try builder.build()
        let url = output.map { URL(fileURLWithPath: $0) }
            ?? builder.outputDirectory.appendingPathComponent("\(system).iso")
        say("sprig: writing the GRUB image of \(system) (BIOS and UEFI) with grub-mkrescue")
        try BootImage.build(products, system: description, commandLine: append, output: url)
        let size = (try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
        say("sprig: \(url.path) (\(size / 1024) KiB)")
        guard let firmware = boot else { return }
        say("sprig: booting it from QEMU's CD-ROM under \(firmware == .uefi ? "OVMF (UEFI)" : "SeaBIOS"), TCG")
        var o = RunOptions()
        o.system = system; o.variant = options.variant; o.timeout = timeout; o.echo = true
        o.image = try ImageBoot(image: url, firmware: firmware)
        if description.readsConsole { o.input = .inherit }
        let result = try QEMU.run(products, options: o)
        FileHandle.standardError.write(Data("sprig: \(result.summary)\n".utf8))
        throw ExitCode(result.exitCode)
    }
}

extension BootImage.Firmware: ExpressibleByArgument {}
