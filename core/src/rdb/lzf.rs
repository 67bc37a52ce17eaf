//! LZF (liblzf 3.6, as vendored by Redis: HLOG 16, VERY_FAST), compress and decompress.
//!
//! The compressor follows lzf_c.c step by step so that, for the same input, it finds the same
//! matches as Redis and its output (and so a DUMP payload) is the same bytes. Redis leaves its
//! hash table uninitialised; here a generation stamp makes every slot start empty without
//! clearing 256 KB per string (an empty slot behaves like Redis's `ref == in_data`, which
//! never matches).
//!
//! Format: `000LLLLL` + L+1 literal bytes; `LLLooooo oooooooo` a back reference of L+2 bytes
//! at offset o+1; `111ooooo LLLLLLLL oooooooo` one of L+9 bytes.

const HLOG: u32 = 16;
const HSIZE: usize = 1 << HLOG;
const MAX_LIT: usize = 1 << 5;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);

/// A compressor with its reusable hash table.
pub struct Lzf {
    /// (generation << 32) | position.
    table: Vec<u64>,
    generation: u32,
}

impl Default for Lzf {
    fn default() -> Self {
        Lzf::new()
    }
}

#[inline]
fn idx(h: u32) -> usize {
    ((h >> (3 * 8 - HLOG)).wrapping_sub(h.wrapping_mul(5)) as usize) & (HSIZE - 1)
}

impl Lzf {
    pub fn new() -> Lzf {
        Lzf {
            table: Vec::new(),
            generation: 0,
        }
    }

    /// lzf_compress(input, out_len): the compressed bytes, or None if they would not fit in
    /// `out_len` bytes (Redis asks for at most len - 4).
    pub fn compress(&mut self, input: &[u8], out_len: usize) -> Option<Vec<u8>> {
        let in_len = input.len();
        if in_len == 0 || out_len == 0 || in_len > u32::MAX as usize {
            return None;
        }
        if self.table.is_empty() {
            self.table = vec![0; HSIZE];
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.table.iter_mut().for_each(|s| *s = 0);
            self.generation = 1;
        }
        let gen = u64::from(self.generation) << 32;
        let table = &mut self.table;
        let mut out: Vec<u8> = vec![0; out_len];
        let mut op: usize = 0;
        let mut ip: usize = 0;
        let mut lit: usize = 0;
        op += 1; // start run
        let frst = |p: usize| (u32::from(input[p]) << 8) | u32::from(input[p + 1]);
        let next = |v: u32, p: usize| (v << 8) | u32::from(input[p + 2]);
        let mut hval = if in_len >= 2 { frst(0) } else { 0 };
        while in_len >= 3 && ip < in_len - 2 {
            hval = next(hval, ip);
            let slot = idx(hval);
            let entry = table[slot];
            table[slot] = gen | ip as u64;
            // An empty slot is `in_data` in Redis: `ref > in_data` fails.
            let r = if entry >> 32 == u64::from(self.generation) {
                (entry & 0xffff_ffff) as usize
            } else {
                0
            };
            let matched = r > 0
                && r < ip
                && ip - r - 1 < MAX_OFF
                && ip + 4 < in_len
                && input[r] == input[ip]
                && input[r + 1] == input[ip + 1]
                && input[r + 2] == input[ip + 2];
            if matched {
                let off = ip - r - 1;
                let mut len: usize = 2;
                let maxlen = (in_len - ip - len).min(MAX_REF);
                // lzf_c.c tests the room before it touches `out`: a literal run that just
                // ended at the buffer's end leaves `op` one past it.
                if op - usize::from(lit == 0) + 3 + 1 >= out_len {
                    return None;
                }
                out[op - lit - 1] = (lit as u8).wrapping_sub(1); // stop run
                if lit == 0 {
                    op -= 1; // undo run if length is zero
                }
                // lzf_c.c's loop, unrolled part included: it may overrun `maxlen` by up to
                // two octets (still inside the input), and matching that keeps the output
                // identical.
                let mut done = false;
                if maxlen > 16 {
                    for _ in 0..16 {
                        len += 1;
                        if input[r + len] != input[ip + len] {
                            done = true;
                            break;
                        }
                    }
                }
                if !done {
                    loop {
                        len += 1;
                        if !(len < maxlen && input[r + len] == input[ip + len]) {
                            break;
                        }
                    }
                }
                len -= 2; // len is now #octets - 1
                ip += 1;
                if len < 7 {
                    out[op] = ((off >> 8) + (len << 5)) as u8;
                    op += 1;
                } else {
                    out[op] = ((off >> 8) + (7 << 5)) as u8;
                    out[op + 1] = (len - 7) as u8;
                    op += 2;
                }
                out[op] = off as u8;
                op += 1;
                lit = 0;
                op += 1; // start run
                ip += len + 1;
                if ip >= in_len - 2 {
                    break;
                }
                // VERY_FAST: re-hash the last two positions of the match.
                ip -= 2;
                hval = frst(ip);
                hval = next(hval, ip);
                table[idx(hval)] = gen | ip as u64;
                ip += 1;
                hval = next(hval, ip);
                table[idx(hval)] = gen | ip as u64;
                ip += 1;
            } else {
                if op >= out_len {
                    return None;
                }
                lit += 1;
                out[op] = input[ip];
                op += 1;
                ip += 1;
                if lit == MAX_LIT {
                    out[op - lit - 1] = (lit - 1) as u8;
                    lit = 0;
                    op += 1;
                }
            }
        }
        if op + 3 > out_len {
            return None;
        }
        while ip < in_len {
            lit += 1;
            out[op] = input[ip];
            op += 1;
            ip += 1;
            if lit == MAX_LIT {
                out[op - lit - 1] = (lit - 1) as u8;
                lit = 0;
                op += 1;
            }
        }
        out[op - lit - 1] = (lit as u8).wrapping_sub(1); // end run
        if lit == 0 {
            op -= 1;
        }
        out.truncate(op);
        Some(out)
    }
}

