import ParallelTestSupport
import Testing

@testable import ParallelProcess

/// Random and mutated inputs must make the decoder throw (or, by luck, succeed), never crash,
/// hang or allocate without bound. Deterministic seeds, so a failure reproduces. Besides not
/// crashing, each test checks how much of its input the decoder rejects: a decoder that accepted
/// garbage (skipping checks, reading defaults) would fall below the expected rejection rate.
// Seconds of decoding without a suspension point: off the cooperative pool, so the other tests
// running meanwhile keep its threads.
@Suite("Codec fuzzing", .offCooperativePool)
struct CodecFuzzTests {
    /// SplitMix64: small, fast and good enough to drive a fuzzer reproducibly.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    struct Vector: Codable, Equatable { var x: Double; var y: Double; var n: Int }

    struct Sample: Codable, Equatable {
        var id: Int
        var name: String
        var values: [Double]
        var nested: [Sample]
        var optional: UInt8?
        var map: [String: Int]
        var vectors: [Vector] = [Vector(x: 1, y: 2, n: 3), Vector(x: 4, y: 5, n: 6)]
    }

    static let sample = Sample(
        id: -12, name: "sample", values: [1, 2, 3],
        nested: [Sample(id: 1, name: "child", values: [], nested: [], optional: 3, map: ["k": 1])],
        optional: nil, map: ["a": 1, "bb": 2])

    /// Decoding attempts and how many of them threw.
    struct Tally {
        var attempts = 0
        var rejected = 0
        var rejectionRate: Double { attempts == 0 ? 0 : Double(rejected) / Double(attempts) }
        /// `Sample` decodes only (the richest type, so the one garbage should almost never fit).
        var sampleAttempts = 0
        var sampleRejected = 0
        var sampleRejectionRate: Double { sampleAttempts == 0 ? 0 : Double(sampleRejected) / Double(sampleAttempts) }
    }

    /// Tries every decoder entry point the process backend uses on `bytes`, counting rejections.
    func decodeAll(_ bytes: [UInt8], into tally: inout Tally) {
        let decoder = BinaryDecoder()
        func attempt(_ decode: () throws -> Any) {
            tally.attempts += 1
            if (try? decode()) == nil { tally.rejected += 1 }
        }
        tally.sampleAttempts += 1
        let sampleRejected = (try? decoder.decode(Sample.self, from: bytes)) == nil
        tally.attempts += 1
        if sampleRejected {
            tally.sampleRejected += 1
            tally.rejected += 1
        }
        attempt { try decoder.decode([Double].self, from: bytes) }
        attempt { try decoder.decode([Sample].self, from: bytes) }
        attempt { try decoder.decode(String.self, from: bytes) }
        attempt { try decoder.decode([String: [Int]].self, from: bytes) }
        attempt { try decoder.decode(Int128.self, from: bytes) }
        attempt { try decoder.decode([Bool].self, from: bytes) }
        attempt { try decoder.decode([Vector].self, from: bytes) }
    }

    @Test func randomBytesNeverCrash() {
        var random = SeededGenerator(state: 1)
        var tally = Tally()
        for _ in 0..<20_000 {
            let count = Int.random(in: 0..<64, using: &random)
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
            decodeAll(bytes, into: &tally)
        }
        #expect(tally.rejectionRate > 0.99, "\(tally)")
        #expect(tally.sampleRejectionRate > 0.999, "\(tally)")
    }

    @Test func randomBytesWithValidTagsNeverCrash() {
        // Mostly-plausible input reaches deeper into the decoder than pure noise.
        var random = SeededGenerator(state: 2)
        var tally = Tally()
        for _ in 0..<20_000 {
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 1..<24, using: &random) {
                bytes.append(UInt8.random(in: 0...14, using: &random))
                if Bool.random(using: &random) { bytes.append(UInt8.random(in: 0...255, using: &random)) }
            }
            decodeAll(bytes, into: &tally)
        }
        #expect(tally.rejectionRate > 0.99, "\(tally)")
        #expect(tally.sampleRejectionRate > 0.999, "\(tally)")
    }

    @Test func mutatedValidEncodingsNeverCrash() throws {
        let valid = try BinaryEncoder().encode(Self.sample)
        #expect(try BinaryDecoder().decode(Sample.self, from: valid) == Self.sample)
        var random = SeededGenerator(state: 3)
        var tally = Tally()
        for _ in 0..<20_000 {
            var bytes = valid
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                switch Int.random(in: 0..<4, using: &random) {
                case 0:
                    bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
                case 1:
                    bytes[Int.random(in: 0..<bytes.count, using: &random)] ^=
                        1 << UInt8.random(in: 0..<8, using: &random)
                case 2: if bytes.count > 1 { bytes.removeLast(Int.random(in: 1..<bytes.count, using: &random)) }
                default:
                    bytes.insert(
                        UInt8.random(in: 0...255, using: &random), at: Int.random(in: 0...bytes.count, using: &random))
                }
            }
            decodeAll(bytes, into: &tally)
        }
        #expect(tally.rejectionRate > 0.9, "\(tally)")
        #expect(tally.sampleRejectionRate > 0.8, "\(tally)")
    }

    @Test func everyTruncationIsAnError() throws {
        let valid = try BinaryEncoder().encode(Self.sample)
        for length in 0..<valid.count {
            #expect(throws: DecodingError.self) {
                try BinaryDecoder().decode(Sample.self, from: Array(valid.prefix(length)))
            }
        }
    }

    @Test func hugeDeclaredLengthsDoNotAllocate() {
        // A packed array claiming 2^60 doubles, a string claiming 2^62 bytes, a container claiming
        // 4 billion entries: each must fail on the bounds check, before any allocation.
        let packed: [UInt8] = [
            WireTag.packed.rawValue, PlainKind.float64.rawValue, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10,
        ]
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode([Double].self, from: packed) }
        let string: [UInt8] = [WireTag.string.rawValue, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f]
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode(String.self, from: string) }
        let container: [UInt8] = [WireTag.unkeyed.rawValue, 4, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode([Int].self, from: container) }
        let overlong: [UInt8] = [WireTag.unsigned.rawValue] + Array(repeating: 0xff, count: 11) + [0]
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode(UInt64.self, from: overlong) }
    }

    @Test func invalidUTF8AndBoolBytesAreRejected() {
        let string: [UInt8] = [WireTag.string.rawValue, 2, 0xc3, 0x28]
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode(String.self, from: string) }
        let bools: [UInt8] = [WireTag.packed.rawValue, PlainKind.bool.rawValue, 2, 1, 7]
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode([Bool].self, from: bools) }
    }
}
