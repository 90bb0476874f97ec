import ParallelCore
import ParallelTestSupport
import Testing

@testable import ParallelProcess

/// Framing: whole frames out of arbitrary pieces, and random or mutated frames rejected with an
/// error (never a crash, a hang or an unbounded allocation) by every parser a frame meets.
@Suite("Frames")
struct FrameTests {
    typealias Random = CodecFuzzTests.SeededGenerator

    static func sampleFrames() throws -> [[UInt8]] {
        var hello = FrameBuilder(.hello)
        try hello.append(encoding: WorkerHello(protocolVersion: 1, pid: 42))
        var batch = FrameBuilder(.runBatch)
        try batch.appendSized(
            encoding: BatchRequestHeader(
                batchID: 7, firstIndex: 10, count: 3, jobType: "4main3JobV", scope: ScopeValues(nestingLevel: 1),
                reportTaskStarts: true, mmapMode: "r"))
        try batch.append(encoding: [1, 2, 3])
        var result = FrameBuilder(.batchResult)
        BatchResultHeader(batchID: 7, startedAt: 1, finishedAt: 2).write(to: &result)
        try result.append(encoding: [1.5, 2.5])
        var failure = FrameBuilder(.batchFailure)
        try failure.append(
            encoding: BatchFailureReport(
                batchID: 7, completedCount: 1, completedOutputs: try BinaryEncoder().encode([1]),
                error: ErrorEnvelope(CodableFailure(code: 3)), startedAt: 1, finishedAt: 2))
        return [
            try hello.finish(), try batch.finish(), try result.finish(), try failure.finish(),
            TaskStartedNotice(batchID: 7, offset: 2, startedAt: 99).frame(),
            BatchExecutor.faultFrame(batchID: 7, "boom"),
        ]
    }

    /// Feeds one frame to every parser of its kind; all must return or throw.
    /// Runs the parser the parent or the worker uses for `frame`'s kind; returns whether it
    /// accepted the body (false for an unknown kind).
    @discardableResult
    static func parse(_ frame: Frame) -> Bool {
        let body = frame.body
        let whole = 0..<body.count
        switch frame.kind {
        case .hello: return (try? BinaryDecoder().decode(WorkerHello.self, from: body, range: whole)) != nil
        case .runBatch: return (try? BatchExecutor.parse(body)) != nil
        case .batchResult:
            guard (try? BatchResultHeader(reading: body)) != nil, body.count >= BatchResultHeader.size else {
                return false
            }
            return (try? BinaryDecoder().decode([Double].self, from: body, range: BatchResultHeader.size..<body.count))
                != nil
        case .batchFailure:
            guard let report = try? BinaryDecoder().decode(BatchFailureReport.self, from: body, range: whole) else {
                return false
            }
            _ = report.error.rebuild(taskIndex: 0)
            return (try? BinaryDecoder().decode([Int].self, from: report.completedOutputs)) != nil
        case .taskStarted: return (try? TaskStartedNotice(reading: body)) != nil
        case .workerFault: return (try? BinaryDecoder().decode(WorkerFault.self, from: body, range: whole)) != nil
        default: return false
        }
    }

    @Test func framesSurviveArbitrarySplits() throws {
        let frames = try Self.sampleFrames()
        let stream = frames.flatMap { $0 }
        var random = Random(state: 11)
        for _ in 0..<200 {
            var reader = FrameReader(initialCapacity: 16)
            var received: [Frame] = []
            var offset = 0
            while offset < stream.count {
                let piece = min(Int.random(in: 1...40, using: &random), stream.count - offset)
                stream[offset..<(offset + piece)].withUnsafeBytes { reader.append($0) }
                offset += piece
                while let frame = try reader.next() { received.append(frame) }
            }
            #expect(received.map(\.rawKind) == frames.map { $0[4] })
            #expect(received.map { Array($0.body.bytes) } == frames.map { Array($0[5...]) })
            #expect(reader.pendingCount == 0)
        }
    }

    @Test func corruptLengthsAreErrors() throws {
        var reader = FrameReader()
        [UInt8]([0, 0, 0, 0, 1]).withUnsafeBytes { reader.append($0) }
        #expect(throws: FrameError.badLength(0)) { try reader.next() }
        var huge = FrameReader()
        [UInt8]([0xff, 0xff, 0xff, 0xff, 3]).withUnsafeBytes { huge.append($0) }
        // A 4 GiB announcement waits for bytes that never come, committing at most 16 MiB.
        #expect(try huge.next() == nil)
    }

    /// Besides never crashing, the parsers must reject most mutations: a parser that accepted
    /// corrupt bodies (skipping a check) would fall below the expected rejection rate.
    @Test(.offCooperativePool) func mutatedFramesNeverCrashTheParsers() throws {
        let frames = try Self.sampleFrames()
        var random = Random(state: 12)
        var parsed = 0
        var rejected = 0
        for _ in 0..<20_000 {
            var bytes = frames[Int.random(in: 0..<frames.count, using: &random)]
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let index = Int.random(in: 4..<bytes.count, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0: bytes[index] = UInt8.random(in: 0...255, using: &random)
                case 1: bytes[index] ^= 1 << UInt8.random(in: 0..<8, using: &random)
                default: bytes.insert(UInt8.random(in: 0...255, using: &random), at: index)
                }
            }
            // Keep the length prefix consistent, so the mutation reaches the body parsers.
            let length = UInt32(bytes.count - 4)
            withUnsafeBytes(of: length.littleEndian) { for i in 0..<4 { bytes[i] = $0[i] } }
            var reader = FrameReader()
            bytes.withUnsafeBytes { reader.append($0) }
            if let frame = try? reader.next() {
                parsed += 1
                if !Self.parse(frame) { rejected += 1 }
            }
        }
        #expect(parsed == 20_000, "every mutated frame has a consistent length prefix, so each is read")
        #expect(Double(rejected) / Double(max(parsed, 1)) > 0.75, "\(rejected) of \(parsed) rejected")
    }

    @Test(.offCooperativePool) func randomStreamsNeverCrashTheReader() {
        var random = Random(state: 13)
        for _ in 0..<5_000 {
            var reader = FrameReader(initialCapacity: 16)
            let bytes = (0..<Int.random(in: 0..<200, using: &random)).map { _ in
                UInt8.random(in: 0...255, using: &random)
            }
            bytes.withUnsafeBytes { reader.append($0) }
            // The reader never hands out more than it was given: each frame is its 4-byte length
            // and its kind byte plus its body, all from `bytes`.
            var consumed = 0
            while let frame = try? reader.next() {
                consumed += 5 + frame.body.count
                Self.parse(frame)
            }
            #expect(consumed <= bytes.count, "frames of \(consumed) bytes read from \(bytes.count)")
        }
    }
}
