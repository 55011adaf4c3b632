/// What a partition under the generic root (systems/programs/init) uses to take part in its
/// system's description: channels, events and the vectors the generic library answers.
///
/// A channel's ends each have a page of their own, never shared with the other end: channel
/// `i` (its index in the compiled plan, the description's channels by name) is the writer's
/// page at `ChannelLayout.writer(i)` and the reader's at `reader(i)`. Both pages are the
/// carrier's (the ends' nearest common ancestor), given down the tree to each end. A writer
/// fills its page and raises `ChannelLayout.send`; the carrier moves the message to the
/// reader's page when that is empty, by copying it or, for a channel the plan carries by
/// hand-over, by moving the writer's page itself to the reader (removeVAddr, addVAddr) and the
/// reader's empty page back to the writer. A handed-over page is the reader's read-only, so
/// nothing it writes can reach the writer: the reader says it took the message in its ack page
/// (`ChannelLayout.ack(i)`, its own, which only the carrier reads). Page words: 0 full (1) or
/// empty (0), 1 the length, 2 the hand-over's sequence number (0 for a copied message; written
/// by the carrier), the bytes from 24.
import SprigABI

@_extern(c, "sprig_raise")
func sprigRaise(_ vector: UInt64) -> UInt64

public enum Channel {
    /// Raises software interrupt `vector` to the parent (as `int vector` does), and returns when
    /// the parent resumes this partition (success) or at once with the status that refused it.
    @discardableResult
    public static func raise(_ vector: UInt64) -> CallResult {
        let raw = sprigRaise(vector)
        return CallResult(raw: raw, value: 0)
    }

    /// Raises event `vector` as `raise` does, with the counter stamped just before (word
    /// `raisedWord` of `ChannelLayout.stampPage`, which the generic parent reads to measure the
    /// event's latency).
    @discardableResult
    public static func raiseEvent(_ vector: UInt64) -> CallResult {
        word(ChannelLayout.stampPage + ChannelLayout.raisedWord).pointee = readTSC()
        return raise(vector)
    }

    /// An event handler's first statement: stamps the counter (`enteredWord`) for the latency.
    @inline(__always) public static func handlerEntered() {
        word(ChannelLayout.stampPage + ChannelLayout.enteredWord).pointee = readTSC()
    }

    /// Makes `handler` this partition's entry for event `vector`, run with interrupts masked on
    /// the handler stack in a context slot of its own (2, then 4-9: up to seven handlers; each
    /// handler's entry lives in its slot, so two events never share one), and gives the masked
    /// state a save slot of its own (slot 3): a line the handler prints then saves the handler
    /// there, never over the partition's own saved context at `VIDTIndex.stiSave`.
    /// - Returns: false (and nothing installed) when the seven slots are taken.
    @discardableResult
    public static func onEvent(_ vector: UInt64, _ handler: Handler) -> Bool {
        let slot: UInt64 = handlerSlots == 0 ? 2 : 3 + handlerSlots
        guard slot <= 9 else { return false }
        handlerSlots += 1
        Contexts.setVIDT(VIDTIndex.cliSave, ChildLayout.contextSlot(3))
        Contexts.setHandler(vector, handler, slot: ChildLayout.contextSlot(slot), stackTop: ChildLayout.handlerStackTop,
                            flags: InterruptFlags.masked)
        return true
    }
    nonisolated(unsafe) static var handlerSlots: UInt64 = 0

    /// Ends an event's handler: the parent resumes the frame's partition (this handler's
    /// context is dropped, the partition's saved one stays where it is).
    public static func handled() -> Never {
        Sprig.yield(0, target: ChannelLayout.handled, save: Sprig.noSave)
        while true {}
    }

    /// Sends `count` bytes (at most `ChannelLayout.capacity`) on `channel`: waits until its page
    /// is empty (the carrier empties it), fills it and asks the carrier to carry it.
    public static func send(_ channel: UInt64, _ bytes: UnsafePointer<UInt8>, count: Int) {
        let page = ChannelLayout.writer(channel)
        while word(page + ChannelLayout.fullWord).pointee != 0 { raise(ChannelLayout.send) }
        let n = min(UInt64(count), ChannelLayout.capacity)
        let dst = UnsafeMutablePointer<UInt8>(bitPattern: UInt(page + ChannelLayout.data))!
        var i = 0
        while i < Int(n) { dst[i] = bytes[i]; i += 1 }
        word(page + ChannelLayout.lengthWord).pointee = n
        word(page + ChannelLayout.fullWord).pointee = 1
        raise(ChannelLayout.send)
    }

    /// The message waiting on `channel` copied to `into` (at most `capacity` bytes) and its
    /// length, the page emptied; nil when none waits.
    public static func receive(_ channel: UInt64, into: UnsafeMutablePointer<UInt8>, capacity: Int) -> Int? {
        let page = ChannelLayout.reader(channel)
        guard word(page + ChannelLayout.fullWord).pointee != 0 else { return nil }
        // A handed-over page is read-only here: taken when the ack page holds its number.
        let sequence = word(page + ChannelLayout.sequenceWord).pointee
        if sequence != 0 && word(ChannelLayout.ack(channel)).pointee == sequence { return nil }
        let n = min(Int(min(word(page + ChannelLayout.lengthWord).pointee, ChannelLayout.capacity)), capacity)
        let src = UnsafePointer<UInt8>(bitPattern: UInt(page + ChannelLayout.data))!
        var i = 0
        while i < n { into[i] = src[i]; i += 1 }
        if sequence != 0 { word(ChannelLayout.ack(channel)).pointee = sequence } else { word(page + ChannelLayout.fullWord).pointee = 0 }
        return n
    }
}
