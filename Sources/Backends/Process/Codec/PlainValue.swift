// Arrays of plain values ([Double], [Int], [UInt8], …) are the common payload of numeric jobs.
// Encoding them element by element through Codable costs tens of nanoseconds per element; copying
// their memory costs a fraction of one. This file names the element types that take that path.

/// The element type of a packed array, as written on the wire.
enum PlainKind: UInt8, Sendable, CaseIterable {
    case int8 = 1, int16, int32, int64, uint8, uint16, uint32, uint64, float32, float64, bool

    /// Size of one element in bytes.
    var stride: Int {
        switch self {
        case .int8, .uint8, .bool: 1
        case .int16, .uint16: 2
        case .int32, .uint32, .float32: 4
        case .int64, .uint64, .float64: 8
        }
    }
}

/// A scalar whose in-memory bytes are its complete value, so an array of it can be copied as
/// raw memory. Only the stdlib's fixed-size numbers and `Bool` conform: a user's BitwiseCopyable
/// struct may hold pointers or padding, which must not cross a process boundary as bytes.
protocol PlainValue: BitwiseCopyable, Codable, Sendable {
    /// The wire kind of this type.
    static var plainKind: PlainKind { get }
    /// Whether raw bytes received for this type are valid values of it.
    static func isValidRepresentation(_ bytes: UnsafeRawBufferPointer) -> Bool
}

extension PlainValue {
    /// Every bit pattern is a valid number; `Bool` overrides this because only 0 and 1 are valid.
    static func isValidRepresentation(_ bytes: UnsafeRawBufferPointer) -> Bool { true }
}

extension Int8: PlainValue { static var plainKind: PlainKind { .int8 } }
extension Int16: PlainValue { static var plainKind: PlainKind { .int16 } }
extension Int32: PlainValue { static var plainKind: PlainKind { .int32 } }
extension Int64: PlainValue { static var plainKind: PlainKind { .int64 } }
extension Int: PlainValue { static var plainKind: PlainKind { .int64 } }
extension UInt8: PlainValue { static var plainKind: PlainKind { .uint8 } }
extension UInt16: PlainValue { static var plainKind: PlainKind { .uint16 } }
extension UInt32: PlainValue { static var plainKind: PlainKind { .uint32 } }
extension UInt64: PlainValue { static var plainKind: PlainKind { .uint64 } }
extension UInt: PlainValue { static var plainKind: PlainKind { .uint64 } }
extension Float: PlainValue { static var plainKind: PlainKind { .float32 } }
extension Double: PlainValue { static var plainKind: PlainKind { .float64 } }
extension Bool: PlainValue {
    static var plainKind: PlainKind { .bool }
    /// A `Bool` byte other than 0 or 1 is undefined behaviour in Swift, so it is rejected.
    static func isValidRepresentation(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.allSatisfy { $0 <= 1 }
    }
}
