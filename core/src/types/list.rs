//! PLACEHOLDER (the lists helper replaces this file): the list value.
//! Interface other code relies on: `len`, `iter` (front to back), `encoding` ("quicklist" in
//! Redis 7.0), `from_items`.

#[derive(Clone, Debug, Default, PartialEq)]
pub struct List {
    items: std::collections::VecDeque<super::CompactBytes>,
}

impl List {
    pub fn from_items<I: IntoIterator<Item = Vec<u8>>>(items: I) -> List {
        List {
            items: items
                .into_iter()
                .map(super::CompactBytes::from_vec)
                .collect(),
        }
    }
    pub fn len(&self) -> usize {
        self.items.len()
    }
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.items.iter().map(|b| b.as_bytes())
    }
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }
}
