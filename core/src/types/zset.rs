//! PLACEHOLDER (the sorted-sets helper replaces this file): the sorted set value.
//! Interface other code relies on: `len`, `score(member)`, `iter` (member, score) in rank order,
//! `encoding` ("listpack" / "skiplist").

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ZSet {
    items: Vec<(super::CompactBytes, f64)>,
}

impl ZSet {
    pub fn len(&self) -> usize {
        self.items.len()
    }
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.items
            .iter()
            .find(|(m, _)| m.as_bytes() == member)
            .map(|(_, s)| *s)
    }
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], f64)> {
        self.items.iter().map(|(m, s)| (m.as_bytes(), *s))
    }
    pub fn encoding(&self) -> &'static str {
        "listpack"
    }
}
