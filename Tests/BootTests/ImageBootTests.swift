/// The GRUB image (`sprig iso`): its grub.cfg, and the `hello` system booted from it in QEMU's
/// CD-ROM under SeaBIOS and under OVMF (UEFI), held to the same console and exit as a `-kernel`
/// boot (HelloConsole); `signal` and `muen-demo` (the generic root) from it under SeaBIOS.
import Foundation
import SprigABI
import SprigTool
import Testing

@Suite("GRUB image", .serialized)
struct ImageBootTests {
    /// Builds `system`'s image (release) and boots it from the CD-ROM under `firmware`.
    static func boot(_ system: String, _ firmware: BootImage.Firmware, icount: Bool = false) throws -> RunResult {
        let (_, products) = try Boot.products(.release)
        let url = products.directory.appendingPathComponent("\(system)-test.iso")
        try BootImage.build(products, system: try Systems.named(system), output: url)
        var o = RunOptions()
        o.system = system
        // OVMF alone takes about 10 s under TCG on a shared core; room for a loaded machine.
        o.timeout = 300
        o.image = try ImageBoot(image: url, firmware: firmware)
        o.icount = icount
        return try QEMU.run(products, options: o)
    }

    @Test("hello boots from the image's CD-ROM under SeaBIOS: GRUB on the serial port, then the kernel, status 0")
    func biosBoot() throws {
        let r = try Self.boot("hello", .bios)
        try HelloConsole.expect(r)
        #expect(r.output.contains("Booting `Sprig: hello'"), "GRUB's menu is on the serial port\n\(r.output)")
    }

    @Test("hello boots from the image's CD-ROM under OVMF (UEFI): GRUB's EFI application loads the multiboot kernel")
    func uefiBoot() throws {
        let r = try Self.boot("hello", .uefi)
        try HelloConsole.expect(r)
        #expect(r.output.contains("Booting `Sprig: hello'"), "GRUB's menu is on the serial port\n\(r.output)")
        #expect(r.output.contains("BdsDxe"), "OVMF, not SeaBIOS, booted the image\n\(r.output)")
    }

    @Test("signal boots from the image under SeaBIOS: root finds the mini-OS and server modules by their names")
    func signalModules() throws {
        let r = try Self.boot("signal", .bios)
        #expect(r.ending == .status(0), "\(r.summary)\n\(r.output)")
        #expect(!r.output.contains("needs the minios and server modules"))
        r.output.expectInOrder(["server: SIGINT received", "minios: server deleted", "root: signal scenario done, 0 failures"])
    }

    @Test("muen-demo boots from the image under SeaBIOS: GRUB puts the modules inside root's largest range, init takes its pages beside them")
    func genericRootBesideModules() throws {
        let r = try Self.boot("muen-demo", .bios, icount: true)
        #expect(r.ending == .status(0), "\(r.summary)\n\(r.output)")
        #expect(r.output.contains("window pages in 1 ranges"), "GRUB's modules no longer lie in root's one range\n\(r.output)")
        r.output.expectInOrder([
            "init: 3 partitions, 3 minor frames at 1000 Hz\n", "nest: 2 partitions, 2 round-robin slots\n",
            "init: 3 major frames, 15 ticks, 6 messages carried, 0 failures; powering off\n",
        ])
    }

    @Test("the QEMU arguments boot the CD-ROM, not -kernel, with the CPU model the kernel needs")
    func qemuArguments() throws {
        let (_, products) = try Boot.products(.release)
        var o = RunOptions()
        o.system = "signal"
        o.commandLine = "x=1"
        let iso = URL(fileURLWithPath: "/tmp/signal.iso")
        o.image = try ImageBoot(image: iso, firmware: .bios)
        let args = QEMU.arguments(products, system: try Systems.named("signal"), options: o)
        for gone in ["-kernel", "-initrd", "-append"] { #expect(!args.contains(gone), "\(args)") }
        let cdrom = try #require(args.firstIndex(of: "-cdrom"))
        #expect(args[cdrom + 1] == iso.path)
        let cpu = try #require(args.firstIndex(of: "-cpu"))
        #expect(args[cpu + 1] == "max")
        #expect(args.filter { $0 == "-cpu" }.count == 1)
        #expect(args.contains("isa-debug-exit,iobase=0xf4,iosize=4"), "the system's status still ends QEMU")
    }

    @Test("grub.cfg: serial console, no wait, the kernel by multiboot with its command line, each module named as under -kernel")
    func grubConfiguration() throws {
        let cfg = try BootImage.grubConfiguration(system: try Systems.named("attacks"),
                                                  modules: ["attacks.bin", "attacker.bin", "attacker.bin", "attacker.bin"],
                                                  commandLine: "fuzz.seed=7")
        let lines = cfg.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(lines.contains("serial --unit=0 --speed=115200"))
        #expect(lines.contains("terminal_output serial"))
        #expect(lines.contains("set timeout=0"))
        #expect(lines.contains("multiboot /boot/sprig/kernel.bin fuzz.seed=7"))
        #expect(lines.filter { $0.hasPrefix("module ") } == [
            "module /boot/sprig/attacks.bin attacks.bin", "module /boot/sprig/attacker.bin attacker.bin",
            "module /boot/sprig/attacker.bin attacker.bin", "module /boot/sprig/attacker.bin attacker.bin",
        ])
        #expect(throws: ToolError.self, "a quote or semicolon would end GRUB's word") {
            try BootImage.grubConfiguration(system: try Systems.named("hello"), modules: ["root.bin"], commandLine: "a\"; reboot")
        }
    }
}
