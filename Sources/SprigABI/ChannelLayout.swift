/// Where the generic library (systems/programs/init, SprigUser's `Channel`) maps a child's
/// channel pages and its stamp page, the words of a channel page, and the vectors it answers.
/// The host counts the page tables of these mappings (`InitMemory`, validator `plan-fits`).
public enum ChannelLayout {
    public static let writerBase: UInt64 = 0x0000_0000_3000_0000
    public static let readerBase: UInt64 = 0x0000_0000_3010_0000
    public static let fullWord: UInt64 = 0
    public static let lengthWord: UInt64 = 8
    public static let sequenceWord: UInt64 = 16
    public static let data: UInt64 = 24
    /// Where the reader of a handed-over channel `i` writes the sequence number it took last.
    public static let ackBase: UInt64 = 0x0000_0000_3020_0000
    /// A page of each partition's own where the event bench stamps are kept: word 0 the counter
    /// just before its last `raiseEvent`, word 1 at the start of its last event handler.
    public static let stampPage: UInt64 = 0x0000_0000_3030_0000
    public static let raisedWord: UInt64 = 0, enteredWord: UInt64 = 8
    public static let capacity: UInt64 = AddressSpace.pageSize - data

    /// `int` vectors the generic library answers: a message waits in a writer page (forwarded
    /// up to the carrier), and an event's handler is done (resume the frame's partition).
    public static let send: UInt64 = 0x81
    public static let handled: UInt64 = 0x83
    /// The vector a generic parent enters its generic child at to pass on a tick.
    public static let parentTick: UInt64 = 0x40

    @inlinable public static func writer(_ channel: UInt64) -> UInt64 { writerBase + channel * AddressSpace.pageSize }
    @inlinable public static func reader(_ channel: UInt64) -> UInt64 { readerBase + channel * AddressSpace.pageSize }
    @inlinable public static func ack(_ channel: UInt64) -> UInt64 { ackBase + channel * AddressSpace.pageSize }
}
