/// The service table (`SprigABI.Service.row`) drives the kernel, the model, the specification
/// and the explorer: each site answers for every service of the table what the table says, and
/// the explorer's table-derived steps reach a service no hand-tuned list names.
/// (The generated files and the builds that compile the Embedded-only Swift: BootTests'
/// ServiceTableGenerationTests.)
import Foundation
import SprigABI
import SprigCore
@testable import SprigModel
import Testing

@Suite("Service table")
struct ServiceTableTests {
    @Test("each row's name is its case's, numbers are distinct, root-only ones are numbered from rootOnlyBase")
    func rows() {
        for s in Service.allCases {
            #expect("\(s.name)" == "\(s)")
            #expect(s.isRootOnly == (s.rawValue >= Service.rootOnlyBase), "\(s): its route and its number disagree")
            #expect(s.rawValue > 0 && s.rawValue < Service.numberLimit)
            #expect(s.arguments.count <= 5)
        }
        #expect(Set(Service.allCases.map(\.rawValue)).count == Service.allCases.count)
        #expect(Service.allCases.filter { $0.route == .control } == [.yield])
    }

    @Test("the root-only rule is the table's route, and no switch outside the table lists the root-only services")
    func rootOnlyRuleIsTheTables() throws {
        for s in Service.allCases { #expect(s.isRootOnly == (s.route == .machine), "\(s)") }
        // Two or more of the root-only services in one `case` pattern would be a second copy of
        // the rule (a switch that must learn every new root-only service by hand). The one
        // exception is the dispatcher's exhaustive "not a memory service" case, kept for its
        // cost; the `dispatch` test holds it to the table.
        let names = Service.allCases.filter { $0.route == .machine }.map { ".\($0.name)" }
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Sources").standardized
        let files = (FileManager.default.subpaths(atPath: sources.path) ?? []).filter { $0.hasSuffix(".swift") }
        #expect(files.contains("SprigCore/ServiceDispatch.swift"))
        let allowed: Set = ["SprigABI/Service.swift", "SprigUser/Generated.swift", "SprigCore/ServiceDispatch.swift"]
        for file in files where !allowed.contains(file) {
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            for line in text.split(separator: "\n") where line.contains("case ") {
                let listed = names.filter { line.contains($0 + ",") || line.contains($0 + ":") }
                #expect(listed.count < 2, "\(file) lists the root-only services itself: \(line)")
            }
        }
    }

    @Test("the kernel and the specification route every service as its row says, from root and from a child")
    func routes() {
        let r = Refined(pages: 192)
        let kid = r.makeChild(of: r.root, pages: 4)
        for s in Service.allCases {
            // powerOff with a status the kernel reserves: refused, so the system runs on.
            let a = SystemCallArguments(s == .powerOff ? 0x70 : 0)
            // From a child: a root-only service is refused before anything is read; any other
            // reaches its service (whatever the service then answers to zeros).
            r.become(kid.descriptor)
            let fromChild = r.trap(.systemCall(number: s.rawValue, a))
            if s.route == .machine {
                #expect(fromChild == .returned(.rootOnly, value: 0), "\(s) from a child")
            } else {
                #expect(fromChild != .returned(.unknownService, value: 0) && fromChild != .returned(.rootOnly, value: 0),
                        "\(s) from a child: \(fromChild)")
            }
            // From root: a root-only service goes to the platform, which serves it.
            r.become(r.root)
            let fromRoot = r.trap(.systemCall(number: s.rawValue, a))
            if s.route == .machine {
                #expect(fromRoot == .machineService(s), "\(s) from root")
                #expect(r.system.cpu.registers[ContextLayout.rax] != Status.unknownService.rawValue,
                        "\(s): the model's platform does not serve it")
            } else {
                #expect(fromRoot != .returned(.unknownService, value: 0), "\(s) from root: \(fromRoot)")
            }
        }
        #expect(r.violations.isEmpty, "the specification disagrees: \(r.violations.prefix(3).map(\.description))")
    }

    @Test("Kernel.dispatch serves the table's memory services and no other")
    func dispatch() {
        let m = ModelMachine()
        for s in Service.allCases {
            let r = m.call(m.root, s)
            #expect((r.status == .unknownService) == (s.route != .memory), "\(s): \(r.status)")
        }
    }

    @Test("the explorer offers a call of every service of the table, to root and to a child")
    func explorerCoversTheTable() {
        let system = ModelSystem(pages: 192)
        let d = Domain()
        for _ in 0..<2 {
            let called = Set(d.steps(for: system).compactMap { step -> Service? in
                guard case .trap(.systemCall(let n, _)) = step else { return nil }
                return Service(rawValue: n)
            })
            #expect(called == Set(Service.allCases), "never offered: \(Set(Service.allCases).subtracting(called))")
            // Then as a child of root.
            let kid = system.machine.makeChild(of: system.machine.root, pages: 8)
            system.cpu.trap(as: system.machine.descriptor(kid.descriptor), pml4: system.machine.rootTable(kid.descriptor), registers: RegisterFile())
        }
    }

    @Test("a service no hand-tuned list names gets the explorer's table-derived calls, with the table's arity")
    func explorerDerivesMissingServices() {
        let system = ModelSystem(pages: 128)
        let t = system.machine.tree()
        let v = CallerView(t, 0, system.machine)
        #expect(Domain().tableSteps(v, excluding: Set(Service.allCases)).isEmpty, "every service is tuned today")
        for s in Service.allCases {
            let steps = Domain().tableSteps(v, excluding: Set(Service.allCases).subtracting([s]))
            #expect(steps.count == 2, "\(s): one well-formed call and one hostile")
            for step in steps {
                guard case .trap(.systemCall(let n, _)) = step else { Issue.record("\(s): \(step)"); continue }
                #expect(n == s.rawValue)
                // Its line names every argument the table gives it.
                let line = "\(step)"
                for k in 0..<s.arguments.count { #expect(line.contains("\(s.arguments[k].label): "), "\(line)") }
            }
        }
    }
}
