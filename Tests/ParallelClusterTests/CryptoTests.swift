import Foundation
import ParallelCore
import ParallelTestSupport
import Testing

@testable import ParallelCluster

@Suite("SHA-256 and HMAC")
struct CryptoTests {
    @Test func sha256KnownAnswers() {
        #expect(
            SHA256.hash(Array("".utf8)).hexString == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            SHA256.hash(Array("abc".utf8)).hexString
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)).hexString
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(
            SHA256.hash([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)).hexString
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func sha256IncrementalMatchesOneShotAtEveryBoundary() {
        let message = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let expected = SHA256.hash(message)
        for split in [0, 1, 55, 56, 63, 64, 65, 127, 128, 200, 300] {
            var hash = SHA256()
            hash.update(Array(message[0..<split]))
            hash.update(Array(message[split...]))
            #expect(hash.finalize() == expected, "split at \(split)")
        }
    }

    @Test func hmacRFC4231Vectors() {
        // RFC 4231 test cases 1, 2 and 6 (a key longer than the block).
        #expect(
            HMACSHA256.authenticate(Array("Hi There".utf8), key: [UInt8](repeating: 0x0b, count: 20)).hexString
                == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        #expect(
            HMACSHA256.authenticate(Array("what do ya want for nothing?".utf8), key: Array("Jefe".utf8)).hexString
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        #expect(
            HMACSHA256.authenticate(
                Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
                key: [UInt8](repeating: 0xaa, count: 131)
            ).hexString
                == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test func constantTimeEqualComparesWholeValues() {
        #expect(HMACSHA256.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!HMACSHA256.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!HMACSHA256.constantTimeEqual([1, 2, 3], [1, 2]))
    }

    /// Hashes the test executable twice (tens of MB): off the cooperative pool.
    @Test(.offCooperativePool) func buildIdentityIsTheExecutablesDigest() throws {
        let start = ContinuousClock.now
        let current = BuildIdentity.current
        print("BuildIdentity took \(ContinuousClock.now - start)")
        #expect(current.count == 64)
        #expect(current == (try BuildIdentity.digest(ofFile: "/proc/self/exe")))
    }
}
