//! Redis's glob matcher (util.c stringmatchlen), byte-exact: `*`, `?`, `[abc]`, `[^a]`,
//! `[a-c]`, and `\` escapes. Used by KEYS, SCAN MATCH and CONFIG GET.

/// True if `string` matches `pattern` (case-sensitive unless `nocase`).
pub fn glob_match(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    // Placeholder until the keys group lands: exact match or a lone '*'.
    let _ = nocase;
    pattern == b"*" || pattern == string
}
