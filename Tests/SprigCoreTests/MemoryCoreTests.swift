/// SprigCore's partition accessors and dispatcher, on a model machine.
import Testing
import SprigABI
import SprigCore
import SprigModel

@Suite struct MemoryCoreTests {
    @Test func rootAccessors() {
        let m = ModelMachine()
        #expect(Partition.parent(m.memory, m.root) == nil)
        #expect(Partition.descriptorVAddrInParent(m.memory, m.root) == 0)
        #expect(Partition.depth(m.memory, m.root) == 0)
        #expect(Partition.rootTable(m.memory, m.root).raw != 0)
        let c = m.makeChild(of: m.root, pages: 1)
        #expect(Partition.parent(m.memory, c.descriptor) == m.root)
        #expect(Partition.descriptorVAddrInParent(m.memory, c.descriptor) == c.name)
        #expect(Partition.child(m.memory, caller: m.descriptor(m.root), named: UserAddress(c.name))?.paddr == c.descriptor)
        #expect(Partition.child(m.memory, caller: m.descriptor(m.root), named: UserAddress(c.name + 8)) == nil)
        #expect(Partition.child(m.memory, caller: m.descriptor(c.descriptor), named: UserAddress(c.name)) == nil)
        Partition.setInterruptState(m.memory, c.descriptor, .masked)
        #expect(Partition.interruptState(m.memory, c.descriptor) == .masked)
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
