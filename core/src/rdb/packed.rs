//! The packed blobs Redis stores inside RDB strings: listpack (7.0), ziplist and zipmap (older
//! files), intset. Encoders write exactly what Redis writes; decoders validate every length
//! against the blob and return an error instead of reading out of bounds.

use crate::types::listpack::{backlen_size, lp_entry, push_backlen};

pub type Result<T> = std::result::Result<T, String>;

/// One listpack/ziplist element: Redis stores integers natively.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Elem {
    Int(i64),
    Str(Vec<u8>),
}

impl Elem {
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Elem::Int(n) => itoa::Buffer::new().format(n).as_bytes().to_vec(),
            Elem::Str(s) => s,
        }
    }
}

// ---------------------------------------------------------------- listpack

/// A listpack under construction (lpNew + lpAppend).
pub struct ListpackWriter {
    buf: Vec<u8>,
    count: usize,
}

impl Default for ListpackWriter {
    fn default() -> Self {
        ListpackWriter::new()
    }
}

impl ListpackWriter {
    pub fn new() -> ListpackWriter {
        ListpackWriter {
            buf: vec![0, 0, 0, 0, 0, 0],
            count: 0,
        }
    }

    pub fn push(&mut self, s: &[u8]) {
        let start = self.buf.len();
        lp_entry(s, &mut self.buf);
        let l = self.buf.len() - start;
        push_backlen(&mut self.buf, l);
        self.count += 1;
    }

    /// Bytes the finished listpack will have.
    pub fn bytes(&self) -> usize {
        self.buf.len() + 1
    }

    /// What one more element of `s` would add (quicklist's node-size rule).
    pub fn entry_size(s: &[u8]) -> usize {
        let mut tmp = Vec::new();
        lp_entry(s, &mut tmp);
        tmp.len() + backlen_size(tmp.len())
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(0xff);
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let n = if self.count < 65535 {
            self.count as u16
        } else {
            65535
        };
        self.buf[4..6].copy_from_slice(&n.to_le_bytes());
        self.buf
    }
}

fn get(b: &[u8], from: usize, n: usize) -> Result<&[u8]> {
    b.get(from..from.checked_add(n).ok_or("length overflow")?)
        .ok_or_else(|| "entry runs past the end of the blob".to_string())
}

fn le_int(b: &[u8]) -> i64 {
    let mut w = [0u8; 8];
    w[..b.len()].copy_from_slice(b);
    let shift = 64 - 8 * b.len() as u32;
    (i64::from_le_bytes(w) << shift) >> shift
}

/// Every element of a listpack blob, validated (lpValidateIntegrity).
pub fn listpack_entries(b: &[u8]) -> Result<Vec<Elem>> {
    if b.len() < 7 {
        return Err("listpack too short".into());
    }
    let total = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    if total != b.len() {
        return Err("listpack header size does not match its blob".into());
    }
    let declared = u16::from_le_bytes([b[4], b[5]]);
    let mut p = 6;
    let mut out = Vec::new();
    loop {
        let Some(&c) = b.get(p) else {
            return Err("listpack without terminator".into());
        };
        if c == 0xff {
            if p + 1 != b.len() {
                return Err("listpack terminator before its end".into());
            }
            break;
        }
        let (elem, len) = if c & 0x80 == 0 {
            (Elem::Int(i64::from(c)), 1)
        } else if c & 0xc0 == 0x80 {
            let n = (c & 0x3f) as usize;
            (Elem::Str(get(b, p + 1, n)?.to_vec()), 1 + n)
        } else if c & 0xe0 == 0xc0 {
            let lo = *get(b, p + 1, 1)?.first().unwrap_or(&0);
            let u = (u16::from(c & 0x1f) << 8) | u16::from(lo);
            let v = if u >= 1 << 12 {
                i64::from(u) - (1 << 13)
            } else {
                i64::from(u)
            };
            (Elem::Int(v), 2)
        } else if c & 0xf0 == 0xe0 {
            let lo = *get(b, p + 1, 1)?.first().unwrap_or(&0);
            let n = (((c & 0x0f) as usize) << 8) | lo as usize;
            (Elem::Str(get(b, p + 2, n)?.to_vec()), 2 + n)
        } else {
            match c {
                0xf0 => {
                    let l = get(b, p + 1, 4)?;
                    let n = u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize;
                    (Elem::Str(get(b, p + 5, n)?.to_vec()), 5 + n)
                }
                0xf1 => (Elem::Int(le_int(get(b, p + 1, 2)?)), 3),
                0xf2 => (Elem::Int(le_int(get(b, p + 1, 3)?)), 4),
                0xf3 => (Elem::Int(le_int(get(b, p + 1, 4)?)), 5),
                0xf4 => (Elem::Int(le_int(get(b, p + 1, 8)?)), 9),
                _ => return Err(format!("invalid listpack entry encoding 0x{c:02x}")),
            }
        };
        let bl = backlen_size(len);
        let back = get(b, p + len, bl)?;
        let mut expect = Vec::with_capacity(5);
        push_backlen(&mut expect, len);
        if back != expect.as_slice() {
            return Err("listpack entry back-length mismatch".into());
        }
        p += len + bl;
        out.push(elem);
    }
    if declared != 65535 && declared as usize != out.len() {
        return Err("listpack element count mismatch".into());
    }
    Ok(out)
}

