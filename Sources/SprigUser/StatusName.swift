/// Names of `Status` codes for console output: `Status.name`, generated from SprigABI's
/// `Status` by `sprig generate` (Generated.swift), so a new code is named without an edit here.
import SprigABI

public func statusName(_ raw: UInt64) -> StaticString {
    Status(rawValue: raw)?.name ?? "(unknown status)"
}
