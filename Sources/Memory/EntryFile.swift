// One cache entry is one file, `entries/<64 hex digits of the key>`:
//
//   offset  size  what
//   0       8     magic "PKMEMRY1" (the format; a change makes old entries damaged, so recomputed)
//   8       32    the key's digest (an entry renamed or copied by hand to another key is refused)
//   40      8     payload length, little-endian
//   48      32    SHA-256 of the payload (a flipped bit or a torn write after a power loss is caught)
//   80      n     payload: the result in the binary codec
//
// Anything that does not match — short, long, another magic, another key, another checksum, or a
// payload that does not decode as the result type — is a damaged entry: recomputed and replaced.

import ParallelCore

/// Builds and checks entry files.
enum EntryFile {
    static let magic: [UInt8] = Array("PKMEMRY1".utf8)
    static let headerSize = 80

    /// The file contents for `payload` under `key`.
    static func contents(key: CacheKey, payload: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(headerSize + payload.count)
        bytes.append(contentsOf: magic)
        bytes.append(contentsOf: key.digest)
        withUnsafeBytes(of: UInt64(payload.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: SHA256.hash(payload))
        bytes.append(contentsOf: payload)
        return bytes
    }

    /// The payload of `file` if it is an intact entry for `key`, else nil.
    static func payload(of file: [UInt8], key: CacheKey) -> ArraySlice<UInt8>? {
        guard file.count >= headerSize, file[0..<8].elementsEqual(magic), file[8..<40].elementsEqual(key.digest) else {
            return nil
        }
        let length = file[40..<48].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard length == UInt64(file.count - headerSize) else { return nil }
        let payload = file[headerSize...]
        guard SHA256.hash(payload).elementsEqual(file[48..<80]) else { return nil }
        return payload
    }
}
