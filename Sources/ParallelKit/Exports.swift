// `import ParallelKit` is all a user writes: the core (tasks, errors, options, the backend
// protocol and registry), the configuration scope, and the built-in backends.
@_exported import ParallelConfiguration
@_exported import ParallelCore
@_exported import ParallelProcess
@_exported import ParallelSequential
@_exported import ParallelThreading
