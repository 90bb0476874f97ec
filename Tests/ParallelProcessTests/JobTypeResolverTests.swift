import ParallelCore
import Testing

@testable import ParallelProcess

/// Job types reachable by name pass the parent-side check; private, fileprivate and local ones
/// are refused with `.notSerializable` naming the type.
@Suite("Job type resolution")
struct JobTypeResolverTests {
    struct Internal: ParallelJob { var x = 1; func run() async throws -> Int { x } }
    struct Generic<T: Codable & Sendable>: ParallelJob { var value: T; func run() async throws -> T { value } }
    enum Namespace { struct Nested: ParallelJob { func run() async throws -> String { "n" } } }
    private struct Hidden: ParallelJob { func run() async throws -> Int { 0 } }

    @Test func reachableTypesPass() {
        #expect(JobTypeResolver.unreachableReason(Internal.self) == nil)
        #expect(JobTypeResolver.unreachableReason(Generic<Double>.self) == nil)
        #expect(JobTypeResolver.unreachableReason(Generic<[Internal]>.self) == nil)
        #expect(JobTypeResolver.unreachableReason(Namespace.Nested.self) == nil)
        #expect(JobTypeResolver.unreachableReason(FilePublicJob.self) == nil)
    }

    @Test func nameRoundTrips() throws {
        let name = try #require(JobTypeResolver.name(of: Generic<Internal>.self))
        let found = try #require(JobTypeResolver.type(named: name))
        #expect(ObjectIdentifier(found) == ObjectIdentifier(Generic<Internal>.self))
    }

    @Test func corruptNamesResolveToNothing() {
        #expect(JobTypeResolver.type(named: "") == nil)
        #expect(JobTypeResolver.type(named: "\u{1}\u{0}\u{0}\u{0}\u{0}") == nil)
        #expect(JobTypeResolver.type(named: "NotAMangledName") == nil)
        #expect(JobTypeResolver.type(named: String(repeating: "Si", count: 5000)) == nil)
    }

    @Test func privateFileprivateAndLocalTypesAreRefused() throws {
        struct Local: ParallelJob { func run() async throws -> Int { 0 } }
        for type in [Hidden.self, FilePrivateJob.self, Local.self, Generic<FilePrivateJob>.self] as [any Any.Type] {
            let error = try #require(JobTypeResolver.checkJobType(type))
            #expect(error.code == .notSerializable)
            #expect(error.description.contains("internal or public"))
        }
    }
}

struct FilePublicJob: ParallelJob { func run() async throws -> Int { 1 } }
private struct FilePrivateJob: ParallelJob { func run() async throws -> Int { 2 } }
