import Foundation
import ParallelCore
import Testing

/// joblib's nesting rule as ``ScopeValues/nested(parallel:)``: one level below a
/// parallel call, threading with nJobs unset; two levels and deeper, sequential.
@Suite("ScopeValues.nested: joblib's nesting rule")
struct ScopeNestingRuleTests {
    @Test("one level below a parallel call: threading, nJobs unset, level 1")
    func firstLevel() {
        let top = ScopeValues(backend: "process", nJobs: 4, verbose: 3, tempFolder: "/tmp/x", innerMaxNumThreads: 2)
        let inner = top.nested(parallel: true)
        #expect(inner.nestingLevel == 1)
        #expect(inner.backend == .named("threading"))
        #expect(inner.nJobs == nil)
        #expect(inner.innerMaxNumThreads == nil)
        #expect(inner.callDepth == 1)
        // Everything else travels unchanged.
        #expect(inner.verbose == 3)
        #expect(inner.tempFolder == "/tmp/x")
    }

    @Test("two levels down and deeper: sequential")
    func deeperLevels() {
        var scope = ScopeValues()
        var seen: [(String?, Int)] = []
        for _ in 0..<4 {
            scope = scope.nested(parallel: true)
            seen.append((scope.backend?.description, scope.nestingLevel))
        }
        #expect(seen.map(\.0) == ["threading", "sequential", "sequential", "sequential"])
        #expect(seen.map(\.1) == [1, 2, 3, 4])
    }

    @Test("a call that ran sequentially passes the scope on unchanged, except the call depth")
    func sequentialCallKeepsScope() {
        let scope = ScopeValues(backend: "threading", nJobs: 3, nestingLevel: 1, callDepth: 5)
        let inner = scope.nested(parallel: false)
        var expected = scope
        expected.callDepth = 6
        #expect(inner == expected)
    }

    @Test("unbounded nesting is bounded by a maximum call depth")
    func maximumDepth() {
        #expect(ScopeValues.maximumCallDepth > 4)
        #expect(ScopeValues.maximumCallDepth <= 1000)
    }

    @Test("a scope with a named backend survives encoding for a worker process")
    func codableRoundTrip() throws {
        let scope = ScopeValues(
            backend: "threading", nJobs: 3, verbose: 2, tempFolder: "/tmp/y", maxNbytes: "2K", mmapMode: .rPlus,
            prefer: .threads, require: .sharedMemory, innerMaxNumThreads: 2, nestingLevel: 1, callDepth: 2)
        let decoded = try JSONDecoder().decode(ScopeValues.self, from: JSONEncoder().encode(scope))
        #expect(decoded.backend == .named("threading"))
        #expect(decoded.nJobs == 3)
        #expect(decoded.verbose == 2)
        #expect(decoded.tempFolder == "/tmp/y")
        #expect(try decoded.maxNbytes?.resolve() == 2048)
        #expect(decoded.mmapMode == .rPlus)
        #expect(decoded.prefer == .threads)
        #expect(decoded.require == .sharedMemory)
        #expect(decoded.innerMaxNumThreads == 2)
        #expect(decoded.nestingLevel == 1)
        #expect(decoded.callDepth == 2)
    }

    @Test("a disabled maxNbytes survives encoding")
    func codableDisabled() throws {
        let scope = ScopeValues(maxNbytes: .disabled)
        let decoded = try JSONDecoder().decode(ScopeValues.self, from: JSONEncoder().encode(scope))
        #expect(decoded.maxNbytes == .disabled)
    }
}
