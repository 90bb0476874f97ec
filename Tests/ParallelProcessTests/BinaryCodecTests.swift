import Foundation
import Testing

@testable import ParallelProcess

/// Round trips through the binary codec must give back equal values, for every shape Codable
/// can produce.
@Suite("Binary codec")
struct BinaryCodecTests {
    struct Primitives: Codable, Equatable {
        var bool = true
        var string = "héllo, wörld 🌍"
        var double = -1.5e300
        var float: Float = 3.25
        var int = Int.min
        var int8 = Int8.min
        var int16 = Int16.max
        var int32 = Int32.min
        var int64 = Int64.max
        var uint = UInt.max
        var uint8 = UInt8.max
        var uint16 = UInt16.max
        var uint32 = UInt32.max
        var uint64 = UInt64.max
        var int128 = Int128.min
        var uint128 = UInt128.max
        var optional: Int? = nil
        var present: String? = "x"
    }

    indirect enum Tree: Codable, Equatable {
        case leaf(Int)
        case node(Tree, Tree)
        case empty
    }

    struct Nested: Codable, Equatable {
        var name: String
        var children: [Nested]
        var tags: Set<String>
        var scores: [String: Double]
        var matrix: [[Double]]
        var flags: [Bool]
        var bytes: [UInt8]
        var ints: [Int]
        var floats: [Float]
        var tree: Tree
        var tuple: [Int?]
    }

    /// Writes fields in a different order than it reads them, uses nested containers and a
    /// super encoder: what synthesized code never does, but hand-written code may.
    struct HandWritten: Codable, Equatable {
        var a: Int
        var b: String
        var inner: [Double]
        enum Keys: String, CodingKey { case a, b, inner, box }
        enum BoxKeys: String, CodingKey { case value }

