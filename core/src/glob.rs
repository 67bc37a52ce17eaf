//! Redis's glob matcher (util.c `stringmatchlen`, as in Redis 7.0.15), byte-exact: `*`, `?`,
//! `[abc]`, `[^a]`, `[a-c]`, and `\` escapes. Used by KEYS, SCAN MATCH and CONFIG GET.
//!
//! Ported quirk for quirk, because KEYS/SCAN results must match Redis's byte for byte:
//! - consecutive stars collapse; a pattern that is only stars does not match the empty string
//!   (the main loop never runs), which is why KEYS and SCAN special-case a lone `*`;
//! - an unterminated class (`[abc`) is closed by the end of the pattern, so `[abc` matches one
//!   of a, b, c and `[^` matches any single byte, while a lone `[` never matches;
//! - ranges compare C `char`s, which are signed on the platforms Redis ships for, so a range
//!   with a byte ≥ 0x80 spans the negative values (`[a-\xff]` matches 0x00..=b'a' and 0xff);
//!   reversed ranges (`[c-a]`) are swapped; `nocase` lowercases ASCII letters only (C locale);
//! - a trailing `\` matches itself; inside a class `\x` matches `x` exactly (even with nocase);
//! - C reads past the pattern's end hit the sds NUL terminator: here [`at`] returns 0 there.
//!
//! Redis's two guards against pathological patterns are ported too: `skipLongerMatches` (once
//! the rest of a pattern after a `*` fails at every position, no earlier `*` can help, so the
//! whole match fails at once: matching is polynomial, not exponential) and the recursion
//! limit (more than 1000 nested `*` never match).

/// The byte at `i`, or 0 past the end (C reads the sds NUL terminator there).
#[inline]
fn at(s: &[u8], i: usize) -> u8 {
    s.get(i).copied().unwrap_or(0)
}

/// C's `tolower` in the C locale, on a `char` promoted to `int`.
#[inline]
fn lower(c: i32) -> i32 {
    if (b'A' as i32..=b'Z' as i32).contains(&c) {
        c + 32
    } else {
        c
    }
}

/// A byte as a signed C `char` promoted to `int`.
#[inline]
fn schar(b: u8) -> i32 {
    b as i8 as i32
}

/// True if `string` matches `pattern` (case-sensitive unless `nocase`).
pub fn glob_match(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    let mut skip_longer = false;
    match_impl(pattern, string, nocase, &mut skip_longer, 0)
}

