/// sprig-mutagen: derives mutants from the kernel's logic (Sources/SprigCore) and writes them as
/// mutant schemata — one copy of the sources in which every mutant is compiled in and guarded by
/// `__sprigMutant(id)`, which is true for exactly the mutant whose id is in the environment
/// variable SPRIG_MUTANT (0 or unset: the original kernel). One build, any mutant at run time.
///
///     sprig-mutagen SOURCE_DIR OUT_DIR [--exclude FILE]
///
/// writes OUT_DIR/SprigCore/*.swift (the schemata) and OUT_DIR/mutants.json (each mutant's id,
/// fingerprint, file, enclosing function, line, operator, and the lines it changes: original and
/// mutated). FILE lists ids (one a
/// line) to leave out: `sprig mutate` puts there the mutants the compiler rejects (a mutant that
/// does not type-check, e.g. a dropped assignment to a `let` that is read later). Ids are stable:
/// an excluded mutant keeps its number and the others keep theirs.
///
/// Ids move whenever SprigCore changes; a fingerprint does not move with edits elsewhere. It is
/// a hash of the file's name, the enclosing declarations (types and function with its labels),
/// the operator, the tokens of the statement or condition mutated, the mutated node's tokens and
/// its replacement, and how many earlier mutants of the same file had all of these (0 mostly).
/// Whitespace and comments do not enter it.
///
/// The operators (DESIGN of `sprig mutate`, docs/mutate.md):
///   guard-true      a `guard` condition removed (the guard always passes)
///   negate          an `if`, `guard` or `while` condition negated
///   if-false        an `if` condition that never holds (the body is skipped)
///   flip            a comparison replaced by its complement (< by >=, == by !=, ...), && by ||
///   boundary        a comparison moved by one (< by <=, > by >=, and back)
///   success         `return E` in a function returning `Status` made `return .success`
///   drop            a statement that stores or calls for its effect removed (assignment, store,
///                   any call whose result is not used)
///   plus-one        an integer literal n made n + 1
///   minus-one       an integer literal n > 0 made n - 1
///
/// Never mutated: `assert`/`precondition`/`assertionFailure`/`fatalError` and what is in them
/// (compiled out or a crash either way), enum raw values and switch-case patterns (a literal is
/// required there), attributes, and `#if` conditions.
import Foundation
import SwiftOperators
import SwiftParser
import SwiftSyntax

struct MutantRecord: Codable {
    var id: Int
    var fingerprint: String
    var file: String
    var function: String
    var line: Int
    var `operator`: String
    var original: [String]
    var mutated: [String]
}

/// The statement-level checks that are never mutated (compiled out in -O, or a crash anyway).
let untouchableCalls: Set<String> = ["assert", "assertionFailure", "precondition", "preconditionFailure", "fatalError"]

final class Mutator: SyntaxRewriter {
    let file: String
    let source: String
    let lines: [Substring]
    let converter: SourceLocationConverter
    var nextID: Int
    let excluded: Set<Int>
    var records: [MutantRecord] = []
    /// How many mutants of this file had each fingerprint key so far.
    var keyCounts: [String: Int] = [:]
    /// The return type of each enclosing function, innermost last ("" for closures).
    var returnTypes: [String] = []

    init(file: String, source: String, tree: SourceFileSyntax, firstID: Int, excluded: Set<Int>) {
        self.file = file
        self.source = source
        self.lines = source.split(separator: "\n", omittingEmptySubsequences: false)
        self.converter = SourceLocationConverter(fileName: file, tree: tree)
        self.nextID = firstID
        self.excluded = excluded
        super.init(viewMode: .sourceAccurate)
    }

