/// Ring-3 values and their checks (Allegations.swift, Address.swift): each check accepts exactly
/// what its service documents, and no checked type can be made from outside SprigCore except
/// through its check.
import Foundation
import SprigABI
import SprigCore
import Testing

@Suite("Unchecked values and their checks")
struct AllegationTests {
    @Test("a VIDT index is checked below 512, and nothing past it passes")
    func vidtIndex() {
        for i: UInt64 in [0, 1, 255, 256, 511] { #expect(UncheckedVIDTIndex(i).checked()?.index == i) }
        for i: UInt64 in [512, 513, 1 << 32, 1 << 63, .max] { #expect(UncheckedVIDTIndex(i).checked() == nil) }
    }

    @Test("an interrupt state: yield and contexts normalize, setIntState takes 0 or 1 only")
    func interruptState() {
        #expect(UncheckedInterruptState(0).normalized == .enabled)
        for raw: UInt64 in [1, 2, 0x200, .max] { #expect(UncheckedInterruptState(raw).normalized == .masked) }
        #expect(UncheckedInterruptState(0).checked() == .enabled)
        #expect(UncheckedInterruptState(1).checked() == .masked)
        for raw: UInt64 in [2, 3, 1 << 63, .max] { #expect(UncheckedInterruptState(raw).checked() == nil) }
    }

    @Test("rights: read required, only read, write and execute bits")
    func rights() {
        let r = Rights.read, w = Rights.write, x = Rights.execute
        for ok in [r, r | w, r | x, r | w | x] { #expect(UncheckedRights(ok).checked()?.raw == ok) }
        for bad in [0, w, x, w | x, r | 8, r | 1 << 63, UInt64.max] { #expect(UncheckedRights(bad).checked() == nil, "\(bad)") }
        #expect(UncheckedRights(r | w).checked()?.write == true)
        #expect(UncheckedRights(r | w).checked()?.execute == false)
    }

    @Test("an address: canonical, lower half, then page-aligned")
    func address() {
        #expect(Result { () throws(Status) in try UserAddress(0x1000).checkedPage() } == .success(VirtualAddress(0x1000)))
        #expect(Result { () throws(Status) in try UserAddress(0x1008).checkedPage() } == .failure(.misalignedAddress))
        #expect(Result { () throws(Status) in try UserAddress(0x0000_8000_0000_0000).checkedCanonical() } == .failure(.nonCanonicalAddress))
        #expect(Result { () throws(Status) in try UserAddress(0xFFFF_8000_0000_0000).checkedCanonical() } == .failure(.kernelHalfAddress))
    }

    /// The checked types' declarations, as SprigCore spells them (public, or package when only
    /// the model and tests use them): no `public init` in any of them (a public initializer would
    /// let any module promote an allegation unchecked).
    @Test("no checked type has a public initializer")
    func noPublicInitializer() throws {
        let core = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/SprigCore").standardized
        let files = (FileManager.default.subpaths(atPath: core.path) ?? []).filter { $0.hasSuffix(".swift") }
        let checked = ["VirtualAddress", "VIDTSlot", "VirtualInterruptState", "PageRights", "ContextLocation", "Descriptor",
                       "RootTable"]
        var found = Set<String>()
        for file in files {
            let text = try String(contentsOf: core.appendingPathComponent(file), encoding: .utf8)
            for name in checked {
                guard let start = text.range(of: "public struct \(name):") ?? text.range(of: "package struct \(name):")
                else { continue }
                found.insert(name)
                // The body: up to the first line that closes the declaration.
                let rest = text[start.upperBound...]
                let body = rest[..<(rest.range(of: "\n}\n")?.lowerBound ?? rest.endIndex)]
                #expect(!body.contains("public init"), "\(name) in \(file) has a public initializer")
            }
        }
        #expect(found == Set(checked), "every checked type was found: \(found)")
    }
}
