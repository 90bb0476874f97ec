import ParallelCore

// What a worker does with one `.runBatch` frame: find the job type by name, decode the jobs, run
// them in order under the caller's configuration scope, and build the reply frame.

/// Runs batches inside a worker process.
enum BatchExecutor {
    /// Where a running batch reports task starts (only when the call has a timeout).
    typealias TaskStartSink = @Sendable (TaskStartedNotice) -> Void

    /// Runs the batch in a `.runBatch` body and returns the reply frame.
    /// - Concurrency: runs on the worker's `BatchThreadExecutor`; a job may hop to the main actor, which the
    ///   worker's parked main thread serves.
    static func run(body: ByteStorage, board: StatusBoard, notify: TaskStartSink) async -> [UInt8] {
        let header: BatchRequestHeader
        let payload: Range<Int>
        do {
            (header, payload) = try parse(body)
        } catch {
            return faultFrame(batchID: 0, "malformed batch request: \(error)")
        }
        guard let type = JobTypeResolver.type(named: header.jobType) else {
            return faultFrame(
                batchID: header.batchID,
                "no type named \"\(header.jobType)\" in the worker (is the worker a different executable?)")
        }
        guard let jobType = type as? any ParallelJob.Type else {
            return faultFrame(batchID: header.batchID, "\(String(reflecting: type)) is not a ParallelJob in the worker")
        }
        return await runTyped(jobType, header: header, body: body, payload: payload, board: board, notify: notify)
    }

    /// Splits a `.runBatch` body into its header and the range of the encoded jobs.
    static func parse(_ body: ByteStorage) throws -> (BatchRequestHeader, Range<Int>) {
        guard body.count >= 4 else { throw FrameError.malformed("batch body of \(body.count) bytes") }
        let headerLength = Int(UInt32(littleEndian: body.base.loadUnaligned(as: UInt32.self)))
        guard headerLength <= body.count - 4 else { throw FrameError.malformed("batch header length \(headerLength)") }
        let header = try BinaryDecoder().decode(BatchRequestHeader.self, from: body, range: 4..<(4 + headerLength))
        return (header, (4 + headerLength)..<body.count)
    }

    private static func runTyped<Job: ParallelJob>(
        _ type: Job.Type, header: BatchRequestHeader, body: ByteStorage, payload: Range<Int>,
        board: StatusBoard, notify: TaskStartSink
    ) async -> [UInt8] {
        let jobs: [Job]
        do {
            jobs = try WorkerDecoding.decoder(mmapMode: header.mmapMode).decode([Job].self, from: body, range: payload)
        } catch {
            return faultFrame(
                batchID: header.batchID, "could not decode the jobs of tasks \(header.firstIndex)...: \(error)")
        }
        guard jobs.count == header.count else {
            return faultFrame(batchID: header.batchID, "batch announced \(header.count) jobs but carried \(jobs.count)")
        }
        let startedAt = MonotonicClock.now()
        let (outputs, failure) = await ScopeStorage.$current.withValue(header.scope) {
            await runEach(jobs, batchID: header.batchID, report: header.reportTaskStarts, board: board, notify: notify)
        }
        board.idle()
        let finishedAt = MonotonicClock.now()
        // "Every task ran" (offset == count), before the results are encoded and sent: a call's
        // timeout covers the tasks' run, not the transfer of a large result.
        if header.reportTaskStarts {
            notify(
                TaskStartedNotice(
                    batchID: header.batchID, offset: UInt32(truncatingIfNeeded: jobs.count), startedAt: finishedAt))
        }
        if let failure {
            return failureFrame(
                header: header, outputs: outputs, error: failure, startedAt: startedAt, finishedAt: finishedAt)
        }
        var frame = FrameBuilder(.batchResult, capacity: 16 * outputs.count + 32)
        BatchResultHeader(batchID: header.batchID, startedAt: startedAt, finishedAt: finishedAt).write(to: &frame)
        do {
            try frame.append(encoding: outputs)
            return try frame.finish()
        } catch {
            // An output whose encode(to:) throws, or results beyond the frame limit. Every task ran:
            // `failureFrame` blames the first task whose result cannot be encoded and returns the
            // results before it; when each result encodes alone (the frame is too large), the
            // error concerns the batch and is reported on its first task.
            return failureFrame(
                header: header, outputs: outputs, error: error, startedAt: startedAt, finishedAt: finishedAt)
        }
    }

