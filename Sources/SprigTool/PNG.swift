/// A small PNG encoder: an 8-bit palette image in one IDAT of stored (uncompressed) deflate
/// blocks, with CRC-32 on every chunk and Adler-32 on the zlib stream (RFC 1950, 1951, PNG
/// 1.2). No compression, no library: the images it writes (memory maps) are small.
public enum PNG {
    /// The PNG file of a `width` × `height` image whose pixel `(x, y)` is
    /// `palette[indices[y * width + x]]` (RGB).
    /// - Precondition: 1…256 palette entries, `indices.count == width * height`, every index
    ///   below `palette.count`.
    public static func encode(width: Int, height: Int, palette: [(UInt8, UInt8, UInt8)], indices: [UInt8]) -> [UInt8] {
        precondition(!palette.isEmpty && palette.count <= 256 && width > 0 && height > 0 && indices.count == width * height)
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var header: [UInt8] = []
        header += bigEndian(UInt32(width))
        header += bigEndian(UInt32(height))
        header += [8, 3, 0, 0, 0]  // bit depth 8, palette, deflate, adaptive filters, no interlace
        chunk("IHDR", header, into: &out)
        chunk("PLTE", palette.flatMap { [$0.0, $0.1, $0.2] }, into: &out)
        // Each scanline: filter type 0, then its indices.
        var raw: [UInt8] = []
        raw.reserveCapacity(height * (width + 1))
        for y in 0..<height {
            raw.append(0)
            raw += indices[(y * width)..<((y + 1) * width)]
        }
        chunk("IDAT", zlibStored(raw), into: &out)
        chunk("IEND", [], into: &out)
        return out
    }

    /// A zlib stream of stored deflate blocks (at most 65535 bytes each) and its Adler-32.
    static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]  // deflate, 32 KiB window; check bits make 0x7801 % 31 == 0
        var offset = 0
        repeat {
            let n = min(65535, data.count - offset)
            let last: UInt8 = offset + n == data.count ? 1 : 0
            out.append(last)  // BFINAL, BTYPE 00 (stored)
            out += [UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            out += data[offset..<(offset + n)]
            offset += n
        } while offset < data.count
        out += bigEndian(adler32(data))
        return out
    }

    static func chunk(_ type: String, _ data: [UInt8], into out: inout [UInt8]) {
        out += bigEndian(UInt32(data.count))
        let typed = Array(type.utf8) + data
        out += typed
        out += bigEndian(crc32(typed))
    }

    static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    /// CRC-32 (ISO-HDLC, reflected polynomial 0xEDB88320), as PNG chunks use it.
    public static func crc32(_ data: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in data {
            c ^= UInt32(b)
            for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
        }
        return ~c
    }

    /// Adler-32 (RFC 1950).
    public static func adler32(_ data: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        for d in data {
            a = (a + UInt32(d)) % 65521
            b = (b + a) % 65521
        }
        return b << 16 | a
    }
}