        init(a: Int, b: String, inner: [Double]) {
            self.a = a
            self.b = b
            self.inner = inner
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(b, forKey: .b)
            var box = container.nestedContainer(keyedBy: BoxKeys.self, forKey: .box)
            try box.encode(a, forKey: .value)
            var list = container.nestedUnkeyedContainer(forKey: .inner)
            for value in inner { try list.encode(value) }
            try b.encode(to: container.superEncoder())
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Keys.self)
            var list = try container.nestedUnkeyedContainer(forKey: .inner)
            var inner: [Double] = []
            while !list.isAtEnd { inner.append(try list.decode(Double.self)) }
            self.inner = inner
            a = try container.nestedContainer(keyedBy: BoxKeys.self, forKey: .box).decode(Int.self, forKey: .value)
            b = try container.decode(String.self, forKey: .b)
            #expect(try String(from: container.superDecoder()) == b)
            #expect(container.contains(.a) == false)
            #expect(Set(container.allKeys.map(\.rawValue)) == ["b", "box", "inner"])
        }
    }

    struct EncodesNothing: Codable, Equatable {
        init() {}
        func encode(to encoder: any Encoder) throws {}
        init(from decoder: any Decoder) throws {}
    }

    func roundTrip<T: Codable & Equatable>(_ value: T) throws -> T {
        let bytes = try BinaryEncoder().encode(value)
        return try BinaryDecoder().decode(T.self, from: bytes)
    }

    @Test func primitivesRoundTrip() throws {
        #expect(try roundTrip(Primitives()) == Primitives())
        var other = Primitives()
        other.int = -1
        other.double = .infinity
        other.optional = 42
        other.present = nil
        other.string = ""
        #expect(try roundTrip(other) == other)
    }

    @Test func topLevelScalarsAndArrays() throws {
        #expect(try roundTrip(42) == 42)
        #expect(try roundTrip("text") == "text")
        #expect(try roundTrip([1.0, 2.5, -3.0]) == [1.0, 2.5, -3.0])
        #expect(try roundTrip([Int]()) == [])
        #expect(try roundTrip([true, false, true]) == [true, false, true])
        #expect(try roundTrip(Optional<Int>.none) == nil)
        #expect(try roundTrip([Optional(1), nil, 3]) == [1, nil, 3])
        #expect(try roundTrip(["a": 1, "b": 2]) == ["a": 1, "b": 2])
        #expect(try roundTrip([1: "x", 2: "y"]) == [1: "x", 2: "y"])
    }

    @Test func nestedStructuresRoundTrip() throws {
        let leaf = Nested(
            name: "leaf", children: [], tags: [], scores: [:], matrix: [], flags: [], bytes: [], ints: [], floats: [],
            tree: .empty, tuple: [])
        let value = Nested(
            name: "root", children: [leaf, leaf], tags: ["a", "b"], scores: ["x": 1, "y": -2],
            matrix: [[1, 2], [3]], flags: [true, false], bytes: Array(0...255), ints: [-1, 0, .max],
            floats: [1.5, -0.25], tree: .node(.leaf(1), .node(.empty, .leaf(-2))), tuple: [1, nil])
        #expect(try roundTrip(value) == value)
    }

    @Test func handWrittenCodableRoundTrip() throws {
        let value = HandWritten(a: 7, b: "bee", inner: [1, 2, 3])
        #expect(try roundTrip(value) == value)
    }

    @Test func valueThatEncodesNothing() throws {
        #expect(try roundTrip(EncodesNothing()) == EncodesNothing())
        #expect(try roundTrip([EncodesNothing(), EncodesNothing()]).count == 2)
    }

    @Test func foundationTypesRoundTrip() throws {
        let date = Date(timeIntervalSince1970: 1_700_000_000.25)
        #expect(try roundTrip(date) == date)
        let url = URL(string: "https://example.com/a?b=c")!
        #expect(try roundTrip(url) == url)
        let data = Data([0, 1, 2, 255])
        #expect(try roundTrip(data) == data)
        let uuid = UUID()
        #expect(try roundTrip(uuid) == uuid)
    }

    @Test func plainArraysArePacked() throws {
        let values = (0..<1000).map(Double.init)
        let bytes = try BinaryEncoder().encode(values)
        // tag + kind + 2-byte count + 8000 bytes of payload: no per-element overhead.
        #expect(bytes.count == 1 + 1 + 2 + 8000)
        #expect(bytes[0] == WireTag.packed.rawValue)
    }

    struct Point: Codable, Equatable { var x: Double; var y: Double; var id: Int32 }
    struct WithBool: Codable, Equatable { var x: Int; var flag: Bool }
    struct Labelled: Codable, Equatable { var x: Int; var label: String }

    @Test func numberOnlyStructsTravelAsRawMemory() throws {
        #expect(PlainLayout.isPlain(Point(x: 1, y: 2, id: 3)))
        #expect(!PlainLayout.isPlain(WithBool(x: 1, flag: true)))
        #expect(!PlainLayout.isPlain(Labelled(x: 1, label: "a")))
        #expect(!PlainLayout.isPlain(Optional(1)))
        let points = (0..<1000).map { Point(x: Double($0), y: -Double($0), id: Int32($0)) }
        let bytes = try BinaryEncoder().encode(points)
        #expect(bytes[0] == WireTag.plainStructs.rawValue)
        #expect(bytes.count < 1000 * MemoryLayout<Point>.stride + 64)
        #expect(try BinaryDecoder().decode([Point].self, from: bytes) == points)
        // Nested inside another value, and arrays that do not qualify, round-trip too.
        struct Holder: Codable, Equatable { var points: [Point]; var flags: [WithBool]; var labels: [Labelled] }
        let holder = Holder(points: points, flags: [WithBool(x: 1, flag: true)], labels: [Labelled(x: 2, label: "b")])
        #expect(try roundTrip(holder) == holder)
        #expect(try roundTrip([Point]()) == [])
        // Raw bytes are only accepted for a type the receiver itself finds number-only.
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode([WithBool].self, from: bytes) }
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode([Int].self, from: bytes) }
    }

    @Test func packedArrayCanBeReadElementByElement() throws {
        struct Loop: Decodable {
            var values: [Int32] = []
            init(from decoder: any Decoder) throws {
                var container = try decoder.unkeyedContainer()
                while !container.isAtEnd { values.append(try container.decode(Int32.self)) }
            }
        }
        let bytes = try BinaryEncoder().encode([Int32(1), 2, 3])
        #expect(try BinaryDecoder().decode(Loop.self, from: bytes).values == [1, 2, 3])
    }

    @Test func integersAreRangeChecked() throws {
        let bytes = try BinaryEncoder().encode(300)
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode(UInt8.self, from: bytes) }
        let negative = try BinaryEncoder().encode(-1)
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode(UInt.self, from: negative) }
        #expect(try BinaryDecoder().decode(Int16.self, from: bytes) == 300)
    }

    @Test func mismatchedTypesAreErrors() throws {
        let bytes = try BinaryEncoder().encode(Primitives())
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode([Int].self, from: bytes) }
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode(String.self, from: bytes) }
        let doubles = try BinaryEncoder().encode([1.0, 2.0])
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode([Int].self, from: doubles) }
    }

    @Test func missingKeyNamesTheKey() throws {
        struct Small: Codable { var a = 1 }
        struct Large: Codable { var a: Int; var b: Int }
        let bytes = try BinaryEncoder().encode(Small())
        do {
            _ = try BinaryDecoder().decode(Large.self, from: bytes)
            Issue.record("decoding should fail")
        } catch DecodingError.keyNotFound(let key, _) {
            #expect(key.stringValue == "b")
        }
    }

    @Test func deepNestingIsRejectedNotOverflowed() throws {
        var tree = Tree.empty
        for index in 0..<(WireLimits.maxDepth + 10) { tree = .node(tree, .leaf(index)) }
        #expect(throws: EncodingError.self) { try BinaryEncoder().encode(tree) }
    }

    @Test func trailingBytesAreRejected() throws {
        var bytes = try BinaryEncoder().encode(5)
        bytes.append(0)
        #expect(throws: DecodingError.self) { try BinaryDecoder().decode(Int.self, from: bytes) }
    }

    @Test func appendingKeepsThePrefix() throws {
        var bytes: [UInt8] = [9, 9, 9]
        try BinaryEncoder().encode(["a"], appendingTo: &bytes)
        #expect(Array(bytes.prefix(3)) == [9, 9, 9])
        #expect(
            try BinaryDecoder().decode([String].self, from: ByteStorage(copying: bytes), range: 3..<bytes.count) == [
                "a"
            ])
    }
}
