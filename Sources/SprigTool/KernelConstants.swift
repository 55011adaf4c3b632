/// The constants assembly and the linker script share with Swift, generated from SprigABI so
/// that each is written once: `Sources/SprigX86/kernel_constants.h` (boot.S, entry.S) and
/// `kernel_constants.ld` (kernel.ld). `sprig build` writes them when they differ;
/// `KernelConstantsTests` fails when the checked-in copies are stale.
import Foundation
import SprigABI

public enum KernelConstants {
    /// Paths relative to the checkout.
    public static let headerPath = "Sources/SprigX86/kernel_constants.h"
    public static let linkerScriptPath = "Sources/SprigX86/kernel_constants.ld"

    static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16, uppercase: true) }

    /// The C-preprocessor header.
    public static var header: String {
        """
        /* Generated from SprigABI by `sprig build` (Sources/SprigTool/KernelConstants.swift): do not edit. */
        #ifndef SPRIG_KERNEL_CONSTANTS_H
        #define SPRIG_KERNEL_CONSTANTS_H
        /* KernelLayout.base: the kernel's virtual base. */
        #define KERNEL_VMA \(hex(KernelLayout.base))
        /* Delivery.errorCodeVectors: bit v set when CPU exception v pushes an error code. */
        #define ERROR_CODE_VECTORS \(hex(Delivery.errorCodeVectors))
        #endif

        """
    }

    /// The linker-script fragment kernel.ld includes.
    public static var linkerScript: String {
        """
        /* Generated from SprigABI by `sprig build` (Sources/SprigTool/KernelConstants.swift): do not edit. */
        KERNEL_VMA = \(hex(KernelLayout.base));

        """
    }

    /// Writes both files into the checkout when they differ from what SprigABI gives.
    public static func write(_ project: Project) throws {
        for (path, text) in [(headerPath, header), (linkerScriptPath, linkerScript)] {
            let url = project.path(path)
            if (try? String(contentsOf: url, encoding: .utf8)) != text {
                try text.write(to: url, atomically: true, encoding: .utf8)
            }
        }
    }
}
