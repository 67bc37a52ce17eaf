//! `OsTree`: an order-statistic AVL tree of (score, member) pairs, the ordered half of a
//! "skiplist"-encoded sorted set (Redis uses a skip list; a balanced tree with subtree sizes
//! gives the same O(log n) insert, delete, rank and select, deterministically).
//!
//! Nodes live in one arena (`Vec`) linked by `u32` indices, so a node costs no allocation of
//! its own and the tree stays compact; freed slots are reused. Order: by score, then by
//! member bytes (memcmp, shorter first on a common prefix), as Redis's zslInsert compares.
//! Scores are never NaN (the command layer refuses NaN), so the order is total.

use super::CompactBytes;
use std::cmp::Ordering;

const NIL: u32 = u32::MAX;

#[derive(Clone, Debug)]
struct Node {
    member: CompactBytes,
    score: f64,
    left: u32,
    right: u32,
    /// Nodes in this subtree, this one included.
    size: u32,
    height: u8,
}

/// The nodes from the root down to where an insert or removal works. An AVL tree of n nodes
/// is under 1.45 log2(n + 2) high: 64 covers every tree a u32 index can address.
struct Path {
    at: [u32; 64],
    len: usize,
}

impl Path {
    fn new() -> Path {
        Path {
            at: [NIL; 64],
            len: 0,
        }
    }

    fn push(&mut self, t: u32) {
        self.at[self.len] = t;
        self.len += 1;
    }

    fn last(&self) -> Option<u32> {
        self.len.checked_sub(1).map(|i| self.at[i])
    }
}

#[derive(Clone, Debug)]
pub struct OsTree {
    nodes: Vec<Node>,
    free: Vec<u32>,
    root: u32,
}

impl Default for OsTree {
    fn default() -> Self {
        OsTree::new()
    }
}

/// (score, member) order, Redis's zslInsert comparison.
pub fn cmp_entry(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    match s1.partial_cmp(&s2) {
        Some(Ordering::Equal) | None => m1.cmp(m2),
        Some(o) => o,
    }
}

impl OsTree {
    /// Bytes of the node array (members' heap bytes not included).
    pub fn memory_usage(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>() + self.free.capacity() * 4
    }

    pub fn new() -> OsTree {
        OsTree {
            nodes: Vec::new(),
            free: Vec::new(),
            root: NIL,
        }
    }

    pub fn len(&self) -> usize {
        self.size(self.root)
    }

    fn size(&self, t: u32) -> usize {
        if t == NIL {
            0
        } else {
            self.nodes[t as usize].size as usize
        }
    }

    fn height(&self, t: u32) -> u8 {
        if t == NIL {
            0
        } else {
            self.nodes[t as usize].height
        }
    }

    fn node(&self, t: u32) -> &Node {
        &self.nodes[t as usize]
    }

    fn update(&mut self, t: u32) {
        let (l, r) = (self.node(t).left, self.node(t).right);
        let size = 1 + self.size(l) + self.size(r);
        let height = 1 + self.height(l).max(self.height(r));
        let n = &mut self.nodes[t as usize];
        n.size = size as u32;
        n.height = height;
    }

    fn rotate_right(&mut self, t: u32) -> u32 {
        let l = self.node(t).left;
        self.nodes[t as usize].left = self.node(l).right;
        self.nodes[l as usize].right = t;
        self.update(t);
        self.update(l);
        l
    }

    fn rotate_left(&mut self, t: u32) -> u32 {
        let r = self.node(t).right;
        self.nodes[t as usize].right = self.node(r).left;
        self.nodes[r as usize].left = t;
        self.update(t);
        self.update(r);
        r
    }

    /// Restores the AVL property at `t` (children already balanced); returns the subtree root.
    fn rebalance(&mut self, t: u32) -> u32 {
        self.update(t);
        let (l, r) = (self.node(t).left, self.node(t).right);
        let (hl, hr) = (self.height(l), self.height(r));
        if hl > hr + 1 {
            if self.height(self.node(l).left) < self.height(self.node(l).right) {
                let nl = self.rotate_left(l);
                self.nodes[t as usize].left = nl;
            }
            self.rotate_right(t)
        } else if hr > hl + 1 {
            if self.height(self.node(r).right) < self.height(self.node(r).left) {
                let nr = self.rotate_right(r);
                self.nodes[t as usize].right = nr;
            }
            self.rotate_left(t)
        } else {
            t
        }
    }

