/// SprigCore's partition accessors and dispatcher, on a model machine.
import Testing
import SprigABI
import SprigCore
import SprigModel

@Suite struct MemoryCoreTests {
    @Test func rootAccessors() {
        let m = ModelMachine()
        let root = m.descriptor(m.root)
        #expect(root.parent(m.memory) == nil)
        #expect(root.vaddrInParent(m.memory) == 0)
        #expect(root.depth(m.memory) == 0)
        #expect(root.rootTable(m.memory).paddr.raw != 0)
        let c = m.makeChild(of: m.root, pages: 1)
        #expect(m.descriptor(c.descriptor).parent(m.memory) == root)
        #expect(m.descriptor(c.descriptor).vaddrInParent(m.memory) == c.name)
        #expect(Partition.child(m.memory, caller: m.descriptor(m.root), named: UserAddress(c.name))?.paddr == c.descriptor)
        #expect(Partition.child(m.memory, caller: m.descriptor(m.root), named: UserAddress(c.name + 8)) == nil)
        #expect(Partition.child(m.memory, caller: m.descriptor(c.descriptor), named: UserAddress(c.name)) == nil)
        m.descriptor(c.descriptor).setInterruptState(m.memory, .masked)
        #expect(m.descriptor(c.descriptor).interruptState(m.memory) == .masked)
    }

    @Test func dispatcherRefusesWhatItDoesNotServe() {
        let m = ModelMachine()
        for n in [0, Service.yield.rawValue, Service.consoleWrite.rawValue, Service.powerOff.rawValue, 12, 0x102, ~0] {
            #expect(Kernel.dispatch(m.memory, caller: m.descriptor(m.root), service: n, 0, 0, 0, 0, 0) == (.unknownService, 0))
        }
    }

    @Test func newStatusCodesAreDistinctAndInRange() {
        let memoryCodes: [Status] = [.pageAlreadyGiven, .duplicatePage, .pageNotWritable, .rightsExceedCaller,
                                     .notPrepared, .childAddressInUse, .pageGivenFurther, .freeListTooShort, .freeListLoops,
                                     .executeAtVIDT]
        #expect(Set(memoryCodes.map(\.rawValue)).count == memoryCodes.count)
        #expect(memoryCodes.allSatisfy { (48...127).contains($0.rawValue) })
    }
}
