/// The fuzzer's input, read front to back as the choices of a call sequence.
///
/// libFuzzer hands the target a byte string; every decision the decoder makes (which step, which
/// argument kind, which page) takes the next byte. Running out of bytes ends the sequence, and
/// reading past the end yields zeros, so every byte string is a valid input and a short input
/// is a short sequence. Nothing here knows about the kernel.

/// A cursor over the input bytes.
struct ByteReader {
    private let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// True when every byte has been read.
    var atEnd: Bool { offset >= bytes.count }

    /// The next byte, or 0 past the end.
    mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// The next byte as an index below `count` (0 when `count` is 0).
    mutating func index(_ count: Int) -> Int {
        let b = Int(byte())
        return count == 0 ? 0 : b % count
    }

    /// The next eight bytes, little-endian.
    mutating func word() -> UInt64 {
        var w: UInt64 = 0
        for k in 0..<8 { w |= UInt64(byte()) << (8 * UInt64(k)) }
        return w
    }
}
