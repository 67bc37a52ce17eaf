//! PLACEHOLDER (the sets helper replaces this file): the set value.
//! Interface other code relies on: `len`, `contains(member)`, `members()` (owned bytes; intset
//! members formatted as decimal), `encoding` ("intset" / "hashtable").

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Set {
    members: Vec<super::CompactBytes>,
}

impl Set {
    pub fn len(&self) -> usize {
        self.members.len()
    }
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
    pub fn contains(&self, member: &[u8]) -> bool {
        self.members.iter().any(|m| m.as_bytes() == member)
    }
    pub fn members(&self) -> Vec<Vec<u8>> {
        self.members.iter().map(|m| m.to_vec()).collect()
    }
    pub fn encoding(&self) -> &'static str {
        "hashtable"
    }
}
