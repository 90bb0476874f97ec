import Foundation
import ParallelKit
import Testing

@testable import ParallelCluster

@Suite("SSH backend against a real sshd", .enabled(if: ClusterEnvironment.runSSH), .serialized)
struct SSHBackendTests {
    @Test func jobsRunOverSSHInOrder() async throws {
        guard ClusterEnvironment.expectSSH() else { return }
        let backend = SSHBackend(hosts: ["localhost:2"])
        let reports = try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 1)((0..<20).map { WhereJob(index: $0) })
        #expect(reports.map(\.index) == Array(0..<20))
        #expect(reports.allSatisfy { $0.sshConnection != nil }, "every job ran in a process started by sshd")
        #expect(Set(reports.map(\.pid)).count == 2)
        #expect(!reports.contains { $0.pid == getpid() })
    }
}
