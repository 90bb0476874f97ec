import Glibc
import ParallelCore

// A SharedArray crosses to a worker as a reference to its memory, not as its elements. The
// worker's decoder knows the call's mmapMode (through userInfo) and maps accordingly.
//
// Only a request to workers (whose encoder carries the call's mmapMode) sends a reference. Any
// other encoding sends the elements: a job's result (the worker drops its memory as soon as the
// reply is written, so a reference could not be mapped), or a value cached on disk,
// where a descriptor number means nothing later.

/// What a `SharedArray` encodes to.
struct SharedArrayDescriptor: Codable {
    /// Where the memory is; nil when the elements travel inline.
    var reference: SegmentReference?
    /// The elements' bytes, when sent inline (`mmapMode: .disabled`, or a private copy).
    var inline: [UInt8]?
    var count: Int
    var stride: Int
    /// `_mangledTypeName(Element.self)`, so a `SharedArray<Double>` is never read as `<Int64>`.
    var elementType: String
}

extension SharedArray: Codable {
    /// Encodes a reference to the memory when the encoder is a request to worker processes (its
    /// `userInfo` holds the call's mmap mode, not `.disabled`); otherwise the elements.
    public func encode(to encoder: any Encoder) throws {
        let mode = encoder.userInfo[.parallelKitMmapMode] as? MmapMode ?? .disabled
        var descriptor = SharedArrayDescriptor(
            reference: storage.segment.reference, inline: nil, count: storage.count,
            stride: MemoryLayout<Element>.stride, elementType: _mangledTypeName(Element.self) ?? "\(Element.self)")
        if mode == .disabled || descriptor.reference == nil {
            descriptor.reference = nil
            descriptor.inline = Array(storage.segment.bytes)
        }
        var container = encoder.singleValueContainer()
        try container.encode(descriptor)
    }

    /// Maps the memory a descriptor refers to, as the decoder's `mmapMode` says (`.r` by
    /// default).
    public init(from decoder: any Decoder) throws {
        let descriptor = try decoder.singleValueContainer().decode(SharedArrayDescriptor.self)
        func corrupted(_ message: String) -> DecodingError {
            .dataCorrupted(DecodingError.Context(codingPath: decoder.codingPath, debugDescription: message))
        }
        let elementType = _mangledTypeName(Element.self) ?? "\(Element.self)"
        guard descriptor.elementType == elementType, descriptor.stride == MemoryLayout<Element>.stride,
            descriptor.count >= 0
        else {
            throw corrupted(
                "a SharedArray of \(descriptor.elementType) cannot be decoded as SharedArray<\(Element.self)>")
        }
        let (byteCount, overflow) = descriptor.count.multipliedReportingOverflow(by: descriptor.stride)
        guard !overflow else { throw corrupted("SharedArray size overflows") }
        let segment: SharedSegment
        if let inline = descriptor.inline {
            guard inline.count == byteCount else {
                throw corrupted("SharedArray holds \(inline.count) bytes, expected \(byteCount)")
            }
            segment = try inline.withUnsafeBytes { try SharedSegment.privateCopy(of: $0) }
        } else if let reference = descriptor.reference, reference.byteCount == UInt64(byteCount) {
            let mode = decoder.userInfo[.parallelKitMmapMode] as? MmapMode ?? .r
            let access: SharedSegment.Access
            switch mode {
            case .r: access = .readOnly
            case .rPlus, .wPlus: access = .readWrite
            case .c, .disabled: access = .copyOnWrite
            }
            do {
                segment = try SharedSegment.open(reference, access: access)
            } catch {
                throw corrupted("cannot map the SharedArray from process \(reference.ownerPID): \(error)")
            }
        } else {
            throw corrupted("SharedArray descriptor has neither memory nor elements")
        }
        self.init(storage: SharedArrayStorage(segment: segment, count: descriptor.count))
    }
}
