import Foundation
import ParallelKit
import Testing

@testable import ParallelMemory
@testable import ParallelProcess

/// A struct whose layout has padding: 1 byte, 7 bytes of padding, 8 bytes.
struct Padded: Codable, Equatable, Sendable {
    var small: Int8
    var large: Int64
}

/// Returns the canonical encoding of a fixed dictionary and set, computed in whatever process
/// runs it (a worker has a different hash seed, so a different iteration order).
struct CanonicalBytesJob: ParallelJob {
    var size: Int
    func run() async throws -> [[UInt8]] {
        let encoder = BinaryEncoder.canonical()
        return [
            try encoder.encode(CanonicalEncodingTests.sampleDictionary(size)),
            try encoder.encode(Set(0..<size)),
            try encoder.encode(["outer": CanonicalEncodingTests.sampleDictionary(size)]),
        ]
    }
}

@Suite("Canonical encoding")
struct CanonicalEncodingTests {
    static func sampleDictionary(_ size: Int) -> [String: Int] {
        Dictionary(uniqueKeysWithValues: (0..<size).map { ("key\($0)", $0) })
    }

    @Test func dictionariesAndSetsDoNotDependOnIterationOrder() throws {
        // Same contents, different capacities and insertion orders: different iteration orders.
        var forward: [Int: String] = [:]
        for i in 0..<200 { forward[i] = "v\(i)" }
        var backward: [Int: String] = Dictionary(minimumCapacity: 5000)
        for i in (0..<200).reversed() { backward[i] = "v\(i)" }
        #expect(Array(forward.keys) != Array(backward.keys), "the test needs two iteration orders")
        let encoder = BinaryEncoder.canonical()
        #expect(try encoder.encode(forward) == encoder.encode(backward))
        #expect(try encoder.encode(["a": forward]) == encoder.encode(["a": backward]))
        var bigSet = Set<Int>(minimumCapacity: 5000)
        for i in (0..<200).reversed() { bigSet.insert(i) }
        #expect(try encoder.encode(Set(0..<200)) == encoder.encode(bigSet))
        // Different contents still differ.
        var changed = forward
        changed[7] = "other"
        #expect(try encoder.encode(forward) != encoder.encode(changed))
    }

    @Test func sameBytesInAWorkerProcess() async throws {
        let local = try await CanonicalBytesJob(size: 100).run()
        let remote = try await Parallel(nJobs: 2, backend: "process")([
            CanonicalBytesJob(size: 100), CanonicalBytesJob(size: 100),
        ])
        #expect(remote.allSatisfy { $0 == local })
    }

    @Test func floatingPointIsItsBitPattern() throws {
        let encoder = BinaryEncoder.canonical()
        #expect(try encoder.encode(0.0) != encoder.encode(-0.0))
        #expect(try encoder.encode([0.0]) != encoder.encode([-0.0]))
        let quiet = Double(nan: 0, signaling: false)
        let payload = Double(nan: 1, signaling: false)
        #expect(try encoder.encode(quiet) == encoder.encode(quiet))
        #expect(try encoder.encode(quiet) != encoder.encode(payload))
    }

    @Test func paddingBytesDoNotReachTheEncoding() throws {
        func array(paddingFilledWith fill: UInt8) -> [Padded] {
            let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 * MemoryLayout<Padded>.stride, alignment: 8)
            defer { raw.deallocate() }
            raw.initializeMemory(as: UInt8.self, repeating: fill)
            for i in 0..<4 {
                raw.storeBytes(of: Int8(i), toByteOffset: i * 16, as: Int8.self)
                raw.storeBytes(of: Int64(i * 1000), toByteOffset: i * 16 + 8, as: Int64.self)
            }
            return Array(raw.bindMemory(to: Padded.self))
        }
        let zeros = array(paddingFilledWith: 0)
        let ones = array(paddingFilledWith: 0xFF)
        #expect(zeros == ones)
        // The frame encoding copies the raw bytes, padding included; the canonical one does not.
        #expect(try BinaryEncoder().encode(zeros) != BinaryEncoder().encode(ones), "the test needs differing padding")
        #expect(try BinaryEncoder.canonical().encode(zeros) == BinaryEncoder.canonical().encode(ones))
    }

    /// Keys frozen when written. If this fails, the canonical encoding or the key layout changed:
    /// bump `CacheKey.formatTag` (so old entries are never read for new keys) and refreeze.
    @Test func frozenKeys() throws {
        let keys = [
            try CacheKey(name: "function f", version: 0, argument: 1, resultType: Int.self),
            try CacheKey(name: "function f", version: 1, argument: 1, resultType: Int.self),
            try CacheKey(name: "function f", version: 0, argument: "text", resultType: String.self),
            try CacheKey(name: "function g", version: 0, argument: ["b": 2.5, "a": -0.0], resultType: [Double].self),
            try CacheKey(name: "function g", version: 0, argument: [Padded(small: 1, large: 2)], resultType: Int.self),
        ].map(\.fileName)
        #expect(Set(keys).count == keys.count)
        #expect(keys == CanonicalEncodingTests.frozen, "\(keys)")
    }

    /// The first was also computed independently in Python (hashlib.sha256 over the layout in
    /// CacheKey.swift, with the canonical bytes of Int 1, [3, 2], and Int's mangled name "Si").
    static let frozen = [
        "6fdb2bf0e6406cc2c53f006b61a0bb0cd675d7622fd7644386c6750c710aeb1f",
        "c5c84143666bb5cabc59d88f7ccf69e965e7ec61ccb9a031035708d051f619f4",
        "b406dfba3c44489a1b9a1d6457a852020a2b6fc596c8c67fbca824608b0a80a3",
        "5ec2e01f01745a4f855648ab7f10b3fd964e316d9143db34edcab8a3c4297bb7",
        "e110ec47d9d96843033a5c5d47af5aeb840cbf70d243e6f9a5ed694e8da26e18",
    ]
}
