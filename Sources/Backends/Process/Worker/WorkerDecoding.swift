import ParallelCore

// How a worker decodes what the parent sent: with a resolver that maps arrays the parent left in
// shared memory, and with the call's mmap mode visible to `SharedArray.init(from:)`.

enum WorkerDecoding {
    /// A decoder for a batch sent with `mmapMode` (an `MmapMode` raw value).
    static func decoder(mmapMode: String) -> BinaryDecoder {
        var decoder = BinaryDecoder()
        decoder.userInfo[.parallelKitMmapMode] = MmapMode(rawValue: mmapMode) ?? .r
        decoder.segments = SegmentMapper()
        return decoder
    }
}

extension CodingUserInfoKey {
    /// The `MmapMode` a `SharedArray` decoded in a worker maps itself with.
    static let parallelKitMmapMode = CodingUserInfoKey(rawValue: "ParallelKit.mmapMode")!
}
