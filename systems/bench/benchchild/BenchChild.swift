/// The `bench` system's child: answers root's yields as fast as it can, stamping the time-stamp
/// counter (guest instructions under `sprig bench`) on each side of its own yield, then, when
/// root switches it to mode 1, spins storing the counter until the timer interrupts it.
///
/// The shared page (root's, at `ChildLayout.extraBase`): word 0 = counter just before yielding
/// to root, word 1 = counter just after being resumed, word 2 = mode, word 3 = the spinning
/// counter.
import SprigABI
import SprigUser

let shared = ChildLayout.extraBase
let parentResumeSlot: UInt64 = 300
let resumeSlot: UInt64 = 301

@_cdecl("sprig_partition_main")
func benchChild(_ argument: UInt64) {
    Contexts.setVIDT(resumeSlot, ChildLayout.contextSlot(2))
    while true {
        if word(shared + 16).pointee == 1 {
            while true { word(shared + 24).pointee = readTSC() }
        }
        word(shared).pointee = readTSC()
        _ = Sprig.yield(0, target: parentResumeSlot, save: resumeSlot)
        word(shared + 8).pointee = readTSC()
    }
}
