import ParallelCore

// Bodies of the protocol's frames. Small structured bodies use the binary codec (validated for
// free); the per-task notice is fixed-size because it is the only message that can be frequent.

/// Body of `.hello`: the worker loop is ready.
struct WorkerHello: Codable, Sendable, Equatable {
    var protocolVersion: Int
    var pid: Int32
}

/// The header of a `.runBatch` frame; the encoded `[Job]` follows it.
struct BatchRequestHeader: Codable, Sendable {
    /// Chosen by the parent, echoed in every reply about this batch.
    var batchID: UInt64
    /// Submission index of the first job (for error messages in the worker).
    var firstIndex: Int
    /// Number of jobs.
    var count: Int
    /// `_mangledTypeName` of the job type.
    var jobType: String
    /// The configuration scope the jobs run under.
    var scope: ScopeValues
    /// Send `.taskStarted` for every job (the call has a timeout).
    var reportTaskStarts: Bool
    /// How the worker maps `SharedArray`s of this batch (`MmapMode.rawValue`).
    var mmapMode: String
    /// Run the batch on the worker's request-loop thread, not the cooperative pool: the parent
    /// saw the system refuse a process or thread lately.
    var runsOnWorkerThread = false
}

/// The fixed prefix of a `.batchResult` body; the encoded `[Output]` follows it.
struct BatchResultHeader: Equatable {
    static let size = 24
    var batchID: UInt64
    /// Monotonic nanoseconds when the worker started and finished the batch.
    var startedAt: UInt64
    var finishedAt: UInt64

    func write(to frame: inout FrameBuilder) {
        frame.append(batchID)
        frame.append(startedAt)
        frame.append(finishedAt)
    }

    init(batchID: UInt64, startedAt: UInt64, finishedAt: UInt64) {
        self.batchID = batchID
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }

    init(reading body: ByteStorage) throws {
        guard body.count >= Self.size else { throw FrameError.malformed("result body of \(body.count) bytes") }
        batchID = UInt64(littleEndian: body.base.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        startedAt = UInt64(littleEndian: body.base.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        finishedAt = UInt64(littleEndian: body.base.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
    }
}

/// Body of `.taskStarted`.
struct TaskStartedNotice: Equatable {
    static let size = 20
    var batchID: UInt64
    /// Offset of the task within its batch.
    var offset: UInt32
    /// Monotonic nanoseconds (the same clock in every process of the machine).
    var startedAt: UInt64

    func frame() -> [UInt8] {
        var frame = FrameBuilder(.taskStarted, capacity: Self.size)
        frame.append(batchID)
        frame.append(offset)
        frame.append(startedAt)
        // 21 bytes can never exceed the frame limit.
        return (try? frame.finish()) ?? []
    }

    init(batchID: UInt64, offset: UInt32, startedAt: UInt64) {
        self.batchID = batchID
        self.offset = offset
        self.startedAt = startedAt
    }

    init(reading body: ByteStorage) throws {
        guard body.count == Self.size else { throw FrameError.malformed("task notice of \(body.count) bytes") }
        batchID = UInt64(littleEndian: body.base.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        offset = UInt32(littleEndian: body.base.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        startedAt = UInt64(littleEndian: body.base.loadUnaligned(fromByteOffset: 12, as: UInt64.self))
    }
}

/// Body of `.batchFailure`: a task threw.
struct BatchFailureReport: Codable, Sendable {
    var batchID: UInt64
    /// Tasks of the batch that completed before the failing one.
    var completedCount: Int
    /// Their outputs, encoded as `[Output]`.
    var completedOutputs: [UInt8]
    /// The error.
    var error: ErrorEnvelope
    var startedAt: UInt64
    var finishedAt: UInt64
}

/// Body of `.workerFault`: the worker could not run the batch.
struct WorkerFault: Codable, Sendable {
    var batchID: UInt64
    var message: String
}