/// lzf_decompress into exactly `out_len` bytes; None on corrupt input or a size mismatch.
pub fn decompress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(out_len);
    let mut ip = 0;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < (1 << 5) {
            let n = ctrl + 1;
            let lit = input.get(ip..ip + n)?;
            if out.len() + n > out_len {
                return None;
            }
            out.extend_from_slice(lit);
            ip += n;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(ip)? as usize;
                ip += 1;
            }
            let back = ((ctrl & 0x1f) << 8) + *input.get(ip)? as usize + 1;
            ip += 1;
            let n = len + 2;
            if back > out.len() || out.len() + n > out_len {
                return None;
            }
            let start = out.len() - back;
            for k in 0..n {
                let b = out[start + k];
                out.push(b);
            }
        }
    }
    (out.len() == out_len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_full_buffer_ends_compression_without_overrunning_it() {
        // A literal run that ends exactly at the buffer's end, then a match: lzf_c.c gives up
        // there (this indexed one past the buffer before).
        let input = b"bcdcacabaabcdebcbedcdadbbceebecaedcbe";
        assert_eq!(Lzf::new().compress(input, input.len() - 4), None);
    }

    #[test]
    fn compresses_repetitive_text() {
        let mut z = Lzf::new();
        let input = b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".repeat(4);
        let c = z.compress(&input, input.len() - 4).expect("compressible");
        assert!(c.len() < 20, "{}", c.len());
        assert_eq!(decompress(&c, input.len()).unwrap(), input);
        // Incompressible input does not fit in len - 4.
        let noise: Vec<u8> = (0..100u32)
            .map(|i| (i.wrapping_mul(2654435761u32) >> 13) as u8)
            .collect();
        assert!(z.compress(&noise, noise.len() - 4).is_none());
    }

    #[test]
    fn matches_redis_output() {
        // DUMP of a string of 50 'a' on Redis 7.0.15: c3 09 32 then these 9 bytes.
        let mut z = Lzf::new();
        let input = vec![b'a'; 50];
        let c = z.compress(&input, 46).unwrap();
        assert_eq!(c, [0x01, b'a', b'a', 0xe0, 0x25, 0x00, 0x01, b'a', b'a']);
        assert_eq!(decompress(&c, 50).unwrap(), input);
    }

    #[test]
    fn corrupt_input_is_refused() {
        assert!(decompress(&[0x20, 0x00], 10).is_none()); // back reference before start
        assert!(decompress(&[0x05, b'a'], 6).is_none()); // short literal
        assert!(decompress(&[0x00, b'a'], 2).is_none()); // wrong length
    }

    proptest! {
        #[test]
        fn round_trip(data in proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), any::<u8>()], 0..3000)) {
            let mut z = Lzf::new();
            if let Some(c) = z.compress(&data, data.len() + 64) {
                prop_assert_eq!(decompress(&c, data.len()).unwrap(), data.clone());
            } else {
                prop_assert!(data.is_empty());
            }
        }
    }
}
