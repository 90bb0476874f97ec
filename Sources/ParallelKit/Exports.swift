// `import ParallelKit` is all a user writes: the core (tasks, errors, options, the backend
// protocol and registry, ParallelRandom), the configuration scope, the built-in backends, and
// Memory (results cached on disk).
@_exported import ParallelCluster
@_exported import ParallelConfiguration
@_exported import ParallelCore
@_exported import ParallelMemory
@_exported import ParallelProcess
@_exported import ParallelSequential
@_exported import ParallelThreading
