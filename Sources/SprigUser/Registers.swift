/// Swift names for Registers.S, the register-level helpers of the `attacks` system (marker
/// fills, the register probe, resuming one's own context in ring 3), declared once here for
/// every partition that links SprigUser.
@_extern(c, "sprig_fill_registers_and_fault") func fillRegistersAndFaultC(_ pattern: UInt64)
@_extern(c, "sprig_fill_registers_and_yield")
func fillRegistersAndYieldC(_ pattern: UInt64, _ callee: UInt64, _ target: UInt64, _ save: UInt64,
                            _ flagsOnYield: UInt64, _ flagsOnWake: UInt64) -> UInt64
@_extern(c, "sprig_spin_counting") func spinCountingC(_ counter: UnsafeMutablePointer<UInt64>)
@_extern(c, "sprig_resume_context") func resumeContextC(_ context: UInt64)
@_extern(c, "sprig_probe_configure") func probeConfigureC(_ area: UInt64, _ next: Handler)
@_extern(c, "sprig_register_probe_address") func registerProbeAddressC() -> UInt64
@_extern(c, "sprig_set_marker_selector") func setMarkerSelectorC(_ selector: UInt64)
@_extern(c, "sprig_load_data_selectors") func loadDataSelectorsC(_ selector: UInt64)
@_extern(c, "sprig_data_selectors") func dataSelectorsC() -> UInt64

/// Loads `pattern` into every register a fault does not define and executes `ud2`.
@inline(__always) public func sprigFillRegistersAndFault(_ pattern: UInt64) { fillRegistersAndFaultC(pattern) }

/// Loads `pattern` into every register yield does not take as an argument, then yields; returns
/// yield's status (0 when someone resumes the saved context).
@inline(__always) public func sprigFillRegistersAndYield(
    _ pattern: UInt64, _ callee: UInt64, _ target: UInt64, _ save: UInt64, _ flagsOnYield: UInt64, _ flagsOnWake: UInt64
) -> UInt64 {
    fillRegistersAndYieldC(pattern, callee, target, save, flagsOnYield, flagsOnWake)
}

/// Adds 1 to `counter` forever without a system call (only the timer takes the CPU back).
@inline(__always) public func sprigSpinCounting(_ counter: UnsafeMutablePointer<UInt64>) { spinCountingC(counter) }

/// Continues at a context in this partition's own memory, in ring 3.
@inline(__always) public func sprigResumeContext(_ context: UInt64) { resumeContextC(context) }

/// Where the register probe records (768 bytes, 16-aligned) and the handler it continues to.
@inline(__always) public func sprigProbeConfigure(_ area: UInt64, _ next: Handler) { probeConfigureC(area, next) }

/// The probe's entry, for a context's rip.
@inline(__always) public func sprigRegisterProbeAddress() -> UInt64 { registerProbeAddressC() }

/// What the fill routines load into DS, ES, FS and GS (0x1B unless set).
@inline(__always) public func sprigSetMarkerSelector(_ selector: UInt64) { setMarkerSelectorC(selector) }

/// Loads `selector` into DS, ES, FS and GS (one ring 3 may load: 0-3, 0x18-0x1B, 0x20-0x23).
@inline(__always) public func sprigLoadDataSelectors(_ selector: UInt64) { loadDataSelectorsC(selector) }

/// DS | ES << 16 | FS << 32 | GS << 48 as this partition holds them now.
@inline(__always) public func sprigDataSelectors() -> UInt64 { dataSelectorsC() }

@_extern(c, "sprig_descriptor_table_read") func descriptorTableReadC(_ kind: UInt64) -> UInt64
/// Executes sgdt (0), sidt (1), sldt (2), str (3) or smsw (4) in ring 3 (DescriptorTables.S):
/// a #GP under CR4.UMIP; without it, what the instruction stored.
@inline(__always) public func sprigDescriptorTableRead(_ kind: UInt64) -> UInt64 { descriptorTableReadC(kind) }
