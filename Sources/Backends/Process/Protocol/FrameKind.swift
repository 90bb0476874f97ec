// The messages of the worker protocol. Every message is one frame:
//
//     u32 little-endian length L (of what follows) | u8 kind | L-1 bytes of body
//
// Requests go parent → worker on the worker's fd 3, replies worker → parent on its fd 4.
// One batch is in flight per worker at a time; the README's "Frames" section has the details.

/// What a frame carries.
enum FrameKind: UInt8, Sendable {
    // Worker → parent.
    /// Written by the C constructor before any Swift runs: the executable understood the request.
    /// Body: mode (1 running, 2 deferred to `ParallelWorker.enterIfNeeded()`), pid (i32).
    case bootstrap = 1
    /// The Swift worker loop is ready. Body: `WorkerHello`.
    case hello = 2
    /// A batch finished. Body: `BatchResultHeader` frame prefix, then the encoded `[Output]`.
    case batchResult = 3
    /// A task of a batch threw. Body: `BatchFailureReport`.
    case batchFailure = 4
    /// A task started (sent only when the call has a timeout). Body: `TaskStartedNotice`.
    case taskStarted = 5
    /// The worker could not run a batch at all (type not found, undecodable payload).
    /// Body: `WorkerFault`.
    case workerFault = 6

    // Parent → worker.
    /// Run a batch. Body: u32 header length, `BatchRequestHeader`, then the encoded `[Job]`.
    case runBatch = 16
    // There is no shutdown request: the parent retires a worker by closing the request pipe, and
    // end of file is also what a worker sees when its parent dies, so one path covers both.
}

/// Limits of the framing layer.
enum FrameLimits {
    /// The largest frame body accepted: a batch or its results beyond this are a usage error
    /// (large arrays should travel through shared memory), and a corrupt length beyond it is
    /// caught before any memory is committed.
    static let maxLength = Int(UInt32.max)
    /// The protocol version both ends must speak (also in PARALLELKIT_WORKER).
    static let protocolVersion = 1
}
