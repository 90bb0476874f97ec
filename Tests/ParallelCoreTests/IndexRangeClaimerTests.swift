import ParallelCore
import Testing

/// The index ranges `Parallel.map` hands out: every index exactly once, large ranges first.
@Suite("IndexRangeClaimer: guided and fixed ranges")
struct IndexRangeClaimerTests {
    static func drain(_ claimer: IndexRangeClaimer) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        while let range = claimer.claim() { ranges.append(range) }
        return ranges
    }

    @Test(
        "guided ranges cover 0..<n once, in order, shrinking to single indices; O(p log n) of them",
        arguments: [1, 2, 7, 1_000, 1_000_000], [1, 2, 8])
    func guided(count: Int, participants: Int) {
        let ranges = Self.drain(IndexRangeClaimer(count: count, participants: participants, fixedChunk: nil))
        #expect(ranges.first?.lowerBound == 0)
        #expect(ranges.last?.upperBound == count)
        #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
        #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.count >= $1.count })
        #expect(ranges.last?.count == 1)
        #expect(ranges.first!.count <= max(1, count / (4 * participants)))
        #expect(ranges.count <= 4 * participants * 16 + 4 * participants)
    }

    @Test("a fixed chunk hands out exactly that many (the last one shorter)")
    func fixed() {
        let ranges = Self.drain(IndexRangeClaimer(count: 10, participants: 2, fixedChunk: 4))
        #expect(ranges == [0..<4, 4..<8, 8..<10])
    }

    @Test("after close nothing more is handed out; concurrent claimers never share an index")
    func closeAndConcurrency() async {
        let closed = IndexRangeClaimer(count: 100, participants: 2, fixedChunk: nil)
        _ = closed.claim()
        closed.close()
        #expect(closed.claim() == nil)

        let shared = IndexRangeClaimer(count: 200_000, participants: 4, fixedChunk: nil)
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
