import ParallelCore
import ParallelProcess

/// The name of one cache entry: SHA-256 over what identifies a computation.
///
/// Hashed, in this order: a format tag (`ParallelKit.Memory key 1`), the function's name (for a
/// cached job: its type's mangled name), the explicit `version` as 8 little-endian bytes, the
/// mangled names of the argument and result types, and the argument's bytes in the codec's
/// canonical mode (see CanonicalEncoding.swift in ParallelProcess). Strings are length-prefixed,
/// so no two different inputs run into the same byte stream.
///
/// The format tag changes whenever the canonical encoding or this layout changes, so an old
/// entry is then never found (a miss), rather than found for a different value.
struct CacheKey: Sendable, Equatable {
    /// Part of every key; bump it when the canonical encoding or the key layout changes
    /// (`CacheKeyTests.frozenKeys` fails when either does without it).
    static let formatTag = "ParallelKit.Memory key 1"

    /// The 32-byte digest.
    let digest: [UInt8]

    init(digest: [UInt8]) { self.digest = digest }

    /// The key of `function(argument)`.
    /// - Throws: `ParallelError(.notSerializable)` when the argument's `encode(to:)` fails.
    init<A: Encodable, R>(name: String, version: Int, argument: A, resultType: R.Type) throws {
        let encoded: [UInt8]
        do {
            encoded = try BinaryEncoder.canonical().encode(argument)
        } catch {
            throw ParallelError(
                .notSerializable,
                "Memory cannot make a key for \(name): encoding its argument of type \(A.self) failed (\(error)). "
                    + "Make the argument's Encodable conformance succeed, or call the function without the cache")
        }
        var hasher = SHA256()
        hasher.update(lengthPrefixed: CacheKey.formatTag)
        hasher.update(lengthPrefixed: name)
        hasher.update(UInt64(bitPattern: Int64(version)))
        hasher.update(lengthPrefixed: stableTypeName(A.self))
        hasher.update(lengthPrefixed: stableTypeName(R.self))
        hasher.update(encoded)
        digest = hasher.finalize()
    }

    /// The entry's file name: 64 lowercase hexadecimal digits.
    var fileName: String { digest.hexString }

    /// The byte of the lock file that stands for this key: the digest's first 62 bits, plus one
    /// (byte 0 is the eviction lock).
    var lockOffset: Int64 {
        let prefix = digest.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Int64(prefix & (1 << 62 - 1)) + 1
    }
}

/// A name for `type` that is the same in every process and run of a build and across rebuilds of
/// unchanged declarations: its mangled name. (`String(reflecting:)` of a private type embeds an
/// address that changes from run to run.)
func stableTypeName(_ type: Any.Type) -> String {
    _mangledTypeName(type) ?? String(reflecting: type)
}
