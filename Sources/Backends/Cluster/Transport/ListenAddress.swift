import Glibc

// Which address the parent listens on. Workers on other nodes must reach it — dask-jobqueue's
// most common complaint is a scheduler on an address the nodes cannot reach — so the default is
// the host's first non-loopback IPv4 address, loopback when every worker is local, and
// PARALLELKIT_LISTEN_ADDRESS overrides both (the address of the cluster's network, say).

/// The address to listen on and to tell workers.
package enum ListenAddress {
    /// The environment variable that overrides the choice.
    package static let variable = "PARALLELKIT_LISTEN_ADDRESS"

    /// `PARALLELKIT_LISTEN_ADDRESS` if set, else loopback when `allLocal`, else the first
    /// non-loopback IPv4 address of an interface that is up, else loopback.
    package static func choose(allLocal: Bool, environment: [String: String]) -> String {
        if let chosen = environment[variable], !chosen.isEmpty { return chosen }
        if allLocal { return "127.0.0.1" }
        return firstExternalIPv4() ?? "127.0.0.1"
    }

    /// Whether `host` names this machine's loopback.
    package static func isLocal(_ host: String) -> Bool {
        host == "localhost" || host == "127.0.0.1" || host == "::1" || host.hasPrefix("127.")
    }

    static func firstExternalIPv4() -> String? {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return nil }
        defer { freeifaddrs(first) }
        var entry: UnsafeMutablePointer<ifaddrs>? = first
        while let current = entry {
            entry = current.pointee.ifa_next
            let flags = Int32(bitPattern: current.pointee.ifa_flags)
            guard let address = current.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET),
                flags & Int32(IFF_UP) != 0, flags & Int32(IFF_LOOPBACK) == 0
            else { continue }
            var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            let ok = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { inet in
                var raw = inet.pointee.sin_addr
                return inet_ntop(AF_INET, &raw, &text, socklen_t(text.count)) != nil
            }
            if ok { return stringFromCBuffer(text) }
        }
        return nil
    }
}