// ---------------------------------------------------------------- ziplist (RDB < 10)

/// Every element of a ziplist blob, validated.
pub fn ziplist_entries(b: &[u8]) -> Result<Vec<Elem>> {
    if b.len() < 11 {
        return Err("ziplist too short".into());
    }
    let total = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    if total != b.len() {
        return Err("ziplist header size does not match its blob".into());
    }
    let declared = u16::from_le_bytes([b[8], b[9]]);
    let mut p = 10;
    let mut out = Vec::new();
    let mut prev_len = 0usize;
    loop {
        let Some(&c) = b.get(p) else {
            return Err("ziplist without terminator".into());
        };
        if c == 0xff {
            if p + 1 != b.len() {
                return Err("ziplist terminator before its end".into());
            }
            break;
        }
        let start = p;
        let prevlen = if c < 254 {
            p += 1;
            c as usize
        } else {
            let l = get(b, p + 1, 4)?;
            p += 5;
            u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize
        };
        if prevlen != prev_len {
            return Err("ziplist entry prevlen mismatch".into());
        }
        let e = *get(b, p, 1)?.first().unwrap_or(&0);
        let elem = match e >> 6 {
            0 => {
                let n = (e & 0x3f) as usize;
                let s = get(b, p + 1, n)?.to_vec();
                p += 1 + n;
                Elem::Str(s)
            }
            1 => {
                let lo = get(b, p + 1, 1)?[0];
                let n = (((e & 0x3f) as usize) << 8) | lo as usize;
                let s = get(b, p + 2, n)?.to_vec();
                p += 2 + n;
                Elem::Str(s)
            }
            2 => {
                if e != 0x80 {
                    return Err(format!("invalid ziplist encoding 0x{e:02x}"));
                }
                let l = get(b, p + 1, 4)?;
                let n = u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize;
                let s = get(b, p + 5, n)?.to_vec();
                p += 5 + n;
                Elem::Str(s)
            }
            _ => {
                let (v, n) = match e {
                    0xc0 => (le_int(get(b, p + 1, 2)?), 2),
                    0xd0 => (le_int(get(b, p + 1, 4)?), 4),
                    0xe0 => (le_int(get(b, p + 1, 8)?), 8),
                    0xf0 => (le_int(get(b, p + 1, 3)?), 3),
                    0xfe => (le_int(get(b, p + 1, 1)?), 1),
                    0xf1..=0xfd => (i64::from(e & 0x0f) - 1, 0),
                    _ => return Err(format!("invalid ziplist encoding 0x{e:02x}")),
                };
                p += 1 + n;
                Elem::Int(v)
            }
        };
        prev_len = p - start;
        out.push(elem);
    }
    if declared != 65535 && declared as usize != out.len() {
        return Err("ziplist element count mismatch".into());
    }
    Ok(out)
}

// ---------------------------------------------------------------- zipmap (RDB < 4 hashes)

