import Foundation
import ParallelKit

// joblib's "serialization of un-picklable objects": loky pickles a task (with cloudpickle) to send
// it to a worker, and some objects cannot be pickled. In Swift the question is settled by types:
//
// * What crosses is a `ParallelJob`: a `Codable & Sendable` value whose type the worker finds again
//   by name. Its stored properties travel: numbers, strings, arrays, dictionaries, optionals, enums,
//   nested and generic Codable types, and `SharedArray`s (as a reference to shared memory).
// * What cannot cross does not compile. Each of these is refused by the compiler (checked with
//   Swift 6.3: "type 'Bad1' does not conform to protocol 'Encodable'", and for Bad3 also "stored
//   property 'counter' of 'Sendable'-conforming struct 'Bad3' has non-Sendable type"):
//
//       struct Bad1: ParallelJob { var callback: @Sendable () -> Int         // a closure
//                                  func run() async throws -> Int { callback() } }
//       struct Bad2: ParallelJob { var file: FileHandle                     // an open file
//                                  func run() async throws -> Int { 0 } }
//       struct Bad3: ParallelJob { var counter: NSMutableArray              // a shared mutable object
//                                  func run() async throws -> Int { 0 } }
//
// * What compiles but cannot be found by name in another process is refused at run time, before
//   anything is sent: closures (`Delayed`) and private, fileprivate or local job types.

/// A generic job with nested values: all of it crosses.
struct Describe<Value: Codable & Sendable & CustomStringConvertible>: ParallelJob {
    struct Options: Codable, Sendable { var prefix: String; var repeats: Int }
    var value: Value
    var options: Options
    func run() async throws -> String {
        String(repeating: options.prefix, count: options.repeats) + value.description + " (pid \(getpid()))"
    }
}

/// A job that fails with a Codable error type: the caller catches the same type.
struct ValidationError: Error, Codable, Sendable { var field: String; var reason: String }

/// A job that fails with an error that cannot be encoded: the caller gets `.remoteTaskFailed`.
struct OpaqueError: Error, Sendable, CustomStringConvertible {
    var cleanup: @Sendable () -> Void
    var description: String { "an error holding a closure" }
}

struct Validate: ParallelJob {
    var field: String
    var codable: Bool
    func run() async throws -> Bool {
        if codable { throw ValidationError(field: field, reason: "must not be empty") }
        throw OpaqueError(cleanup: {})
    }
}

private struct HiddenJob: ParallelJob {
    func run() async throws -> Int { 1 }
}

@Sendable func serializationExample() async throws {
    let process = Parallel(nJobs: 2, backend: "process")
    print("1. Codable values cross, generic and nested types included:")
    let doubles = try await process([Describe(value: 3.5, options: .init(prefix: "> ", repeats: 2))])
    let lists = try await process([Describe(value: ["a", "b"], options: .init(prefix: "# ", repeats: 1))])
    for line in doubles + lists { print("   \(line)") }

    print("2. A closure cannot leave the process; the call fails before any task runs:")
    do {
        _ = try await process((0..<3).map { i in Delayed { i * i } })
    } catch let error as ParallelError {
        print("   ParallelError.\(error.code): \(error.description)")
    }
    // (Naming a process backend and requiring shared memory together is itself an error.)
    let onThreads = try await Parallel(nJobs: 2, require: .sharedMemory)((0..<3).map { i in Delayed { i * i } })
    print("   …while `require: .sharedMemory` runs it on threads: \(onThreads)")

    print("3. A private job type cannot be found by name in a worker:")
    do {
        _ = try await process([HiddenJob()])
    } catch let error as ParallelError {
        print("   ParallelError.\(error.code): \(error.description)")
    }

    print("4. Errors cross back: a Codable error as itself, any other as .remoteTaskFailed:")
    do {
        _ = try await process([Validate(field: "name", codable: true)])
    } catch let error as ValidationError {
        print("   caught ValidationError(field: \(error.field), reason: \(error.reason))")
    }
    do {
        _ = try await process([Validate(field: "name", codable: false)])
    } catch let error as ParallelError {
        print("   ParallelError.\(error.code): \(error.description)")
    }
}
