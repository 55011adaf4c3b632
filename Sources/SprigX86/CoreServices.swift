/// Pip's services, served by SprigCore. (Wired to `Kernel.dispatch` once it exists.)
import SprigABI
import SprigCore

func coreService(_ number: UInt64, _ frame: TrapFrame) -> (Status, UInt64) {
    (.unknownService, 0)
}
