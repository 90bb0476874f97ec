/// The jobs of a batch in a form that can cross a process boundary: present on a ``TaskBatch``
/// when the call's tasks are ``ParallelJob``s.
///
/// A process backend opens ``jobType`` to encode the `[Job]` array and to decode the worker's
/// `[Job.Output]` reply, then reports it with ``makeOutcome(values:failure:)``.
public struct PortableBatch: Sendable {
    /// The job type; its mangled name finds it again in the worker.
    public let jobType: any ParallelJob.Type
    /// The jobs, as `[Job]` for `Job == jobType`.
    package let jobs: any Sendable

    @usableFromInline
    package init<Job: ParallelJob>(jobs: [Job]) {
        self.jobType = Job.self
        self.jobs = jobs
    }

    /// The jobs as a typed array.
    /// - Precondition: `Job.self == jobType`.
    public func jobs<Job: ParallelJob>(as type: Job.Type) -> [Job] {
        jobs as! [Job]
    }

    /// An outcome from decoded results: `values` must be `[Job.Output]` for `Job == jobType`.
    public func makeOutcome<Output: Sendable>(values: [Output], failure: (any Error)?) -> BatchOutcome {
        BatchOutcome(values: values, failure: failure)
    }
}
