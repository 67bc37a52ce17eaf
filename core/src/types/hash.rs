//! PLACEHOLDER (the hashes helper replaces this file): the hash value.
//! Interface other code relies on: `len`, `get(field)`, `iter` (field, value), `encoding`
//! ("listpack" / "hashtable").

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Hash {
    pairs: Vec<(super::CompactBytes, super::CompactBytes)>,
}

impl Hash {
    pub fn len(&self) -> usize {
        self.pairs.len()
    }
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        self.pairs
            .iter()
            .find(|(f, _)| f.as_bytes() == field)
            .map(|(_, v)| v.as_bytes())
    }
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.pairs.iter().map(|(f, v)| (f.as_bytes(), v.as_bytes()))
    }
    pub fn encoding(&self) -> &'static str {
        "listpack"
    }
}
