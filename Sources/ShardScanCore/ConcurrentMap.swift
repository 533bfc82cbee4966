import Foundation

extension Array where Element: Sendable {
    /// `map`, with `transform` applied to the elements side by side on the machine's cores (Dispatch's
    /// `concurrentPerform`); the results keep the elements' order. For costly, independent calls made while
    /// nothing else runs (on a scan's start: the rule packs parsed, their patterns compiled, the prefilter read),
    /// whose sum would otherwise come before the first blob is read.
    public func concurrentMap<Result>(_ transform: @Sendable (Element) -> Result) -> [Result] {
        guard count > 1 else { return map(transform) }
        nonisolated(unsafe) let results = UnsafeMutableBufferPointer<Result>.allocate(capacity: count)
        defer { results.deallocate() }
        DispatchQueue.concurrentPerform(iterations: count) { index in
            (results.baseAddress! + index).initialize(to: transform(self[index]))
        }
        defer { _ = results.baseAddress.map { $0.deinitialize(count: count) } }
        return [Result](results)
    }
}
