// An error message quotes what the user passed so they can see what was wrong, but a name of
// 100,000 characters quoted twice buries the message. Echoed user
// strings are cut to a readable length and say how long they really were.

/// Shortens user-supplied text before an error message quotes it.
package enum EchoedText {
    /// Characters kept from the start of a long string.
    package static let keptCharacters = 80

    /// `text` itself when it has at most `keptCharacters` characters; otherwise its first
    /// `keptCharacters` characters followed by "… (N characters)".
    /// - Complexity: O(`keptCharacters`) plus one count of `text`'s characters when it is longer.
    package static func shortened(_ text: String) -> String {
        guard let cut = text.index(text.startIndex, offsetBy: keptCharacters, limitedBy: text.endIndex),
            cut != text.endIndex
        else { return text }
        return "\(text[..<cut])… (\(text.count) characters)"
    }
}
