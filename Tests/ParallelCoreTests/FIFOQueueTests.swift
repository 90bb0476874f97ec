import ParallelCore
import Testing

/// ``FIFOQueue``: first in, first out, through interleaved appends and pops, across the points
/// where it drains and where it reclaims its consumed prefix.
@Suite struct FIFOQueueTests {
    @Test func emptyQueuePopsNothing() {
        var queue = FIFOQueue<Int>()
        #expect(queue.isEmpty)
        #expect(queue.count == 0)
        #expect(queue.first == nil)
        #expect(queue.popFirst() == nil)
    }

    @Test func popsInAppendOrder() {
        var queue = FIFOQueue<String>()
        for word in ["a", "b", "c"] { queue.append(word) }
        #expect(queue.count == 3)
        #expect(queue.first == "a")
        #expect(queue.popFirst() == "a")
        queue.append("d")
        #expect(queue.count == 3)
        #expect([queue.popFirst(), queue.popFirst(), queue.popFirst()] == ["b", "c", "d"])
        #expect(queue.isEmpty)
        #expect(queue.popFirst() == nil)
    }

    /// Against an array model, with bursts long enough to cross the reclaiming threshold many
    /// times, and pops that sometimes empty the queue and sometimes leave a long tail.
    @Test func matchesAnArrayModel() {
        var queue = FIFOQueue<Int>()
        var model: [Int] = []
        var next = 0
        var generator = SplitMix(seed: 42)
        for _ in 0..<2_000 {
            let appends = Int(generator.next() % 200)
            for _ in 0..<appends {
                queue.append(next)
                model.append(next)
                next += 1
            }
            let pops = Int(generator.next() % 220)
            for _ in 0..<pops {
                let expected = model.isEmpty ? nil : model.removeFirst()
                #expect(queue.popFirst() == expected)
            }
            #expect(queue.count == model.count)
            #expect(queue.first == model.first)
        }
    }

    @Test func removeAllEmptiesAndKeepsWorking() {
        var queue = FIFOQueue<Int>()
        for i in 0..<100 { queue.append(i) }
        _ = queue.popFirst()
        queue.removeAll(keepingCapacity: true)
        #expect(queue.isEmpty)
        #expect(queue.popFirst() == nil)
        queue.append(7)
        #expect(queue.popFirst() == 7)
    }

    /// Popped elements are released once the queue drains, so a queue does not keep the objects
    /// it handed out alive.
    @Test func releasesPoppedElementsWhenDrained() {
        final class Token {}
        weak var weakToken: Token?
        var queue = FIFOQueue<Token>()
        do {
            let token = Token()
            weakToken = token
            queue.append(token)
            queue.append(Token())
        }
        _ = queue.popFirst()
        _ = queue.popFirst()
        #expect(weakToken == nil)
    }
}

/// A tiny deterministic generator for the model test.
private struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
