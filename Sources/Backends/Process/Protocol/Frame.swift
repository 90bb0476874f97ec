// A received frame and the builder for outgoing ones.

/// One received frame: its kind byte and its body.
struct Frame: Sendable {
    /// The raw kind byte (checked against `FrameKind` by the receiver, so an unknown kind is a
    /// protocol error it can name).
    let rawKind: UInt8
    /// The body bytes.
    let body: ByteStorage

    var kind: FrameKind? { FrameKind(rawValue: rawKind) }
}

/// Builds one outgoing frame in a byte array.
///
/// - Complexity: amortised O(1) per appended byte; `finish()` is O(1).
struct FrameBuilder {
    private(set) var bytes: [UInt8]

    /// Starts a frame of `kind`, reserving room for `capacity` body bytes.
    init(_ kind: FrameKind, capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(5 + capacity)
        bytes.append(contentsOf: [0, 0, 0, 0, kind.rawValue])
    }

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(contentsOf other: some Collection<UInt8>) { bytes.append(contentsOf: other) }

    /// Appends `value` encoded with `encoder`.
    mutating func append<T: Encodable>(encoding value: T, with encoder: BinaryEncoder = BinaryEncoder()) throws {
        try encoder.encode(value, appendingTo: &bytes)
    }

    /// Appends `value` encoded with `encoder`, preceded by its u32 length.
    mutating func appendSized<T: Encodable>(encoding value: T, with encoder: BinaryEncoder = BinaryEncoder()) throws {
        let lengthAt = bytes.count
        append(UInt32(0))
        try encoder.encode(value, appendingTo: &bytes)
        let length = UInt32(clamping: bytes.count - lengthAt - 4)
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: length.littleEndian, toByteOffset: lengthAt, as: UInt32.self) }
    }

    /// The finished frame.
    /// - Throws: `FrameError.tooLarge` when the body exceeds `FrameLimits.maxLength`.
    mutating func finish() throws -> [UInt8] {
        let length = bytes.count - 4
        guard length <= FrameLimits.maxLength else { throw FrameError.tooLarge(length) }
        bytes.withUnsafeMutableBytes {
            $0.storeBytes(of: UInt32(length).littleEndian, toByteOffset: 0, as: UInt32.self)
        }
        return bytes
    }
}

/// Framing-level failures.
enum FrameError: Error, CustomStringConvertible, Equatable {
    /// A length prefix of 0 or beyond the limit: the stream is corrupt.
    case badLength(Int)
    /// An outgoing frame beyond the limit.
    case tooLarge(Int)
    /// The stream ended in the middle of a frame.
    case truncated(Int)
    /// A body too short or inconsistent for its kind.
    case malformed(String)
    /// A frame of a kind the receiver does not expect here.
    case unexpected(UInt8)

    var description: String {
        switch self {
        case .badLength(let n): "corrupt frame length \(n)"
        case .tooLarge(let n):
            "a message of \(n) bytes is larger than the 4 GiB frame limit; pass large arrays as SharedArray or keep maxNbytes enabled"
        case .truncated(let n): "the stream ended \(n) bytes into a frame"
        case .malformed(let what): "malformed frame: \(what)"
        case .unexpected(let kind): "unexpected frame kind \(kind)"
        }
    }
}