/// The field/value pairs of a zipmap blob.
pub fn zipmap_pairs(b: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut p = 1; // zmlen
    let mut out = Vec::new();
    let read_len = |p: &mut usize| -> Result<Option<usize>> {
        let c = *b.get(*p).ok_or("zipmap without terminator")?;
        match c {
            255 => Ok(None),
            254 => {
                let l = get(b, *p + 1, 4)?;
                *p += 5;
                Ok(Some(u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize))
            }
            n => {
                *p += 1;
                Ok(Some(n as usize))
            }
        }
    };
    loop {
        let Some(klen) = read_len(&mut p)? else {
            if p + 1 != b.len() {
                return Err("zipmap terminator before its end".into());
            }
            break;
        };
        let k = get(b, p, klen)?.to_vec();
        p += klen;
        let vlen = read_len(&mut p)?.ok_or("zipmap key without value")?;
        let free = *b.get(p).ok_or("zipmap truncated")? as usize;
        p += 1;
        let v = get(b, p, vlen)?.to_vec();
        p += vlen + free;
        out.push((k, v));
    }
    Ok(out)
}

// ---------------------------------------------------------------- intset

/// Redis's intset blob for sorted, distinct `values` at the narrowest width holding them.
pub fn intset_blob(values: &[i64]) -> Vec<u8> {
    let width: usize = if values
        .iter()
        .all(|&v| (i64::from(i16::MIN)..=i64::from(i16::MAX)).contains(&v))
    {
        2
    } else if values
        .iter()
        .all(|&v| (i64::from(i32::MIN)..=i64::from(i32::MAX)).contains(&v))
    {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + width * values.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(values.len() as u32).to_le_bytes());
    for &v in values {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

/// The integers of an intset blob, validated (width, size, sorted and distinct).
pub fn intset_values(b: &[u8]) -> Result<Vec<i64>> {
    if b.len() < 8 {
        return Err("intset too short".into());
    }
    let width = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let n = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize;
    if !matches!(width, 2 | 4 | 8) {
        return Err("invalid intset encoding".into());
    }
    if n.checked_mul(width).and_then(|x| x.checked_add(8)) != Some(b.len()) {
        return Err("intset size does not match its blob".into());
    }
    let vals: Vec<i64> = b[8..].chunks_exact(width).map(le_int).collect();
    if vals.windows(2).any(|w| w[0] >= w[1]) {
        return Err("intset not sorted".into());
    }
    Ok(vals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_round_trip_every_encoding() {
        let items: Vec<Vec<u8>> = vec![
            b"0".to_vec(),
            b"127".to_vec(),
            b"-1".to_vec(),
            b"4095".to_vec(),
            b"-4096".to_vec(),
            b"30000".to_vec(),
            b"-8000000".to_vec(),
            b"2000000000".to_vec(),
            b"9223372036854775807".to_vec(),
            b"-9223372036854775808".to_vec(),
            b"007".to_vec(),
            b"".to_vec(),
            vec![b'x'; 63],
            vec![b'y'; 64],
            vec![b'z'; 4095],
            vec![b'w'; 4096],
            vec![b'v'; 70000],
        ];
        let mut w = ListpackWriter::new();
        for i in &items {
            w.push(i);
        }
        let blob = w.finish();
        let back: Vec<Vec<u8>> = listpack_entries(&blob)
            .unwrap()
            .into_iter()
            .map(Elem::into_bytes)
            .collect();
        assert_eq!(back, items);
        // Truncations never panic and are refused.
        for cut in 0..blob.len().min(200) {
            assert!(listpack_entries(&blob[..cut]).is_err());
        }
    }

    #[test]
    fn listpack_bytes() {
        let mut w = ListpackWriter::new();
        w.push(b"a");
        w.push(b"1");
        assert_eq!(
            w.finish(),
            [12, 0, 0, 0, 2, 0, 0x81, b'a', 2, 0x01, 1, 0xff]
        );
    }

    #[test]
    fn intset_round_trip() {
        for vals in [
            vec![1i64, 2, 3],
            vec![-70000, 5],
            vec![i64::MIN, 0, i64::MAX],
        ] {
            assert_eq!(intset_values(&intset_blob(&vals)).unwrap(), vals);
        }
        assert!(intset_values(&[2, 0, 0, 0, 1, 0, 0, 0]).is_err());
    }
}