    /// Allocates an id for a mutant of `node` whose own text (the node's, trimmed) would be
    /// `mutatedText`; records it unless excluded. Returns nil when excluded.
    func mutant(of node: some SyntaxProtocol, op: String, mutatedText: String) -> Int? {
        let id = nextID
        nextID += 1
        guard !excluded.contains(id) else { return nil }
        let start = node.positionAfterSkippingLeadingTrivia
        let end = node.endPositionBeforeTrailingTrivia
        let s = converter.location(for: start), e = converter.location(for: end)
        let first = s.line - 1, last = e.line - 1
        let original = lines[first...last].map(String.init)
        // The mutated lines: the node's byte range replaced in the original text.
        let utf8 = Array(source.utf8)
        let lineStart = converter.position(ofLine: s.line, column: 1).utf8Offset
        var lineEnd = converter.position(ofLine: e.line, column: 1).utf8Offset
        while lineEnd < utf8.count && utf8[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
        let before = String(decoding: utf8[lineStart..<start.utf8Offset], as: UTF8.self)
        let after = String(decoding: utf8[end.utf8Offset..<lineEnd], as: UTF8.self)
        let mutated = (before + mutatedText + after).split(separator: "\n", omittingEmptySubsequences: false)
            .map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        let function = Self.enclosingDeclarations(of: node)
        let key = [(file as NSString).lastPathComponent, function, op, Self.tokens(of: Self.statement(around: node)),
                   Self.tokens(of: node), mutatedText.split(whereSeparator: \.isWhitespace).joined(separator: " ")].joined(separator: "\u{1F}")
        let occurrence = keyCounts[key, default: 0]
        keyCounts[key] = occurrence + 1
        records.append(MutantRecord(id: id, fingerprint: Self.fingerprint(key + "\u{1F}\(occurrence)"), file: file, function: function,
                                    line: s.line, operator: op, original: original, mutated: mutated))
        return id
    }

    /// The node's tokens separated by one space: no whitespace or comment of the source.
    static func tokens(of node: some SyntaxProtocol) -> String {
        node.tokens(viewMode: .sourceAccurate).map(\.text).joined(separator: " ")
    }

    /// The smallest statement-like node around `node` whose text does not include a body: a
    /// condition, a plain statement, a member, a `for` loop's sequence, a `switch`'s subject.
    static func statement(around node: some SyntaxProtocol) -> Syntax {
        var n: Syntax? = Syntax(node)
        while let cur = n {
            if cur.is(ConditionElementSyntax.self) || cur.is(MemberBlockItemSyntax.self) { return cur }
            if let parent = cur.parent {
                if let loop = parent.as(ForStmtSyntax.self), cur.id == loop.sequence.id { return cur }
                if let sw = parent.as(SwitchExprSyntax.self), cur.id == sw.subject.id { return cur }
            }
            if let item = cur.as(CodeBlockItemSyntax.self) {
                let s = item.item
                if !(s.is(GuardStmtSyntax.self) || s.is(ForStmtSyntax.self) || s.is(WhileStmtSyntax.self)
                    || s.is(RepeatStmtSyntax.self) || s.is(DoStmtSyntax.self)
                    || s.as(ExpressionStmtSyntax.self).map({ $0.expression.is(IfExprSyntax.self) || $0.expression.is(SwitchExprSyntax.self) }) == true
                    || s.is(IfExprSyntax.self) || s.is(SwitchExprSyntax.self)) {
                    return cur
                }
            }
            n = cur.parent
        }
        return Syntax(node)
    }

    /// The declarations around `node`, outermost first: types and extensions by name, functions
    /// and initializers with their argument labels, properties by name (`ConfigList.remove(_:from:)`).
    static func enclosingDeclarations(of node: some SyntaxProtocol) -> String {
        var names: [String] = []
        var n = node.parent
        while let cur = n {
            if let d = cur.as(FunctionDeclSyntax.self) {
                names.append(d.name.text + "(" + d.signature.parameterClause.parameters.map { $0.firstName.text + ":" }.joined() + ")")
            } else if let d = cur.as(InitializerDeclSyntax.self) {
                names.append("init(" + d.signature.parameterClause.parameters.map { $0.firstName.text + ":" }.joined() + ")")
            } else if let d = cur.as(VariableDeclSyntax.self) {
                names.append(d.bindings.map { $0.pattern.trimmedDescription }.joined(separator: ","))
            } else if let d = cur.as(AccessorDeclSyntax.self) {
                names.append(d.accessorSpecifier.text)
            } else if let d = cur.as(SubscriptDeclSyntax.self) {
                names.append("subscript(" + d.parameterClause.parameters.map { $0.firstName.text + ":" }.joined() + ")")
            } else if let d = cur.as(StructDeclSyntax.self) { names.append(d.name.text)
            } else if let d = cur.as(EnumDeclSyntax.self) { names.append(d.name.text)
            } else if let d = cur.as(ClassDeclSyntax.self) { names.append(d.name.text)
            } else if let d = cur.as(ProtocolDeclSyntax.self) { names.append(d.name.text)
            } else if let d = cur.as(ExtensionDeclSyntax.self) { names.append(d.extendedType.trimmedDescription)
            }
            n = cur.parent
        }
        return names.reversed().joined(separator: ".")
    }

    /// 12 hex digits of the 64-bit FNV-1a hash of `key`.
    static func fingerprint(_ key: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in key.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        let hex = String(h >> 16, radix: 16)
        return String(repeating: "0", count: 12 - hex.count) + hex
    }

    /// Whether `node` sits where a mutation must not go.
    func isUntouchable(_ node: some SyntaxProtocol) -> Bool {
        var n: Syntax? = Syntax(node)
        while let cur = n {
            if let call = cur.as(FunctionCallExprSyntax.self),
               let name = call.calledExpression.as(DeclReferenceExprSyntax.self)?.baseName.text,
               untouchableCalls.contains(name) { return true }
            if cur.is(AttributeSyntax.self) || cur.is(EnumCaseElementSyntax.self) || cur.is(SwitchCaseLabelSyntax.self)
                || cur.is(IfConfigClauseSyntax.self) || cur.is(GenericArgumentClauseSyntax.self)
                || cur.is(MatchingPatternConditionSyntax.self) || cur.is(InitializerClauseSyntax.self) && cur.parent?.is(EnumCaseElementSyntax.self) == true {
                return true
            }
            if cur.is(FunctionDeclSyntax.self) || cur.is(InitializerDeclSyntax.self) { return false }
            n = cur.parent
        }
        return false
    }

    override func visit(_ node: FunctionDeclSyntax) -> DeclSyntax {
        returnTypes.append(node.signature.returnClause?.type.trimmedDescription ?? "")
        defer { returnTypes.removeLast() }
        return super.visit(node)
    }

    override func visit(_ node: ClosureExprSyntax) -> ExprSyntax {
        returnTypes.append("")
        defer { returnTypes.removeLast() }
        return super.visit(node)
    }

    // MARK: comparisons and logical operators

    static let complement = ["<": ">=", ">=": "<", ">": "<=", "<=": ">", "==": "!=", "!=": "==", "&&": "||", "||": "&&"]
    static let boundary = ["<": "<=", "<=": "<", ">": ">=", ">=": ">"]

    override func visit(_ node: InfixOperatorExprSyntax) -> ExprSyntax {
        guard let opNode = node.operator.as(BinaryOperatorExprSyntax.self), !isUntouchable(node) else {
            return super.visit(node)
        }
        let op = opNode.operator.text
        let variants = [(Self.complement[op], "flip"), (Self.boundary[op], "boundary")].compactMap { v, name in v.map { ($0, name) } }
        guard !variants.isEmpty else { return super.visit(node) }
        // Comparisons with nil (Optional) have no useful boundary; keep the flip.
        let ids = variants.map { newOp, name in
            (newOp, mutant(of: node, op: name, mutatedText: "\(node.leftOperand.trimmedDescription) \(newOp) \(node.rightOperand.trimmedDescription)"))
        }
        let rewritten = super.visit(node)
        guard let r = rewritten.as(InfixOperatorExprSyntax.self) else { return rewritten }
        let lhs = r.leftOperand.trimmedDescription, rhs = r.rightOperand.trimmedDescription
        var text = "(\(lhs) \(op) \(rhs))"
        for (newOp, id) in ids.reversed() {
            guard let id else { continue }
            text = "(__sprigMutant(\(id)) ? (\(lhs) \(newOp) \(rhs)) : \(text))"
        }
        return parseExpr(text).with(\.leadingTrivia, node.leadingTrivia).with(\.trailingTrivia, node.trailingTrivia)
    }

    // MARK: conditions

    override func visit(_ node: ConditionElementSyntax) -> ConditionElementSyntax {
        guard case .expression(let expr) = node.condition, !isUntouchable(node) else { return super.visit(node) }
        let owner = node.parent?.parent
        let isGuard = owner?.is(GuardStmtSyntax.self) == true
        let isIf = owner?.is(IfExprSyntax.self) == true
        let isWhile = owner?.is(WhileStmtSyntax.self) == true
        guard isGuard || isIf || isWhile else { return super.visit(node) }
        // `while true { … return … }` ends only by returning: the compiler relies on that, and a
        // negated `true` is only an empty loop, not a mutant of the kernel's logic.
        if isWhile, expr.is(BooleanLiteralExprSyntax.self) { return super.visit(node) }
        let e = expr.trimmedDescription
        var schema: [(Int?, String)] = []
        if isGuard { schema.append((mutant(of: expr, op: "guard-true", mutatedText: "true"), "true")) }
        schema.append((mutant(of: expr, op: "negate", mutatedText: "!(\(e))"), "negate"))
        if isIf { schema.append((mutant(of: expr, op: "if-false", mutatedText: "false"), "false")) }
        let rewritten = super.visit(node)
        guard case .expression(let newExpr) = rewritten.condition else { return rewritten }
        let ne = newExpr.trimmedDescription
        var text = "(\(ne))"
        for (id, kind) in schema.reversed() {
            guard let id else { continue }
            switch kind {
            case "true": text = "(__sprigMutant(\(id)) || \(text))"
            case "false": text = "(!__sprigMutant(\(id)) && \(text))"
            default: text = "(__sprigMutant(\(id)) != \(text))"
            }
        }
        let newCondition = parseExpr(text).with(\.leadingTrivia, newExpr.leadingTrivia).with(\.trailingTrivia, newExpr.trailingTrivia)
        return rewritten.with(\.condition, .expression(newCondition))
    }

    // MARK: returns

    override func visit(_ node: ReturnStmtSyntax) -> StmtSyntax {
        guard returnTypes.last == "Status", let expr = node.expression, !isUntouchable(node) else { return super.visit(node) }
        let e = expr.trimmedDescription
        guard e != ".success", e != "Status.success" else { return super.visit(node) }
        let id = mutant(of: expr, op: "success", mutatedText: ".success")
        let rewritten = super.visit(node)
        guard let id, let r = rewritten.as(ReturnStmtSyntax.self), let ne = r.expression else { return rewritten }
        let newExpr = parseExpr("__sprigMutant(\(id)) ? Status.success : (\(ne.trimmedDescription))")
            .with(\.leadingTrivia, ne.leadingTrivia).with(\.trailingTrivia, ne.trailingTrivia)
        return StmtSyntax(r.with(\.expression, newExpr))
    }

    // MARK: dropped statements

    override func visit(_ node: CodeBlockItemListSyntax) -> CodeBlockItemListSyntax {
        var items: [CodeBlockItemSyntax] = []
        for item in node {
            guard case .expr(let expr) = item.item, isEffect(expr), !isUntouchable(item),
                  !(node.count == 1 && isImplicitReturn(node)), !initializesLocal(expr)
            else {
                items.append(visit(item))
                continue
            }
            let id = mutant(of: item, op: "drop", mutatedText: "")
            let newItem = visit(item)
            guard let id else { items.append(newItem); continue }
            let text = "if !__sprigMutant(\(id)) { \(newItem.item.trimmedDescription) }"
            let wrapped = CodeBlockItemSyntax(item: .stmt(StmtSyntax(ExpressionStmtSyntax(expression: parseExpr(text)))), semicolon: newItem.semicolon)
                .with(\.leadingTrivia, item.leadingTrivia).with(\.trailingTrivia, item.trailingTrivia)
            items.append(wrapped)
        }
        return CodeBlockItemListSyntax(items)
    }

    /// Whether `list` is the body of a function, getter or closure, whose one expression is
    /// its value (dropping it would leave no value to return).
    func isImplicitReturn(_ list: CodeBlockItemListSyntax) -> Bool {
        guard let owner = list.parent else { return false }
        if owner.is(ClosureExprSyntax.self) || owner.is(AccessorBlockSyntax.self) { return true }
        guard let block = owner.as(CodeBlockSyntax.self) else { return false }
        if block.parent?.is(AccessorDeclSyntax.self) == true { return true }
        if block.parent?.is(FunctionDeclSyntax.self) == true { return !(returnTypes.last ?? "").isEmpty && returnTypes.last != "Void" }
        return false
    }

    /// An assignment to a plain name (a local, whose definite initialization the compiler
    /// checks) or to `self.x` in an initializer: dropping it does not compile.
    func initializesLocal(_ expr: ExprSyntax) -> Bool {
        guard let infix = expr.as(InfixOperatorExprSyntax.self), infix.operator.is(AssignmentExprSyntax.self) else { return false }
        if infix.leftOperand.is(DeclReferenceExprSyntax.self) || infix.leftOperand.is(TupleExprSyntax.self) { return true }
        var n = expr.parent
        while let cur = n {
            if cur.is(InitializerDeclSyntax.self) { return true }
            if cur.is(FunctionDeclSyntax.self) { return false }
            n = cur.parent
        }
        return false
    }

    /// A statement kept for its effect: an assignment (plain or compound), or a call whose value
    /// is not used. `_ = x` is not one.
    func isEffect(_ expr: ExprSyntax) -> Bool {
        if let infix = expr.as(InfixOperatorExprSyntax.self) {
            if infix.operator.is(AssignmentExprSyntax.self) {
                return !infix.leftOperand.is(DiscardAssignmentExprSyntax.self)
            }
            if let op = infix.operator.as(BinaryOperatorExprSyntax.self)?.operator.text {
                return ["+=", "-=", "|=", "&=", "^=", "<<=", ">>=", "&+=", "&-=", "*=", "&*="].contains(op)
            }
            return false
        }
        if let call = expr.as(FunctionCallExprSyntax.self) {
            if let name = call.calledExpression.as(DeclReferenceExprSyntax.self)?.baseName.text, untouchableCalls.contains(name) {
                return false
            }
            return true
        }
        return false
    }

    // MARK: constants

    override func visit(_ node: IntegerLiteralExprSyntax) -> ExprSyntax {
        guard !isUntouchable(node), let value = Self.value(of: node.literal.text) else { return super.visit(node) }
        // A literal that is the operand of a prefix minus is left alone (the sign is outside it).
        if node.parent?.is(PrefixOperatorExprSyntax.self) == true { return super.visit(node) }
        let text = node.literal.text
        var options: [(Int?, String)] = []
        if value < UInt64.max {
            let t = Self.format(value + 1, like: text)
            options.append((mutant(of: node, op: "plus-one", mutatedText: t), t))
        }
        if value > 0 {
            let t = Self.format(value - 1, like: text)
            options.append((mutant(of: node, op: "minus-one", mutatedText: t), t))
        }
        var schema = text
        for (id, t) in options.reversed() {
            guard let id else { continue }
            schema = "(__sprigMutant(\(id)) ? \(t) : \(schema))"
        }
        guard schema != text else { return ExprSyntax(node) }
        return parseExpr(schema).with(\.leadingTrivia, node.leadingTrivia).with(\.trailingTrivia, node.trailingTrivia)
    }

    static func value(of literal: String) -> UInt64? {
        let t = literal.replacingOccurrences(of: "_", with: "")
        if t.hasPrefix("0x") { return UInt64(t.dropFirst(2), radix: 16) }
        if t.hasPrefix("0b") { return UInt64(t.dropFirst(2), radix: 2) }
        if t.hasPrefix("0o") { return UInt64(t.dropFirst(2), radix: 8) }
        return UInt64(t)
    }

    static func format(_ v: UInt64, like literal: String) -> String {
        if literal.hasPrefix("0x") { return "0x" + String(v, radix: 16, uppercase: true) }
        if literal.hasPrefix("0b") { return "0b" + String(v, radix: 2) }
        if literal.hasPrefix("0o") { return "0o" + String(v, radix: 8) }
        return String(v)
    }
}

// MARK: main

/// `text` parsed as an expression.
func parseExpr(_ text: String) -> ExprSyntax {
    var parser = Parser(text)
    return ExprSyntax.parse(from: &parser)
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("sprig-mutagen: \(message)\n".utf8))
    exit(2)
}

