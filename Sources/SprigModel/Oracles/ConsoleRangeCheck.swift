/// `consoleWrite`'s walk of a range (`Kernel.consoleBytes`) over two pages that are adjacent in
/// root's space and not in physical memory, from an odd address.
///
/// The explorer's root reads and writes over page boundaries only in its window, which maps
/// physical pages in order, so a piece that took one byte too many from its page would read
/// the very byte the next piece should have. Root's image is mapped from the top of memory down,
/// its second page below the first: here a machine whose root image spans two pages writes 16
/// bytes from 7 before the image's page boundary, and the console must get the bytes ring 3
/// reads there (`SpecMMU`, byte by byte), in order: an accepted `consoleWrite` appends the
/// bytes of its range (docs/spec.md).
import SprigABI
import SprigCore

/// See the file overview.
public enum ConsoleRangeCheck {
    /// What disagrees; empty when nothing does.
    public static func run() -> [String] {
        let system = ModelSystem(machine: ModelMachine(pages: 64, kernelImagePages: 1, rootImagePages: 2))
        let m = system.machine
        let ps = AddressSpace.pageSize
        let start = AddressSpace.imageBase + ps - 7, length: UInt64 = 16
        guard let first = m.translate(m.root, AddressSpace.imageBase), let second = m.translate(m.root, AddressSpace.imageBase + ps),
              second.raw != first.raw + ps
        else { return ["root's two image pages are not mapped apart for the console check"] }
        // Bytes that tell the two pages and their neighbours apart.
        m.memory.store(first.adding(ps - 8), 0x1122_3344_5566_7788)
        m.memory.store(second, 0x99AA_BBCC_DDEE_FF01)
        var want: [UInt8] = []
        for va in start..<(start + length) {
            guard let pa = m.translate(m.root, va) else { return ["root's image byte at 0x\(String(va, radix: 16)) is not readable"] }
            want.append(m.memory.readByte(pa))
        }
        var got: [UInt8] = []
        let status = Kernel.consoleBytes(system.cpu, start: UserAddress(start), length: length) { pa, bytes in
            for k in 0..<bytes { got.append(m.memory.readByte(pa.adding(k))) }
        }
        guard status == .success, got == want else {
            return ["consoleWrite(0x\(String(start, radix: 16)), \(length)) over root's image pages: \(status), bytes \(got), ring 3 reads \(want)"]
        }
        return []
    }
}
