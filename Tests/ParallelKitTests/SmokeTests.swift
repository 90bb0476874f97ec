import Foundation
import ParallelKit
import Testing

struct Square: ParallelJob {
    var x: Int
    func run() async throws -> Int { x * x }
}

@Suite struct SmokeTests {
    @Test func sqrtSequential() async throws {
        let roots = try await Parallel(nJobs: 1)((0..<10).map { i in delayed(sqrt)(Double(i * i)) })
        #expect(roots == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    }

    @Test func sqrtThreads() async throws {
        let roots = try await Parallel(nJobs: 2)((0..<1000).map { i in delayed(sqrt)(Double(i * i)) })
        #expect(roots == (0..<1000).map(Double.init))
    }

    @Test func jobsThreads() async throws {
        let squares = try await Parallel(nJobs: 3)((0..<100).lazy.map { Square(x: $0) })
        #expect(squares == (0..<100).map { $0 * $0 })
    }

    @Test func generator() async throws {
        var out: [Int] = []
        for try await v in Parallel(nJobs: 2).generator((0..<500).map { i in delayed { (x: Int) in x + 1 }(i) }) {
            out.append(v)
        }
        #expect(out == Array(1...500))
    }
}

@Suite struct ProcessSmokeTests {
    @Test func jobsOnProcessBackend() async throws {
        let squares = try await Parallel(nJobs: 2, backend: "process")((0..<100).map { Square(x: $0) })
        #expect(squares == (0..<100).map { $0 * $0 })
    }

    @Test func jobsOnMultiprocessing() async throws {
        let squares = try await Parallel(nJobs: 2, backend: "multiprocessing")((0..<20).map { Square(x: $0) })
        #expect(squares == (0..<20).map { $0 * $0 })
    }

    @Test func delayedOnProcessIsNotSerializable() async throws {
        await #expect(throws: ParallelError.self) {
            _ = try await Parallel(nJobs: 2, backend: "process")([delayed { (x: Int) in x }(1)])
        }
    }
}
