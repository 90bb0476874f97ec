import ParallelCore
import Testing

/// The batches `Parallel.map` hands out: every index exactly once, large batches first.
@Suite("BatchClaimer: guided and fixed batch sizes")
struct BatchClaimerTests {
    static func drain(_ claimer: BatchClaimer) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        while let range = claimer.claim() { ranges.append(range) }
        return ranges
    }

    @Test(
        "guided batches cover 0..<n once, in order, shrinking to single indices; O(p log n) of them",
        arguments: [1, 2, 7, 1_000, 1_000_000], [1, 2, 8])
    func guided(count: Int, participants: Int) {
        let ranges = Self.drain(BatchClaimer(count: count, participants: participants, fixedBatchSize: nil))
        #expect(ranges.first?.lowerBound == 0)
        #expect(ranges.last?.upperBound == count)
        #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
        #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.count >= $1.count })
        #expect(ranges.last?.count == 1)
        #expect(ranges.first!.count <= max(1, count / (4 * participants)))
        #expect(ranges.count <= 4 * participants * 16 + 4 * participants)
    }

    @Test("a fixed batch size hands out exactly that many (the last batch shorter)")
    func fixed() {
        let ranges = Self.drain(BatchClaimer(count: 10, participants: 2, fixedBatchSize: 4))
        #expect(ranges == [0..<4, 4..<8, 8..<10])
    }

    @Test("after close nothing more is handed out; concurrent claimers never share an index")
    func closeAndConcurrency() async {
        let closed = BatchClaimer(count: 100, participants: 2, fixedBatchSize: nil)
        _ = closed.claim()
        closed.close()
        #expect(closed.claim() == nil)

        let shared = BatchClaimer(count: 200_000, participants: 4, fixedBatchSize: nil)
        let parts = await withTaskGroup(of: [Range<Int>].self) { group in
            for _ in 0..<4 { group.addTask { Self.drain(shared) } }
            var all: [Range<Int>] = []
            for await part in group { all += part }
            return all
        }
        let sorted = parts.sorted { $0.lowerBound < $1.lowerBound }
        #expect(sorted.first?.lowerBound == 0 && sorted.last?.upperBound == 200_000)
        #expect(zip(sorted, sorted.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
    }
}
