import ParallelKit
import Testing

@Suite("SharedArray copies its source, contiguous or not")
struct SharedArrayCopyTests {
    @Test func contiguousSourcesAreCopiedExactly() throws {
        let source = (0..<10_000).map { Double($0) * 0.5 }
        #expect(Array(try SharedArray(source)) == source)
        #expect(Array(try SharedArray(source[100..<200])) == Array(source[100..<200]))
        #expect(Array(try SharedArray(ContiguousArray(source))) == source)
    }

    @Test func lazySourcesAreCopiedExactly() throws {
        let lazy = (0..<1_000).lazy.map { $0 * 3 }
        #expect(Array(try SharedArray(lazy)) == Array(lazy))
    }

    @Test func sharedArraysOfferTheirStorageToGenericCode() throws {
        let shared = try SharedArray(Array(1...100))
        let sum = shared.withContiguousStorageIfAvailable { $0.reduce(0, +) }
        #expect(sum == 5050)
        #expect(Array(try SharedArray(shared)) == Array(1...100))
    }
}
