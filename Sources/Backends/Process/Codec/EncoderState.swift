// The mutable core of one encoding run: one growing byte array and a stack of open items.
//
// Why a stack: values are written in place, front to back, with no intermediate tree (that is
// what makes this encoder several times cheaper than JSONEncoder). A container's length is only
// known when it ends, so its header is written with placeholders and patched when it closes.
// Codable lets a caller keep a nested container and write to its parent again; a write to an
// item first closes everything opened above it, and a later write to a closed item is an error
// (synthesized Codable code never does this).

/// The state shared by the encoder and all of its containers during one `encode` call.
final class EncoderState {
    /// What an open stack item is.
    enum ItemKind: Equatable { case slot, keyed, unkeyed }

    /// What a slot (the place for exactly one value) has received so far.
    enum SlotContent: Equatable { case nothing, single, container(id: Int, kind: ItemKind) }

    /// An item on the stack: a slot awaiting its value, or a container awaiting entries.
    struct OpenItem {
        let id: Int
        let kind: ItemKind
        /// Slot: where its value starts. Container: offset of its tag byte.
        let start: Int
        var count: UInt32 = 0
        var content: SlotContent = .nothing
    }

    /// The mutable state. It lives behind a pointer rather than in stored properties because
    /// every access to a class's stored `var` is checked for exclusivity at run time, and with a
    /// write or two per encoded field those checks made encoding about twice as slow (the figures
    /// are in Benchmarks/RESULTS.md, "Measurements behind design choices"). The state is owned by this object and used by one thread.
    private struct Mutable {
        var bytes: [UInt8]
        var codingPath: [any CodingKey] = []
        var nesting = 0
        var deferredError: EncodingError?
        var lastUnpackedType: ObjectIdentifier?
        var stack: [OpenItem] = []
        var nextID = 1
    }

    private let state: UnsafeMutablePointer<Mutable>

    /// Passed through to every `Encoder.userInfo`.
    let userInfo: [CodingUserInfoKey: Any]
    /// Where large arrays of plain values go, if anywhere.
    let largeArrays: (any LargeArraySink)?
    /// Canonical mode: unordered collections sorted, no raw struct bytes (see CanonicalEncoding).
    let canonical: Bool

    init(
        bytes: [UInt8], userInfo: [CodingUserInfoKey: Any], largeArrays: (any LargeArraySink)?, canonical: Bool = false
    ) {
        state = .allocate(capacity: 1)
        state.initialize(to: Mutable(bytes: bytes))
        self.userInfo = userInfo
        self.largeArrays = largeArrays
        self.canonical = canonical
    }

    deinit {
        state.deinitialize(count: 1)
        state.deallocate()
    }

    /// The output; earlier bytes (a frame header) may precede the encoded value.
    var bytes: [UInt8] {
        get { state.pointee.bytes }
        _modify { yield &state.pointee.bytes }
    }
    /// Keys from the root to the value being encoded, for error messages.
    var codingPath: [any CodingKey] {
        get { state.pointee.codingPath }
        _modify { yield &state.pointee.codingPath }
    }
    /// How many nested values are being encoded right now (bounded by `WireLimits.maxDepth`).
    var nesting: Int {
        get { state.pointee.nesting }
        _modify { yield &state.pointee.nesting }
    }
    /// An error raised by a non-throwing Codable entry point (`nestedContainer`, …), thrown when
    /// the enclosing value finishes.
    var deferredError: EncodingError? {
        get { state.pointee.deferredError }
        _modify { yield &state.pointee.deferredError }
    }
    /// The last type found not to be an array: arrays of structs ask the same question for every
    /// element, and a dynamic cast costs more than encoding a small struct.
    private var lastUnpackedType: ObjectIdentifier? {
        get { state.pointee.lastUnpackedType }
        _modify { yield &state.pointee.lastUnpackedType }
    }
    private var stack: [OpenItem] {
        get { state.pointee.stack }
        _modify { yield &state.pointee.stack }
    }
    private var nextID: Int {
        get { state.pointee.nextID }
        _modify { yield &state.pointee.nextID }
    }

    // MARK: Errors

    /// An `EncodingError` at the current path.
    func failure(_ message: String, extraPath: [any CodingKey] = []) -> EncodingError {
        .invalidValue(
            Optional<Int>.none as Any,
            EncodingError.Context(codingPath: codingPath + extraPath, debugDescription: message))
    }

    /// Records the first error of a non-throwing entry point.
    func record(_ error: EncodingError) {
        if deferredError == nil { deferredError = error }
    }

    // MARK: Stack

    /// Opens a slot for one value at the current end of the output.
    func openSlot() throws -> Int {
        guard nesting <= WireLimits.maxDepth else {
            throw failure("values nested deeper than \(WireLimits.maxDepth) levels cannot be encoded")
        }
        let id = nextID
        nextID += 1
        stack.append(OpenItem(id: id, kind: .slot, start: bytes.count))
        return id
    }

