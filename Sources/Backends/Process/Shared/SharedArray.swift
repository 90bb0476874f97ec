import Glibc
import ParallelCore

/// A fixed-size array in shared memory that worker processes map instead of copying: joblib's
/// memmapped arrays, for Swift.
///
/// It has reference semantics, like a buffer: copies share the storage, and the subscript's setter
/// is nonmutating, so a job holding a `let` can write (disjoint indices per task; the same index
/// written from two tasks at once is a data race, as with any shared buffer).
///
/// ```swift
/// let input = try SharedArray((0..<25_000_000).map(Double.init))   // 200 MB, one copy
/// let output = try SharedArray(repeating: 0.0, count: 4)
/// struct Sum: ParallelJob {
///     var input: SharedArray<Double>, output: SharedArray<Double>, part: Int
///     func run() async throws -> Bool {
///         let range = …
///         output[part] = input[range].reduce(0, +)   // workers write, the caller reads
///         return true
///     }
/// }
/// _ = try await Parallel(nJobs: 2, backend: "process", mmapMode: .rPlus)((0..<4).map { Sum(…) })
/// ```
///
/// When a job carrying it is sent to a worker, only a reference travels; the worker maps the
/// same memory, as the call's `mmapMode` says: `.r` read-only (a write is a clear error: the
/// worker stops with a message naming the fix), `.rPlus` and `.wPlus` read-write and visible to
/// the caller, `.c` copy-on-write (the worker's writes stay its own), `.disabled` a private copy
/// sent in the message.
///
/// The memory is anonymous (`memfd_create`) unless the scope names a temp folder
/// (`withParallelConfig(tempFolder:)` or `JOBLIB_TEMP_FOLDER`), where it lives in a 0600 file of a
/// private folder, unlinked at once: nothing is left behind however the program ends.
///
/// - Complexity: element access is O(1); creation is O(count).
/// - Concurrency: `Sendable`; element reads and writes are plain memory accesses with no
///   synchronisation, as with `UnsafeMutableBufferPointer`.
public struct SharedArray<Element: BitwiseCopyable & Sendable>: RandomAccessCollection, MutableCollection, Sendable {
    /// Positions are `Int`s from 0, as in `Array`.
    public typealias Index = Int

    let storage: SharedArrayStorage

    /// Copies `elements` into new shared memory (in the scope's temp folder, if one is set).
    /// - Throws: `ParallelError(.invalidArgument)` saying why shared memory cannot be created (out
    ///   of memory or space, or the temp folder is missing-and-uncreatable, a file, unwritable or
    ///   writable by others without the sticky bit).
    /// - Complexity: O(n); one `memcpy` when `elements` has contiguous storage (an `Array`, a
    ///   `ContiguousArray`, a slice of either, another `SharedArray`).
    public init(_ elements: some Collection<Element>) throws {
        let count = elements.count
        storage = try SharedArrayStorage.create(count: count, stride: MemoryLayout<Element>.stride)
        guard let base = storage.segment.base else { return }
        let target = base.bindMemory(to: Element.self, capacity: count)
        // Elements are BitwiseCopyable, so a contiguous source is one memory copy; the generic
        // loop below (a witness call per element) is for lazy or non-contiguous collections.
        let copied: Bool? = elements.withContiguousStorageIfAvailable { source in
            guard let start = source.baseAddress, source.count == count else { return false }
            target.initialize(from: start, count: count)
            return true
        }
        if copied == true { return }
        var index = 0
        for element in elements where index < count {
            (target + index).initialize(to: element)
            index += 1
        }
    }

    /// Shared memory holding `count` copies of `repeatedValue`.
    /// - Throws: `ParallelError(.invalidArgument)` for a negative or too large `count`, or saying
    ///   why shared memory cannot be created.
    public init(repeating repeatedValue: Element, count: Int) throws {
        storage = try SharedArrayStorage.create(count: count, stride: MemoryLayout<Element>.stride)
        storage.segment.base?.bindMemory(to: Element.self, capacity: count).initialize(
            repeating: repeatedValue, count: count)
    }

    init(storage: SharedArrayStorage) {
        self.storage = storage
    }

