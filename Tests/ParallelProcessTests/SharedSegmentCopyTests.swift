import Foundation
import ParallelTestSupport
import Testing

@testable import ParallelProcess

/// Issue 9: an array shared automatically is written into its segment with `pwrite` (the parent
/// does not map it) and read by a worker straight into the array's storage with `pread`.
// 12 MB copied, read back and compared per test, without a suspension point (seconds together
// at the start of a loaded run): off the cooperative pool.
@Suite("Large arrays: copied in and out of shared memory without mapping", .offCooperativePool)
struct SharedSegmentCopyTests {
    /// 12 MB: above the huge-page threshold, so the advice path runs too.
    static let values = (0..<1_500_000).map { Double($0 % 977) * 0.5 }

    @Test("a segment made by copying holds the bytes; read(into:) gets them back; the creator maps nothing")
    func roundTrip() throws {
        let segment = try Self.values.withUnsafeBytes { try SharedSegment.create(copying: $0, in: nil) }
        #expect(segment.base == nil, "the parent only hands the segment to workers: nothing is mapped")
        let reference = try #require(segment.reference)
        #expect(reference.byteCount == UInt64(Self.values.count * 8))
        let back = try [Double](unsafeUninitializedCapacity: Self.values.count) { buffer, initialized in
            try SharedSegment.read(reference, into: UnsafeMutableRawBufferPointer(buffer))
            initialized = buffer.count
        }
        #expect(back == Self.values)
    }

    @Test("read(into:) refuses a destination of another size and a segment that is gone")
    func refusals() throws {
        var segment: SharedSegment? = try Self.values.withUnsafeBytes {
            try SharedSegment.create(copying: $0, in: nil)
        }
        let reference = try #require(segment?.reference)
        let wrong = UnsafeMutableRawBufferPointer.allocate(byteCount: 16, alignment: 8)
        defer { wrong.deallocate() }
        #expect(throws: SystemError.self) { try SharedSegment.read(reference, into: wrong) }
        segment = nil
        let right = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(reference.byteCount), alignment: 8)
        defer { right.deallocate() }
        #expect(throws: SystemError.self) { try SharedSegment.read(reference, into: right) }
    }

    @Test("a temp folder works as well as anonymous memory, and holds no file")
    func inTempFolder() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pk-copy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let segment = try Self.values.withUnsafeBytes { try SharedSegment.create(copying: $0, in: folder.path) }
        let reference = try #require(segment.reference)
        var decoded = [Double](repeating: 0, count: Self.values.count)
        try decoded.withUnsafeMutableBytes { try SharedSegment.read(reference, into: $0) }
        #expect(decoded == Self.values)
        // The file was unlinked at creation: only this process's private folder and its lock are there.
        let files = FileManager.default.enumerator(atPath: folder.path)?.compactMap { entry -> String? in
            let path = folder.appendingPathComponent(entry as! String).path
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
                && !path.hasSuffix("/.lock") ? path : nil
        }
        #expect(files == [])
    }

    /// A resolver whose shared bytes are all 2: not a valid `Bool`.
    final class CorruptResolver: SegmentResolver {
        func withBytes<R>(of reference: SegmentReference, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
            let bytes = [UInt8](repeating: 2, count: Int(reference.byteCount))
            return try bytes.withUnsafeBytes(body)
        }
    }

    @Test("a shared [Bool] is validated in the worker's own copy: bytes other than 0 and 1 are refused")
    func invalidBoolsRefused() throws {
        let store = LargeArrayStore(threshold: 1024, folder: nil)
        defer { store.releaseAll() }
        var encoder = BinaryEncoder()
        encoder.largeArrays = store
        let bytes = try encoder.encode([Bool](repeating: true, count: 100_000))
        #expect(store.segmentCount == 1)
        var decoder = BinaryDecoder()
        decoder.segments = SegmentMapper(cache: DecodedArrayCache())
        #expect(try decoder.decode([Bool].self, from: bytes) == [Bool](repeating: true, count: 100_000))
        decoder.segments = CorruptResolver()
        #expect(throws: (any Error).self) { try decoder.decode([Bool].self, from: bytes) }
    }
}
