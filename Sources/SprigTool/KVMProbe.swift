/// `sprig run --kvm`: KVM only when it runs the kernel as TCG does.
///
/// A host may offer /dev/kvm and still not run Sprig faithfully (nested virtualization that
/// leaves `syscall` in ring 3, for one): the system would crash or hang for no fault of its own.
/// Before a KVM run, sprig boots a probe system under KVM for a few seconds: KVM is used only if
/// the probe's root got through its kernel entries and powered off with 0; otherwise the run
/// falls back to TCG with one line saying why.
///
/// Tests never use KVM: `SPRIG_KVM_ACCELERATOR` replaces the accelerator `--kvm` asks for (a
/// test sets `tcg`) and `SPRIG_KVM_PROBE_SYSTEM` the probe (a test sets `faulty` to stand for
/// a host that does not run the kernel faithfully).
import Foundation

public enum KVMProbe {
    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// The accelerator `--kvm` asks QEMU for.
    public static var accelerator: String { environment["SPRIG_KVM_ACCELERATOR"] ?? "kvm" }
    static var probeSystem: String { environment["SPRIG_KVM_PROBE_SYSTEM"] ?? "hello" }
    static let probeTimeout: Double = 10

    /// Why `--kvm` cannot be honoured on this host, or nil when a probe boot ran faithfully.
    public static func refusal(_ products: BuildProducts) -> String? {
        if accelerator == "kvm" {
            guard FileManager.default.fileExists(atPath: "/dev/kvm") else { return "this host has no /dev/kvm" }
            guard access("/dev/kvm", R_OK | W_OK) == 0 else { return "/dev/kvm is not readable and writable by this user" }
        }
        var o = RunOptions()
        o.system = probeSystem
        o.kvm = true
        o.timeout = probeTimeout
        o.memoryMiB = 32
        guard let result = try? QEMU.run(products, options: o) else { return "the probe boot could not start" }
        guard result.ending == .status(0) else {
            return "a probe boot of the \(probeSystem) system under KVM did not run as under TCG (\(result.summary.replacingOccurrences(of: "; see the report above", with: "")))"
        }
        return nil
    }
}
