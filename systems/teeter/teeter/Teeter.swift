/// The teeter-totter of the AIM talk (Feng et al., PLDI 2008), on the threads library in a
/// partition whose virtual timer is its parent's.
///
///     left = 50, right = 50
///     main:   while true { cli; if right == 0 { sti; print("left wins!"); break }
///                          right -= 1; left += 1; sti }
///     timer:  if left == 0 { print("right wins!"); iret }
///             left -= 1; right += 1; iret
///
/// The invariant left + right = 100 is checked at every tick and every `sti` (the library's
/// `onCheck`). A tick that arrives between the main thread's two moves (its flag set) is held
/// and taken at its `sti`: those are counted. The program plays rounds until the partition has
/// seen `ticksWanted` ticks; between moves the main thread works a while with its flag clear,
/// longer after a round left won and shorter after one right won, so both sides win. A
/// handler cannot print in the middle of the main thread's line, so the timer records its win
/// and the main thread prints it.
import SprigABI
import SprigUser
import SprigThreads

enum Teeter {
    nonisolated(unsafe) static var left: UInt64 = 50
    nonisolated(unsafe) static var right: UInt64 = 50
    /// 0 while the round is on, 1 left won, 2 right won.
    nonisolated(unsafe) static var winner: UInt64 = 0
    nonisolated(unsafe) static var checks: UInt64 = 0
    nonisolated(unsafe) static var broken: UInt64 = 0
    nonisolated(unsafe) static var timerMoves: UInt64 = 0
    /// Ticks that arrived inside the main thread's cli/sti section.
    nonisolated(unsafe) static var insideCLI: UInt64 = 0
    nonisolated(unsafe) static var inCLI = false
}

func teeterCheck() {
    Teeter.checks += 1
    if Teeter.left + Teeter.right != 100 { Teeter.broken += 1 }
}

func teeterTimer() {
    if Teeter.left == 0 {
        if Teeter.winner == 0 { Teeter.winner = 2 }
        return
    }
    Teeter.left -= 1
    Teeter.right += 1
    Teeter.timerMoves += 1
}

/// Work with the flag clear: `n` rounds of a loop the optimiser keeps.
@inline(never) func work(_ n: UInt64) -> UInt64 {
    var x: UInt64 = n
    var k: UInt64 = 0
    while k < n { x = x &* 6364136223846793005 &+ 1442695040888963407; k += 1 }
    return x
}

@_cdecl("sprig_partition_main")
func teeterMain(_ ticksWanted: UInt64) {
    SharedConsole.page = ChildLayout.consolePage
    PartitionThreads.start(ThreadsMemory(base: ChildLayout.poolBase, pages: ThreadsMemory.required),
                           handlerStackTop: ChildLayout.handlerStackTop, exitVector: 0xB7)
    Threads.onCheck = { teeterCheck() }
    Threads.onTick = { teeterTimer() }
    Threads.sti()
    var out = Output()
    out.line("teeter: left = right = 50; main moves right->left under cli/sti, the timer left->right")
    var rounds: UInt64 = 0, leftWins: UInt64 = 0, rightWins: UInt64 = 0
    var pace: UInt64 = 2000
    var sink: UInt64 = 0
    let heldBefore = Threads.state.deferredTicks
    while Threads.ticks < ticksWanted {
        Threads.cli()
        Teeter.left = 50; Teeter.right = 50; Teeter.winner = 0
        Threads.sti()
        while true {
            Threads.cli()
            if Teeter.winner != 0 { Threads.sti(); break }
            if Teeter.right == 0 {
                Teeter.winner = 1
                Threads.sti()
                break
            }
            Teeter.right -= 1
            sink &+= work(64)  // inside the section: ticks arrive here and are held
            Teeter.left += 1
            Threads.sti()
            sink &+= work(pace)
        }
        rounds += 1
        if Teeter.winner == 1 { leftWins += 1; pace += pace / 4 } else { rightWins += 1; pace -= pace / 5 }
        if rounds <= 6 || Threads.ticks >= ticksWanted {
            out.write("teeter: round ")
            out.decimal(rounds)
            out.write(Teeter.winner == 1 ? ": left wins! " : ": right wins! ")
            out.write("(tick ")
            out.decimal(Threads.ticks)
            out.line(")")
        }
    }
    let held = Threads.state.deferredTicks - heldBefore
    out.write("teeter: rounds ")
    out.decimal(rounds)
    out.write(", left won ")
    out.decimal(leftWins)
    out.write(", right won ")
    out.decimal(rightWins)
    out.write("; ticks ")
    out.decimal(Threads.ticks)
    out.write(", timer moves ")
    out.decimal(Teeter.timerMoves)
    out.write(", held inside cli/sti and taken at sti ")
    out.decimal(held)
    out.write(", held found by a resume ")
    out.decimal(PartitionThreads.heldAtResume)
    out.write(", inside a resume sequence (restarted) ")
    out.decimal(PartitionThreads.restartedResumes)
    out.write("; left + right checked ")
    out.decimal(Teeter.checks)
    out.write(" times, broken ")
    out.decimal(Teeter.broken)
    out.write(" (work ")
    out.hex(sink & 0xF)
    out.line(")")
    if Teeter.broken != 0 || held == 0 || leftWins == 0 || rightWins == 0 {
        SharedConsole.countFailure()
        out.line("teeter: FAILED (the invariant broke, no tick was held inside cli/sti, or one side never won)")
    } else {
        out.line("teeter: PASS")
    }
    Threads.exit()
}
