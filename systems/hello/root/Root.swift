/// The root partition: owner of all memory at boot, and the multiplexer.
///
/// It greets, reports the memory the kernel gave it (from the boot-info page, cross-checked by
/// the boot tests against the kernel's own log), lists the boot modules, and powers off with
/// status 0.
import SprigABI
import SprigUser

@_cdecl("sprig_partition_main")
func rootMain(_ bootInfoAddress: UInt64) {
    var out = Output()
    out.line("root: hello from ring 3, I am Sprig's root partition")
    let info = BootInfo(address: bootInfoAddress)
    guard info.isValid else {
        out.line("root: the boot-info page is not valid")
        Sprig.powerOff(1)
    }
    out.write("root: I own ")
    out.decimal(info.windowPages)
    out.write(" pages (")
    out.decimal(info.windowPages * AddressSpace.pageSize / 1024)
    out.write(" KiB) of free memory in ")
    out.decimal(UInt64(info.rangeCount))
    out.line(" ranges:")
    var total: UInt64 = 0
    var i = 0
    while i < info.rangeCount {
        let r = info.range(i)
        out.write("root:   ")
        out.hex(r.vaddr)
        out.write("..")
        out.hex(r.vaddr + r.pages * AddressSpace.pageSize)
        out.write(" ")
        out.decimal(r.pages)
        out.line(" pages")
        total += r.pages
        i += 1
    }
    out.write("root: image ")
    out.decimal(info.imagePages)
    out.write(" pages, stack ")
    out.decimal(AddressSpace.rootStackPages)
    out.write(" pages; the kernel keeps ")
    out.decimal(info.kernelPages)
    out.write(" of the machine's ")
    out.decimal(info.totalPages)
    out.line(" pages")
    var m = 0
    while m < info.moduleCount {
        let mod = info.module(m)
        out.write("root: module ")
        out.name(mod.name0, mod.name1)
        out.write(" at ")
        out.hex(mod.vaddr)
        out.write(", ")
        out.decimal(mod.bytes)
        out.line(" bytes")
        m += 1
    }
    guard total == info.windowPages else {
        out.line("root: the ranges do not add up to the window")
        Sprig.powerOff(2)
    }
    out.line("root: goodbye, powering off with status 0")
    Sprig.powerOff(0)
}