    fn alloc(&mut self, member: CompactBytes, score: f64) -> u32 {
        let node = Node {
            member,
            score,
            left: NIL,
            right: NIL,
            size: 1,
            height: 1,
        };
        match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        }
    }

    fn release(&mut self, t: u32) -> CompactBytes {
        let n = &mut self.nodes[t as usize];
        let member = std::mem::replace(&mut n.member, CompactBytes::new(b""));
        self.free.push(t);
        member
    }

    /// Inserts a pair the caller knows is absent (Redis's zslInsert precondition).
    ///
    /// Iterative: the descent counts the new node into each ancestor's size, and the climb
    /// back stops as soon as a subtree keeps its height (after a rotation it always does), so
    /// most inserts touch only the nodes on the path, not their siblings.
    pub fn insert(&mut self, member: CompactBytes, score: f64) {
        let new = self.alloc(member, score);
        if self.root == NIL {
            self.root = new;
            return;
        }
        let mut path = Path::new();
        let mut t = self.root;
        loop {
            path.push(t);
            let less = {
                let (nw, n) = (self.node(new), self.node(t));
                cmp_entry(nw.score, nw.member.as_bytes(), n.score, n.member.as_bytes())
                    == Ordering::Less
            };
            let n = &mut self.nodes[t as usize];
            n.size += 1;
            let next = if less { n.left } else { n.right };
            if next == NIL {
                if less {
                    n.left = new;
                } else {
                    n.right = new;
                }
                break;
            }
            t = next;
        }
        self.climb(&path);
    }

    /// Rebalances the nodes of `path` (root first) from the bottom up, each already holding
    /// its final size, until one keeps the height it had.
    fn climb(&mut self, path: &Path) {
        for i in (0..path.len).rev() {
            let t = path.at[i];
            let before = self.node(t).height;
            let top = self.rebalance(t);
            if top != t {
                match i.checked_sub(1).map(|p| path.at[p]) {
                    None => self.root = top,
                    Some(p) if self.node(p).left == t => self.nodes[p as usize].left = top,
                    Some(p) => self.nodes[p as usize].right = top,
                }
            }
            if self.node(top).height == before {
                return;
            }
        }
    }

    /// Removes the pair; returns its member bytes if it was there.
    ///
    /// Iterative as `insert`: the descent finds the node, the ancestors' sizes drop by one,
    /// a node with two children is replaced by its successor, and the climb stops at the
    /// first subtree that keeps its height.
    pub fn remove(&mut self, score: f64, member: &[u8]) -> Option<CompactBytes> {
        let mut path = Path::new();
        let mut t = self.root;
        while t != NIL {
            let n = self.node(t);
            match cmp_entry(score, member, n.score, n.member.as_bytes()) {
                Ordering::Less => {
                    path.push(t);
                    t = n.left;
                }
                Ordering::Greater => {
                    path.push(t);
                    t = n.right;
                }
                Ordering::Equal => break,
            }
        }
        if t == NIL {
            return None;
        }
        let parent = path.last();
        for i in 0..path.len {
            self.nodes[path.at[i] as usize].size -= 1;
        }
        let (l, r, size, height) = {
            let n = self.node(t);
            (n.left, n.right, n.size, n.height)
        };
        let replacement = if l == NIL {
            r
        } else if r == NIL {
            l
        } else {
            // The successor (smallest of the right subtree) takes t's place with t's size
            // less one and t's height (right while the climb below it stops early); the climb
            // then runs from the successor's old parent up through it.
            let mut below = Path::new();
            let mut m = r;
            while self.node(m).left != NIL {
                below.push(m);
                self.nodes[m as usize].size -= 1;
                m = self.node(m).left;
            }
            if let Some(p) = below.last() {
                self.nodes[p as usize].left = self.node(m).right;
                self.nodes[m as usize].right = r;
            }
            let n = &mut self.nodes[m as usize];
            n.left = l;
            n.size = size - 1;
            n.height = height;
            path.push(m);
            for i in 0..below.len {
                path.push(below.at[i]);
            }
            m
        };
        match parent {
            None => self.root = replacement,
            Some(p) if self.node(p).left == t => self.nodes[p as usize].left = replacement,
            Some(p) => self.nodes[p as usize].right = replacement,
        }
        let m = self.release(t);
        if self.root == NIL {
            self.nodes.clear();
            self.free.clear();
        } else {
            self.climb(&path);
        }
        Some(m)
    }

    /// The 0-based rank of the pair, if present.
    pub fn rank(&self, score: f64, member: &[u8]) -> Option<usize> {
        let mut t = self.root;
        let mut before = 0;
        while t != NIL {
            let n = self.node(t);
            match cmp_entry(score, member, n.score, n.member.as_bytes()) {
                Ordering::Less => t = n.left,
                Ordering::Greater => {
                    before += self.size(n.left) + 1;
                    t = n.right;
                }
                Ordering::Equal => return Some(before + self.size(n.left)),
            }
        }
        None
    }

    /// The pair at 0-based rank `r`.
    pub fn select(&self, r: usize) -> Option<(&[u8], f64)> {
        let t = self.select_node(r)?;
        let n = self.node(t);
        Some((n.member.as_bytes(), n.score))
    }

    fn select_node(&self, mut r: usize) -> Option<u32> {
        let mut t = self.root;
        while t != NIL {
            let n = self.node(t);
            let ls = self.size(n.left);
            match r.cmp(&ls) {
                Ordering::Less => t = n.left,
                Ordering::Equal => return Some(t),
                Ordering::Greater => {
                    r -= ls + 1;
                    t = n.right;
                }
            }
        }
        None
    }

    /// How many pairs satisfy `pred`, which must hold for a prefix of the order (true, then
    /// false): the rank of the first pair failing it.
    pub fn partition_point(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        let mut t = self.root;
        let mut count = 0;
        while t != NIL {
            let n = self.node(t);
            if pred(n.score, n.member.as_bytes()) {
                count += self.size(n.left) + 1;
                t = n.right;
            } else {
                t = n.left;
            }
        }
        count
    }

    /// In order (or reverse order) from 0-based rank `start` (counted from the end when
    /// `rev`).
    pub fn iter_from(&self, start: usize, rev: bool) -> Iter<'_> {
        let mut stack = Vec::new();
        let len = self.len();
        if start < len {
            // Forward rank of the first pair to yield.
            let mut r = if rev { len - 1 - start } else { start };
            let mut t = self.root;
            while t != NIL {
                let n = self.node(t);
                let ls = self.size(n.left);
                match r.cmp(&ls) {
                    Ordering::Less => {
                        if !rev {
                            stack.push(t);
                        }
                        t = n.left;
                    }
                    Ordering::Equal => {
                        stack.push(t);
                        break;
                    }
                    Ordering::Greater => {
                        if rev {
                            stack.push(t);
                        }
                        r -= ls + 1;
                        t = n.right;
                    }
                }
            }
        }
        Iter {
            tree: self,
            stack,
            rev,
        }
    }

    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0, false)
    }

    /// Checks the ordering, AVL balance, heights and subtree sizes (for tests).
    #[cfg(test)]
    pub fn check(&self) -> Result<(), String> {
        fn walk(t: &OsTree, n: u32) -> Result<(usize, u8), String> {
            if n == NIL {
                return Ok((0, 0));
            }
            let node = t.node(n);
            let (ls, lh) = walk(t, node.left)?;
            let (rs, rh) = walk(t, node.right)?;
            if lh.abs_diff(rh) > 1 {
                return Err(format!("node {n} unbalanced: {lh} vs {rh}"));
            }
            if node.height != 1 + lh.max(rh) {
                return Err(format!("node {n} height {} wrong", node.height));
            }
            if node.size as usize != 1 + ls + rs {
                return Err(format!("node {n} size {} wrong", node.size));
            }
            Ok((1 + ls + rs, node.height))
        }
        let (size, _) = walk(self, self.root)?;
        if size + self.free.len() != self.nodes.len() {
            return Err("arena accounting".into());
        }
        let v: Vec<_> = self.iter().collect();
        if v.len() != size {
            return Err("iteration length".into());
        }
        for w in v.windows(2) {
            if cmp_entry(w[0].1, w[0].0, w[1].1, w[1].0) != Ordering::Less {
                return Err("order".into());
            }
        }
        Ok(())
    }
}

