import Dispatch
import ParallelCore

// The parent's half of a batch's journey: encode the jobs into a `.runBatch` frame on the
// submitting thread, and turn the worker's reply into the engine's `BatchOutcome`. Both open the
// job type from `PortableBatch.jobType` once per batch, so the codec runs with the concrete type.

enum BatchCodec {
    /// Results bigger than this are decoded off the event loop thread, so one large reply does
    /// not delay the other workers' I/O.
    static let inlineDecodeLimit = 256 * 1024

    /// Encodes the request frame for `batch`.
    static func encodeRequest(
        _ batch: TaskBatch, portable: PortableBatch, batchID: UInt64, mmapMode: MmapMode,
        largeArrays: (any LargeArraySink)?, reportTaskStarts: Bool? = nil
    ) throws -> [UInt8] {
        func encode<Job: ParallelJob>(_ type: Job.Type) throws -> [UInt8] {
            guard let typeName = JobTypeResolver.name(of: Job.self) else {
                throw ParallelError(.notSerializable, "\(Job.self) has no mangled name")
            }
            let header = BatchRequestHeader(
                batchID: batchID, firstIndex: batch.firstIndex, count: batch.count, jobType: typeName,
                scope: batch.scope, reportTaskStarts: reportTaskStarts ?? batch.tracksEachTask,
                mmapMode: mmapMode.rawValue, runsOnWorkerThread: EventLoop.shared.isUnderALimit)
            let jobs = portable.jobs(as: Job.self)
            var frame = FrameBuilder(.runBatch, capacity: 64 + 16 * jobs.count)
            try frame.appendSized(encoding: header)
            var encoder = BinaryEncoder()
            encoder.largeArrays = largeArrays
            encoder.userInfo[.parallelKitMmapMode] = mmapMode
            try frame.append(encoding: jobs, with: encoder)
            return try frame.finish()
        }
        return try encode(portable.jobType)
    }

    /// The pool's completion for a batch: decodes the reply and reports it to the engine.
    static func completion(
        for portable: PortableBatch, firstIndex: Int, count: Int,
        reportTo completion: @escaping @Sendable (BatchOutcome) -> Void
    ) -> @Sendable (BatchReply) -> Void {
        func make<Job: ParallelJob>(_ type: Job.Type) -> @Sendable (BatchReply) -> Void {
            { reply in
                if case .finished(let body) = reply, body.count > inlineDecodeLimit {
                    DispatchQueue.global().async {
                        completion(outcome(Job.self, reply, portable: portable, firstIndex: firstIndex, count: count))
                    }
                } else {
                    completion(outcome(Job.self, reply, portable: portable, firstIndex: firstIndex, count: count))
                }
            }
        }
        return make(portable.jobType)
    }

    private static func outcome<Job: ParallelJob>(
        _ type: Job.Type, _ reply: BatchReply, portable: PortableBatch, firstIndex: Int, count: Int
    ) -> BatchOutcome {
        let tasks = "tasks \(firstIndex)..<\(firstIndex + count)"
        switch reply {
        case .finished(let body):
            do {
                let outputs = try BinaryDecoder().decode(
                    [Job.Output].self, from: body, range: BatchResultHeader.size..<body.count)
                guard outputs.count == count else {
                    throw FrameError.malformed("\(outputs.count) results for \(count) tasks")
                }
                return portable.makeOutcome(values: outputs, failure: nil)
            } catch {
                return BatchOutcome(
                    failure: ParallelError(
                        .remoteTaskFailed, taskIndex: firstIndex,
                        "the results of \(tasks) came back from the worker but could not be decoded: \(error)"))
            }
        case .failed(let report):
            let failingIndex = firstIndex + report.completedCount
            let error = report.error.rebuild(taskIndex: failingIndex)
            if let outputs = try? BinaryDecoder().decode([Job.Output].self, from: report.completedOutputs),
                outputs.count == report.completedCount
            {
                return portable.makeOutcome(values: outputs, failure: error)
            }
            return BatchOutcome(failure: error, completedCount: report.completedCount)
        case .fault(let message):
            return BatchOutcome(
                failure: ParallelError(
                    .notSerializable, taskIndex: firstIndex,
                    "\(tasks) could not be run by the worker process: \(message)"))
        case .crashed(let error, let completedCount):
            return BatchOutcome(
                failure: error, completedCount: completedCount, isFailureAttributed: error.taskIndex != nil)
        case .couldNotStart(let error):
            return BatchOutcome(failure: error)
        }
    }
}
