import Foundation
import ParallelKit

/// Reshaping the output when the function has several return values:
///
/// ```python
/// >>> r = Parallel(n_jobs=1)(delayed(modf)(i/2.) for i in range(10))
/// >>> res, i = zip(*r)
/// ```
///
/// A Swift function returning several values returns a tuple, so the call returns an array of
/// tuples; `unzip` turns it into a tuple of arrays. (Swift's `modf` returns `(whole, fraction)`,
/// the reverse of Python's `(fraction, whole)`.)
func modfExample() async throws {
    let r = try await Parallel(nJobs: 1)((0..<10).map { i in delayed(modf)(Double(i) / 2) })
    print("r        =", r)
    let (whole, fraction) = unzip(r)
    print("fraction =", fraction)
    print("whole    =", whole)
}

/// Python's `zip(*pairs)` for pairs: an array of tuples to a tuple of arrays.
func unzip<A, B>(_ pairs: [(A, B)]) -> ([A], [B]) {
    (pairs.map { $0.0 }, pairs.map { $0.1 })
}
