/// The names of the built-in backends, which the registry lists and the resolution rules and
/// joblib's nesting rule refer to. The backends themselves are registered by `ParallelKit`.
package enum BuiltinBackendName {
    package static let sequential = "sequential"
    package static let threading = "threading"
    package static let process = "process"
    package static let loky = "loky"
    package static let multiprocessing = "multiprocessing"
    package static let all = [sequential, threading, process, loky, multiprocessing]
}