    private static func runEach<Job: ParallelJob>(
        _ jobs: [Job], batchID: UInt64, report: Bool, board: StatusBoard, notify: TaskStartSink
    ) async -> ([Job.Output], (any Error)?) {
        var outputs: [Job.Output] = []
        outputs.reserveCapacity(jobs.count)
        // An index loop, not `enumerated()`: this code is generic over a type known only at run
        // time, and the enumerated iterator costs a tuple-metadata lookup per element.
        var offset = 0
        while offset < jobs.count {
            // The clock is read only when someone watches the time; the board is always updated,
            // so a crash can be pinned on the exact task.
            let now = report ? MonotonicClock.now() : 0
            board.taskStarted(batchID: batchID, offset: offset, at: now)
            if report {
                notify(TaskStartedNotice(batchID: batchID, offset: UInt32(truncatingIfNeeded: offset), startedAt: now))
            }
            do {
                outputs.append(try await jobs[offset].run())
            } catch {
                return (outputs, error)
            }
            offset += 1
            // Progress inside the batch: the parent reads this while the batch runs.
            board.tasksCompleted(batchID: batchID, count: offset)
        }
        return (outputs, nil)
    }

    /// A `.batchFailure` frame: the results of the tasks before the failing one, and its error.
    ///
    /// `error` belongs to the task after `outputs`, unless one of `outputs` cannot be encoded:
    /// that task comes first in submission order, so it is the one blamed (with the encoding
    /// error), and only the results before it are returned.
    private static func failureFrame<Output: Encodable>(
        header: BatchRequestHeader, outputs: [Output], error: any Error, startedAt: UInt64, finishedAt: UInt64
    ) -> [UInt8] {
        let prefix = encodablePrefix(outputs)
        let failure: any Error
        if let encodingError = prefix.failure {
            let taskIndex = header.firstIndex + prefix.count
            failure = ParallelError(
                .notSerializable, taskIndex: taskIndex,
                "task \(taskIndex) ran, but its result (\(Output.self)) could not be encoded to send it back "
                    + "from the worker process: \(encodingError)")
        } else if prefix.count == outputs.count || outputs.isEmpty {
            failure = error
        } else {
            // Each result encodes alone but not all together: none of them can come back, so the
            // report is about the batch's first task, and says what happened to the others.
            let last = header.firstIndex + outputs.count
            failure = ParallelError(
                .notSerializable, taskIndex: header.firstIndex,
                "the results of tasks \(header.firstIndex)..<\(last) could not be sent back from the worker "
                    + "process together (\(error)); pass large arrays as SharedArray or use a smaller batchSize")
        }
        let report = BatchFailureReport(
            batchID: header.batchID, completedCount: prefix.count, completedOutputs: prefix.encoded,
            error: ErrorEnvelope(failure), startedAt: startedAt, finishedAt: finishedAt)
        var frame = FrameBuilder(.batchFailure)
        if (try? frame.append(encoding: report)) != nil, let bytes = try? frame.finish() { return bytes }
        // The report itself is too large (the results before the failure fill more than a frame).
        return faultFrame(
            batchID: header.batchID,
            "the results of tasks \(header.firstIndex)..<\(header.firstIndex + outputs.count) are too large to "
                + "send back (\(failure)); pass large arrays as SharedArray or use a smaller batchSize")
    }

    /// The longest prefix of `outputs` that encodes, encoded, and the error of the first output
    /// after it. When every output encodes alone but the whole array does not (it is too large),
    /// the prefix is empty and `failure` is nil: no single task is to blame.
    /// - Complexity: one encoding of `outputs`; after a failure, one more per output up to the
    ///   first that fails.
    static func encodablePrefix<Output: Encodable>(
        _ outputs: [Output]
    ) -> (encoded: [UInt8], count: Int, failure: (any Error)?) {
        let encoder = BinaryEncoder()
        if let encoded = try? encoder.encode(outputs) { return (encoded, outputs.count, nil) }
        let empty = (try? encoder.encode([Output]())) ?? []
        for index in outputs.indices {
            do {
                _ = try encoder.encode(outputs[index])
            } catch {
                guard let encoded = try? encoder.encode(Array(outputs[..<index])) else { return (empty, 0, error) }
                return (encoded, index, error)
            }
        }
        return (empty, 0, nil)
    }

    /// A `.workerFault` frame.
    static func faultFrame(batchID: UInt64, _ message: String) -> [UInt8] {
        var frame = FrameBuilder(.workerFault)
        // A fault report is a short string; encoding it cannot fail.
        try? frame.append(encoding: WorkerFault(batchID: batchID, message: message))
        return (try? frame.finish()) ?? []
    }
}
