import ParallelCore
import Testing

@testable import ParallelMemory

/// Digests checked against Python's hashlib (run by hand: `hashlib.sha256(data).hexdigest()`)
/// and FIPS 180-4's examples.
@Suite("SHA-256")
struct SHA256Tests {
    @Test func knownDigests() {
        #expect(SHA256.hash([UInt8]()).hexString == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            SHA256.hash(Array("abc".utf8)).hexString
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)).hexString
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(
            SHA256.hash([UInt8](repeating: 0x61, count: 1000)).hexString
                == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
        let ramp = Array((0..<768).map { UInt8($0 % 256) })
        #expect(SHA256.hash(ramp).hexString == "f3a25aa93aa2fbba28d79260535bbd6a5eb0fc1c24a8b0f04e12b484c1dfe363")
    }

    @Test func incrementalFeedingEqualsOneShot() {
        let data = Array((0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        let expected = SHA256.hash(data)
        for chunk in [1, 3, 63, 64, 65, 127, 500] {
            var hasher = SHA256()
            var start = 0
            while start < data.count {
                let end = min(start + chunk, data.count)
                hasher.update(data[start..<end])
                start = end
            }
            #expect(hasher.finalize() == expected, "chunks of \(chunk)")
        }
    }
}