/// In-order iterator over an `OsTree` (a stack of pending ancestors).
pub struct Iter<'a> {
    tree: &'a OsTree,
    stack: Vec<u32>,
    rev: bool,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        let t = self.stack.pop()?;
        let n = self.tree.node(t);
        let mut c = if self.rev { n.left } else { n.right };
        while c != NIL {
            self.stack.push(c);
            let cn = self.tree.node(c);
            c = if self.rev { cn.right } else { cn.left };
        }
        Some((n.member.as_bytes(), n.score))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// A totally ordered model key: (score bits ordered, member).
    fn model_key(score: f64, m: &[u8]) -> (i64, Vec<u8>) {
        // Scores in the tests are small integers, so i64 ordering is the f64 ordering.
        (score as i64, m.to_vec())
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, u8),
        Remove(u8, u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0u8..20, 0u8..40).prop_map(|(s, m)| Op::Insert(s, m)),
            2 => (0u8..20, 0u8..40).prop_map(|(s, m)| Op::Remove(s, m)),
        ]
    }

    proptest! {
        #[test]
        fn matches_a_btreeset(ops in proptest::collection::vec(op(), 0..400)) {
            let mut t = OsTree::new();
            let mut model: BTreeSet<(i64, Vec<u8>)> = BTreeSet::new();
            for o in ops {
                match o {
                    Op::Insert(s, m) => {
                        let key = model_key(s as f64, &[m]);
                        if model.insert(key) {
                            t.insert(CompactBytes::new(&[m]), s as f64);
                        }
                    }
                    Op::Remove(s, m) => {
                        let was = model.remove(&model_key(s as f64, &[m]));
                        prop_assert_eq!(t.remove(s as f64, &[m]).is_some(), was);
                    }
                }
                t.check().map_err(TestCaseError::fail)?;
            }
            let v: Vec<_> = model.iter().cloned().collect();
            prop_assert_eq!(t.len(), v.len());
            for (i, (s, m)) in v.iter().enumerate() {
                prop_assert_eq!(t.rank(*s as f64, m), Some(i));
                let (sm, ss) = t.select(i).unwrap();
                prop_assert_eq!((ss as i64, sm.to_vec()), (*s, m.clone()));
                // Iteration from every rank, both directions.
                let fwd: Vec<_> = t.iter_from(i, false).map(|(m, s)| model_key(s, m)).collect();
                prop_assert_eq!(&fwd[..], &v[i..]);
                let rev: Vec<_> = t.iter_from(i, true).map(|(m, s)| model_key(s, m)).collect();
                let want: Vec<_> = v[..v.len() - i].iter().rev().cloned().collect();
                prop_assert_eq!(rev, want);
            }
            prop_assert!(t.select(v.len()).is_none());
            prop_assert_eq!(t.iter_from(v.len(), false).count(), 0);
            for s in 0..21i64 {
                let pp = t.partition_point(|sc, _| (sc as i64) < s);
                prop_assert_eq!(pp, v.iter().filter(|(ks, _)| *ks < s).count());
            }
        }
    }

    #[test]
    fn sequential_inserts_stay_logarithmic() {
        let mut t = OsTree::new();
        for i in 0..100_000u32 {
            t.insert(CompactBytes::new(&i.to_be_bytes()), f64::from(i));
        }
        t.check().unwrap();
        // An AVL tree of n nodes has height < 1.45 log2(n + 2).
        assert!(t.height(t.root) <= 25, "height {}", t.height(t.root));
        for i in (0..100_000u32).step_by(2) {
            assert!(t.remove(f64::from(i), &i.to_be_bytes()).is_some());
        }
        t.check().unwrap();
        assert_eq!(t.len(), 50_000);
        assert_eq!(t.select(0).unwrap().1, 1.0);
        // Freed slots are reused.
        let arena = t.nodes.len();
        for i in 0..1000u32 {
            t.insert(CompactBytes::new(&i.to_le_bytes()), -1.0);
        }
        assert_eq!(t.nodes.len(), arena);
        t.check().unwrap();
    }

    #[test]
    fn ties_order_by_member_bytes() {
        let mut t = OsTree::new();
        for m in [&b"b"[..], b"a", b"ab", b"", b"\xff"] {
            t.insert(CompactBytes::new(m), 1.0);
        }
        t.insert(CompactBytes::new(b"z"), 0.5);
        t.insert(CompactBytes::new(b"0"), f64::INFINITY);
        t.insert(CompactBytes::new(b"0"), f64::NEG_INFINITY);
        let order: Vec<_> = t.iter().map(|(m, _)| m.to_vec()).collect();
        let want: Vec<&[u8]> = vec![b"0", b"z", b"", b"a", b"ab", b"b", b"\xff", b"0"];
        assert_eq!(order, want);
        assert_eq!(t.rank(f64::INFINITY, b"0"), Some(7));
    }
}