    /// Closes items down to and including `id` (a no-op if it is already closed).
    func closeThrough(_ id: Int) {
        guard let index = stack.lastIndex(where: { $0.id == id }) else { return }
        while stack.count > index { closeTop() }
    }

    /// Closes every open item; used at the end of the root value.
    func closeAll() {
        while !stack.isEmpty { closeTop() }
    }

    private func closeTop() {
        let item = stack.removeLast()
        switch item.kind {
        case .slot:
            // A value whose encode(to:) wrote nothing still needs bytes, so that decoding stays
            // aligned; an empty keyed container is what JSONEncoder writes (`{}`) too.
            if item.content == .nothing {
                let start = bytes.count
                writeContainerHeader(.keyed)
                patchContainer(start: start, count: 0)
            }
        case .keyed, .unkeyed:
            patchContainer(start: item.start, count: item.count)
        }
    }

    /// Makes `id` the top item by closing everything above it. False when `id` is closed.
    private func makeTop(_ id: Int) -> Bool {
        if stack.last?.id == id { return true }
        guard let index = stack.lastIndex(where: { $0.id == id }) else { return false }
        while stack.count > index + 1 { closeTop() }
        return true
    }

    /// Prepares the container `id` for one more entry.
    func willAppend(toContainer id: Int) throws {
        guard makeTop(id) else {
            throw failure(
                "a container was written after a later write to an enclosing container closed it; "
                    + "the binary encoder needs each nested container to be finished before its parent is written again"
            )
        }
        let last = stack.count - 1
        guard stack[last].count < UInt32.max else { throw failure("a container with more than 4 billion entries") }
        stack[last].count += 1
    }

    /// Prepares the slot `id` to receive one primitive value.
    func willWriteSingle(slot id: Int) throws {
        guard makeTop(id) else { throw failure("a single value container was used after its value was finished") }
        let last = stack.count - 1
        guard stack[last].content == .nothing else {
            throw failure("a single value container was asked to encode a second value")
        }
        stack[last].content = .single
    }

    /// Starts a keyed or unkeyed container as the value of slot `id`. Returns the container's id,
    /// or nil (with `deferredError` set) when the slot cannot take it.
    func beginContainer(inSlot id: Int, kind: ItemKind) -> Int? {
        guard makeTop(id) else {
            record(failure("a container was requested from an encoder whose value was already finished"))
            return nil
        }
        let last = stack.count - 1
        switch stack[last].content {
        case .nothing:
            let container = beginContainer(kind)
            stack[last].content = .container(id: container, kind: kind)
            return container
        case .container(let existing, let existingKind) where existingKind == kind && makeTop(existing):
            // Asking the same encoder twice for the same kind of container gives the same one.
            return existing
        default:
            record(failure("an encoder was asked for a second, different container for one value"))
            return nil
        }
    }

    /// Writes a container header here and pushes it; the caller has already accounted for the
    /// entry in its parent.
    func beginContainer(_ kind: ItemKind) -> Int {
        let id = nextID
        nextID += 1
        stack.append(OpenItem(id: id, kind: kind, start: bytes.count))
        writeContainerHeader(kind)
        return id
    }

    private func writeContainerHeader(_ kind: ItemKind) {
        bytes.append(kind == .unkeyed ? WireTag.unkeyed.rawValue : WireTag.keyed.rawValue)
        bytes.append(contentsOf: repeatElement(0, count: 8))
    }

    private func patchContainer(start: Int, count: UInt32) {
        let bodyLength = bytes.count - start - WireLimits.containerHeaderSize
        // Frames are limited far below 4 GiB, and a larger body is caught there; clamp so a
        // bug cannot trap here.
        let length = UInt32(clamping: bodyLength)
        bytes.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: length.littleEndian, toByteOffset: start + 1, as: UInt32.self)
            raw.storeBytes(of: count.littleEndian, toByteOffset: start + 5, as: UInt32.self)
        }
    }

    // MARK: Values

    /// Encodes a nested value at the current position, with `keys` appended to the coding path.
    func encodeNested<T: Encodable>(_ value: T, keys: [any CodingKey], key: (any CodingKey)?) throws {
        let depth = codingPath.count
        codingPath.append(contentsOf: keys)
        if let key { codingPath.append(key) }
        nesting += 1
        defer {
            codingPath.removeSubrange(depth...)
            nesting -= 1
        }
        if canonical, let unordered = value as? any UnorderedCollection {
            try encodeCanonicalForm(of: unordered)
            return
        }
        if ObjectIdentifier(T.self) != lastUnpackedType {
            if let array = value as? any ArrayFastPath {
                if try array.encodeFast(into: self, keys: []) { return }
            } else {
                lastUnpackedType = ObjectIdentifier(T.self)
            }
        }
        let slot = try openSlot()
        try value.encode(to: SlotEncoder(state: self, slot: slot, depth: codingPath.count))
        closeThrough(slot)
        if let deferredError { throw deferredError }
    }
}
