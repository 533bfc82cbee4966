/// The form a secret takes in output unless the user asks for secrets in full:
/// a short prefix (enough to tell `ghp_` from `AKIA`) and an ellipsis.
public func redact(_ secret: String) -> String {
    let characters = Array(secret)
    let keep = min(6, characters.count / 5)
    return String(characters.prefix(keep)) + "…"
}