/// `stringmatchlen_impl`: `pat` and `s` are always suffixes of the original pattern and string,
/// so reading past their ends reads the original's terminator, as in C.
fn match_impl(pat: &[u8], s: &[u8], nocase: bool, skip_longer: &mut bool, nesting: u32) -> bool {
    // Protection against abusive patterns (Redis 7.0.9+).
    if nesting > 1000 {
        return false;
    }
    // `p`/`si` are the C pointers as offsets; `plen`/`slen` the remaining lengths. `p` can
    // step back by one inside a class, never below 0.
    let mut p = 0usize;
    let mut plen = pat.len();
    let mut si = 0usize;
    let mut slen = s.len();
    while plen > 0 && slen > 0 {
        match pat[p] {
            b'*' => {
                while plen > 0 && at(pat, p + 1) == b'*' {
                    p += 1;
                    plen -= 1;
                }
                if plen == 1 {
                    return true;
                }
                while slen > 0 {
                    if match_impl(&pat[p + 1..], &s[si..], nocase, skip_longer, nesting + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    si += 1;
                    slen -= 1;
                }
                // The rest of the pattern matched nowhere in the rest of the string: a longer
                // match for an earlier star cannot help either.
                *skip_longer = true;
                return false;
            }
            b'?' => {
                si += 1;
                slen -= 1;
            }
            b'[' => {
                p += 1;
                plen -= 1;
                let not = at(pat, p) == b'^';
                if not {
                    p += 1;
                    plen -= 1;
                }
                let c0 = s[si];
                let mut matched = false;
                loop {
                    let pc = at(pat, p);
                    if pc == b'\\' && plen >= 2 {
                        p += 1;
                        plen -= 1;
                        if at(pat, p) == c0 {
                            matched = true;
                        }
                    } else if pc == b']' {
                        break;
                    } else if plen == 0 {
                        // Unterminated class: step back onto its last byte, which the
                        // increment after the switch consumes.
                        p -= 1;
                        plen += 1;
                        break;
                    } else if plen >= 3 && at(pat, p + 1) == b'-' {
                        let mut start = schar(pc);
                        let mut end = schar(at(pat, p + 2));
                        let mut c = schar(c0);
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        if nocase {
                            start = lower(start);
                            end = lower(end);
                            c = lower(c);
                        }
                        p += 2;
                        plen -= 2;
                        if c >= start && c <= end {
                            matched = true;
                        }
                    } else if !nocase {
                        if pc == c0 {
                            matched = true;
                        }
                    } else if lower(schar(pc)) == lower(schar(c0)) {
                        matched = true;
                    }
                    p += 1;
                    plen -= 1;
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                si += 1;
                slen -= 1;
            }
            first => {
                let mut pc = first;
                if first == b'\\' && plen >= 2 {
                    p += 1;
                    plen -= 1;
                    pc = pat[p];
                }
                let c = s[si];
                let same = if nocase {
                    lower(schar(pc)) == lower(schar(c))
                } else {
                    pc == c
                };
                if !same {
                    return false;
                }
                si += 1;
                slen -= 1;
            }
        }
        p += 1;
        plen -= 1;
        if slen == 0 {
            while at(pat, p) == b'*' {
                p += 1;
                plen -= 1;
            }
            break;
        }
    }
    plen == 0 && slen == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn matches_like_redis() {
        let cases: &[(&[u8], &[u8], bool)] = &[
            // (pattern, string, matches): recorded with KEYS on redis-server 7.0.15
            (b"**", b"", false),
            (b"*", b"x", true),
            (b"a*", b"a", true),
            (b"a**b", b"ab", true),
            (b"a*b", b"axxb", true),
            (b"a*b", b"axxbc", false),
            (b"?", b"", false),
            (b"?", b"a", true),
            (b"??", b"a", false),
            (b"a?c", b"abc", true),
            (b"[", b"[", false),
            (b"[", b"a", false),
            (b"[a", b"a", true),
            (b"[abc", b"c", true),
            (b"[abc", b"d", false),
            (b"[^", b"x", true),
            (b"[^", b"^", true),
            (b"[^a]", b"a", false),
            (b"[^a]", b"b", true),
            (b"[a-c]", b"b", true),
            (b"[c-a]", b"b", true),
            (b"[c-a]", b"d", false),
            (b"[a-]", b"-", false),
            (b"[a-]", b"b", false),
            (b"[-a]", b"-", true),
            (b"[]]", b"]", false),
            (b"[]", b"]", false),
            (b"[]a]", b"a", false),
            (b"[\\]]", b"]", true),
            (b"[\\", b"\\", true),
            (b"[a\\", b"\\", true),
            (b"[\\-]", b"-", true),
            (b"[a\\-c]", b"b", false),
            (b"\\", b"\\", true),
            (b"\\*", b"*", true),
            (b"\\*", b"a", false),
            (b"a\\", b"a\\", true),
            (b"\\a", b"a", true),
            (b"[a-\xff]", b"\xff", true),
            (b"[a-\xff]", b"\x80", false),
            (b"[a-\xff]", b"\x00", true),
            (b"[a-\xff]", b"b", false),
            (b"[\x80-\xff]", b"\x90", true),
            (b"[\x80-\xff]", b"a", false),
            (b"[A-Z]", b"a", false),
            (b"[^\\]]", b"]", false),
            (b"x[", b"x", false),
            (b"*[", b"ab", false),
            (b"a*", b"", false),
            (b"[a-c-e]", b"-", true),
            (b"[a-c-e]", b"d", false),
            (b"[a-c-e]", b"e", true),
            (b"[^a-c]", b"d", true),
            (b"*?", b"a", true),
            (b"*?*", b"", false),
            (b"[[]", b"[", true),
            (b"[*]", b"x", false),
            (b"[?]", b"?", true),
            (b"a[", b"a[", false),
            (b"[ab]*", b"b123", true),
            (b"h?llo", b"hallo", true),
            (b"\x00", b"\x00", true),
            (b"[\x00]", b"\x00", true),
            (b"*\x00", b"a\x00", true),
            (b"[^]", b"a", true),
            (b"[^]", b"]", true),
        ];
        for &(p, s, want) in cases {
            assert_eq!(glob_match(p, s, false), want, "{p:?} vs {s:?}");
        }
    }

    #[test]
    fn nocase_like_config_get() {
        // Recorded with CONFIG GET (which matches with nocase) on redis-server 7.0.15.
        let cases: &[(&[u8], bool)] = &[
            (b"MAXMEMORY", true),
            (b"[L-M]AXMEMORY", true),
            (b"[l-m]axmemory", true),
            (b"[^M]axmemory", false),
            (b"[M]axmemory", true),
            (b"[\\M]axmemory", false),
            (b"[^\\M]axmemory", true),
            (b"[a-\xff]axmemory", false),
            (b"[\x4d-\x4e]axmemory", true),
        ];
        for &(p, want) in cases {
            assert_eq!(glob_match(p, b"maxmemory", true), want, "{p:?}");
        }
        assert!(!glob_match(b"MAXMEMORY", b"maxmemory", false));
    }

    #[test]
    fn nesting_limit() {
        // Redis 7.0.15: KEYS with 1000 `*a` matches a 1100-byte run of `a`, 1001 does not.
        let s = vec![b'a'; 1100];
        assert!(glob_match(&b"*a".repeat(1000), &s, false));
        assert!(!glob_match(&b"*a".repeat(1001), &s, false));
    }

    #[test]
    fn no_exponential_blowup() {
        // Without skipLongerMatches this is exponential in the number of stars.
        let s = vec![b'a'; 5000];
        let mut p = b"a*".repeat(200);
        p.push(b'b');
        assert!(!glob_match(&p, &s, false));
        let mut p = b"*a".repeat(40);
        p.extend_from_slice(b"*b");
        assert!(!glob_match(&p, &s, false));
    }

    /// Textbook glob over `*`, `?` and literals (exponential, no guards), plus Redis's rule
    /// that only the empty pattern matches the empty string (its main loop never runs).
    fn reference(pat: &[u8], s: &[u8]) -> bool {
        fn glob(p: &[u8], s: &[u8]) -> bool {
            match (p.first(), s.first()) {
                (None, _) => s.is_empty(),
                (Some(b'*'), _) => glob(&p[1..], s) || (!s.is_empty() && glob(p, &s[1..])),
                (Some(_), None) => false,
                (Some(&c), Some(&d)) => (c == b'?' || c == d) && glob(&p[1..], &s[1..]),
            }
        }
        if s.is_empty() {
            pat.is_empty()
        } else {
            glob(pat, s)
        }
    }

    proptest! {
        #[test]
        fn guards_do_not_change_results(
            pat in proptest::collection::vec(prop_oneof![Just(b'*'), Just(b'a'), Just(b'b'), Just(b'?')], 0..10),
            s in proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b')], 0..10),
        ) {
            prop_assert_eq!(glob_match(&pat, &s, false), reference(&pat, &s));
        }

        #[test]
        fn never_panics(pat in proptest::collection::vec(any::<u8>(), 0..24), s in proptest::collection::vec(any::<u8>(), 0..24), nocase in any::<bool>()) {
            let _ = glob_match(&pat, &s, nocase);
        }
    }
}