var args = Array(CommandLine.arguments.dropFirst())
var excluded: Set<Int> = []
if let i = args.firstIndex(of: "--exclude") {
    guard i + 1 < args.count else { fail("--exclude needs a file") }
    let text = (try? String(contentsOfFile: args[i + 1], encoding: .utf8)) ?? ""
    excluded = Set(text.split(whereSeparator: \.isNewline).compactMap { Int($0.trimmingCharacters(in: .whitespaces)) })
    args.removeSubrange(i...(i + 1))
}
guard args.count == 2 else { fail("usage: sprig-mutagen SOURCE_DIR OUT_DIR [--exclude FILE]") }
let sourceDir = URL(fileURLWithPath: args[0]), outDir = URL(fileURLWithPath: args[1])
let fm = FileManager.default
// Every Swift file below SOURCE_DIR (SprigCore keeps the x86-64 layer in Arch/X86_64), by its
// path relative to SOURCE_DIR; the schemata keep the same folders.
let files = ((fm.enumerator(atPath: sourceDir.path)?.allObjects as? [String]) ?? []).filter { $0.hasSuffix(".swift") }.sorted()
guard !files.isEmpty else { fail("no Swift files in \(sourceDir.path)") }
let coreOut = outDir.appendingPathComponent("SprigCore")
try? fm.removeItem(at: coreOut)
try fm.createDirectory(at: coreOut, withIntermediateDirectories: true)