    /// Always 0.
    public var startIndex: Int { 0 }
    /// The number of elements.
    public var endIndex: Int { storage.count }

    /// Whether elements can be written here (false in a worker that mapped the array with
    /// `mmapMode: .r`).
    public var isWritable: Bool { storage.segment.isWritable }

    /// The element at `position`. Setting it writes the shared memory: visible to every holder of
    /// this array in this process, and to the caller when a worker maps it with `.rPlus`/`.wPlus`.
    /// - Precondition: `position` is in bounds; for the setter, ``isWritable``.
    public subscript(position: Int) -> Element {
        get {
            precondition(
                position >= 0 && position < storage.count,
                "SharedArray index \(position) out of range 0..<\(storage.count)")
            return storage.segment.base!.load(fromByteOffset: position * MemoryLayout<Element>.stride, as: Element.self)
        }
        nonmutating set {
            precondition(
                position >= 0 && position < storage.count,
                "SharedArray index \(position) out of range 0..<\(storage.count)")
            storage.requireWritable()
            storage.segment.base!.storeBytes(
                of: newValue, toByteOffset: position * MemoryLayout<Element>.stride, as: Element.self)
        }
    }

    /// Calls `body` with the elements as a buffer, so generic algorithms over a `SharedArray` read
    /// memory directly instead of going through the subscript.
    /// - Complexity: O(1).
    public func withContiguousStorageIfAvailable<R>(_ body: (UnsafeBufferPointer<Element>) throws -> R) rethrows -> R? {
        try withUnsafeBufferPointer(body)
    }

    /// Calls `body` with the elements as a buffer.
    /// - Complexity: O(1).
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Element>) throws -> R) rethrows -> R {
        let base = storage.segment.base?.assumingMemoryBound(to: Element.self)
        return try body(UnsafeBufferPointer(start: base, count: base == nil ? 0 : storage.count))
    }

    /// Calls `body` with the elements as a mutable buffer; the writes go to the shared memory.
    /// - Precondition: ``isWritable``.
    /// - Complexity: O(1).
    public func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Element>) throws -> R
    ) rethrows -> R {
        storage.requireWritable()
        let base = storage.segment.base?.assumingMemoryBound(to: Element.self)
        return try body(UnsafeMutableBufferPointer(start: base, count: base == nil ? 0 : storage.count))
    }
}

/// The memory behind a `SharedArray` and its element count.
///
/// - Concurrency: `Sendable`: both fields are immutable; the bytes are shared memory whose
///   synchronisation is the users' (see `SharedArray`).
final class SharedArrayStorage: Sendable {
    let segment: SharedSegment
    let count: Int

    static let readOnlyMessage =
        "this SharedArray is read-only here: the worker mapped it with mmapMode .r. "
        + "Pass mmapMode: .rPlus to write into the caller's array, or .c for private writes."

    /// Stops with a clear message on a write to read-only memory. `fatalError` rather than
    /// `precondition`, because optimised builds drop a precondition's message, and in a worker
    /// this message is what the caller's `.workerCrashed` error quotes.
    @inline(__always)
    func requireWritable() {
        if !segment.isWritable { fatalError(Self.readOnlyMessage) }
    }

    init(segment: SharedSegment, count: Int) {
        self.segment = segment
        self.count = count
    }

    /// New shared memory for `count` elements, in the scope's temp folder if one is set.
    static func create(count: Int, stride: Int) throws -> SharedArrayStorage {
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: stride)
        guard count >= 0, !overflow else {
            throw ParallelError.invalid(
                "SharedArray count", "\(count) elements of \(stride) bytes is not a size",
                fix: "Pass a count from 0 up to the memory available.")
        }
        let folder = TempFolder.resolve(ScopeStorage.current.tempFolder)
        do {
            return SharedArrayStorage(segment: try SharedSegment.create(byteCount: byteCount, in: folder), count: count)
        } catch let error as SystemError {
            // Callers catch `ParallelError`; the system call's reason stays in the message.
            throw ParallelError.invalid(
                "SharedArray",
                "shared memory for \(count) elements (\(byteCount) bytes) could not be created: \(error)",
                fix: "Use a smaller array, free memory or space in the temp folder, or pass another tempFolder.")
        }
    }
}
