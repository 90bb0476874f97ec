// Arrays of plain values above the call's `maxNbytes` do not travel through the pipe: the
// encoder hands their bytes to a sink that places them in shared memory and writes only this
// reference; the worker's decoder asks a resolver to map it. The codec knows nothing about
// memfd or files: the hooks below keep that policy in Shared/.

/// Where an array's bytes wait in shared memory.
struct SegmentReference: Hashable, Sendable, Codable {
    /// The process holding `fd`; the reader opens `/proc/<ownerPID>/fd/<fd>`.
    var ownerPID: Int32
    /// The owner's descriptor of the memfd or (unlinked) temp file.
    var fd: Int32
    /// Where the bytes start in the file.
    var offset: UInt64
    /// How many bytes.
    var byteCount: UInt64
    /// Identity of the file (st_dev, st_ino), checked after opening, so a descriptor number that
    /// the owner has since reused for another file is detected instead of read.
    var device: UInt64
    var inode: UInt64
    /// Which of its owner's segments this is: a per-process counter. A segment created after
    /// another one ended can reuse its descriptor number and, in a temp folder on a disk file
    /// system, its inode (ext4 hands a freed inode straight back), so without the serial the two
    /// references would be equal and a worker could take one's cached copy for the other's.
    var serial: UInt64
}

/// Decides, during encoding, whether an array's bytes go to shared memory.
protocol LargeArraySink: AnyObject {
    /// Returns a reference to a copy of `bytes` in shared memory, or nil to inline them.
    /// `owner` keeps the source array alive while the sink caches its segment by address.
    func reference(for bytes: UnsafeRawBufferPointer, owner: Any) throws -> SegmentReference?
}

/// Maps segment references during decoding.
protocol SegmentResolver: AnyObject {
    /// Calls `body` with the referenced bytes, mapped read-only for the duration of the call.
    func withBytes<R>(of reference: SegmentReference, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R

    /// Copies the referenced bytes into `destination`, which has exactly `reference.byteCount`
    /// bytes: how a whole array is decoded, so a resolver can read them without mapping them.
    func copyBytes(of reference: SegmentReference, into destination: UnsafeMutableRawBufferPointer) throws

    /// An array this process already decoded from `reference` while the segment still holds the
    /// same bytes, so jobs of one call that carry the same array copy it once per worker, not once
    /// per job. `nil` when there is none.
    func decodedArray(for reference: SegmentReference) -> Any?

    /// Keeps `array`, decoded from `reference`, for ``decodedArray(for:)``.
    func remember(_ array: Any, decodedFrom reference: SegmentReference)
}

extension SegmentResolver {
    /// Defaults to a copy out of ``withBytes(of:_:)``.
    func copyBytes(of reference: SegmentReference, into destination: UnsafeMutableRawBufferPointer) throws {
        try withBytes(of: reference) { raw in
            guard raw.count == destination.count else {
                throw WireError(message: "a shared array has \(raw.count) bytes, \(destination.count) were expected")
            }
            if let source = raw.baseAddress { destination.baseAddress!.copyMemory(from: source, byteCount: raw.count) }
        }
    }

    /// Defaults to never reusing a decoded array.
    func decodedArray(for reference: SegmentReference) -> Any? { nil }

    /// Defaults to keeping nothing.
    func remember(_ array: Any, decodedFrom reference: SegmentReference) {}
}
