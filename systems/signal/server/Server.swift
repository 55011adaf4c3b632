/// The `signal` system's server: a child of the mini-OS with a SIGINT handler (Pip §6).
///
/// It installs its handler for 0xA3, masks interrupts (VCLI) and yields back to the mini-OS;
/// resumed, it unmasks and yields back again, waiting to be told to stop. Its SIGINT handler
/// closes up and calls the mini-OS's exit vector 0xB7 through the default address (callee 0:
/// its parent) — it never returns.
import SprigABI
import SprigUser

let sigint: UInt64 = 0xA3
let exitVector: UInt64 = 0xB7
let parentResumeSlot: UInt64 = 300
let resumeSlot: UInt64 = 301

@_cdecl("server_sigint")
func serverSigint(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    var out = Output()
    out.line("server: SIGINT received; closing up and calling exit (0xB7)")
    let r = Sprig.yield(0, target: exitVector, save: Sprig.noSave)
    out.write("server: exit refused: ")
    out.line(statusName(r.raw))
    SharedConsole.countFailure()
    while true {}
}

@_cdecl("sprig_partition_main")
func serverMain(_ argument: UInt64) {
    var out = Output()
    SharedConsole.page = ChildLayout.consolePage
    Contexts.setHandler(sigint, serverSigint, slot: ChildLayout.contextSlot(5), stackTop: ChildLayout.handlerStackTop)
    Contexts.setVIDT(resumeSlot, ChildLayout.contextSlot(2))
    out.line("server: started; SIGINT handler installed; masking interrupts")
    // VCLI as we yield: while we wait, 0xA3 is refused.
    var r = Sprig.yield(0, target: parentResumeSlot, save: resumeSlot,
                        flagsOnYield: InterruptFlags.masked, flagsOnWake: InterruptFlags.masked)
    if !r.succeeded { out.line("server: could not yield to the mini-OS"); SharedConsole.countFailure() }
    out.line("server: resumed; unmasking interrupts and waiting for SIGINT")
    r = Sprig.yield(0, target: parentResumeSlot, save: resumeSlot,
                    flagsOnYield: InterruptFlags.enabled, flagsOnWake: InterruptFlags.enabled)
    out.line("server: resumed again, which the scenario never does")
    SharedConsole.countFailure()
    while true {}
}