var all: [MutantRecord] = []
var nextID = 1
for name in files {
    let source = try String(contentsOf: sourceDir.appendingPathComponent(name), encoding: .utf8)
    let parsed = Parser.parse(source: source)
    let folded = OperatorTable.standardOperators.foldAll(parsed) { _ in }.as(SourceFileSyntax.self)!
    let mutator = Mutator(file: "Sources/SprigCore/" + name, source: source, tree: folded, firstID: nextID, excluded: excluded)
    let rewritten = mutator.rewrite(folded)
    nextID = mutator.nextID
    all += mutator.records
    let target = coreOut.appendingPathComponent(name)
    try fm.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
    try rewritten.description.write(to: target, atomically: true, encoding: .utf8)
}
// The switch every mutant reads: SPRIG_MUTANT, read once.
let switchSource = """
    // Generated by sprig-mutagen: the mutant schemata's switch.
    #if canImport(Glibc)
    import Glibc
    #endif

    /// The mutant this process runs (SPRIG_MUTANT; 0: none), -1 until read.
    nonisolated(unsafe) public var sprigMutantID: Int = -1

    /// True when mutant `id` is the one this process runs.
    @inline(__always) public func __sprigMutant(_ id: Int) -> Bool {
        if sprigMutantID < 0 {
            sprigMutantID = getenv("SPRIG_MUTANT").flatMap { Int(String(cString: $0)) } ?? 0
        }
        return sprigMutantID == id
    }

    """
try switchSource.write(to: coreOut.appendingPathComponent("SprigMutantSwitch.swift"), atomically: true, encoding: .utf8)
let encoder = JSONEncoder()
encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
try encoder.encode(all).write(to: outDir.appendingPathComponent("mutants.json"))
print("sprig-mutagen: \(all.count) mutants in \(files.count) files (\(excluded.count) excluded), ids 1...\(nextID - 1)")
