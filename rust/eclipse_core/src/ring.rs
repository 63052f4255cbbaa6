//! A fixed-capacity ring buffer of `f64`: allocated once at construction, never again, so indicator
//! updates are O(1) in time and memory with no heap allocation.

use serde::{Deserialize, Serialize};

/// Fixed-capacity ring buffer. `push` returns the value it evicts once the buffer is full.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ring {
    buf: Vec<f64>,
    head: usize,
    len: usize,
}

impl Ring {
    /// A ring holding up to `capacity` values (`capacity >= 1`).
    pub fn new(capacity: usize) -> Self {
        Self {
            buf: vec![0.0; capacity.max(1)],
            head: 0,
            len: 0,
        }
    }

    /// Number of values held.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing was pushed yet.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Capacity fixed at construction.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// True when `len == capacity`.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.len == self.buf.len()
    }

    /// Pushes `x`; returns the evicted (oldest) value when the ring was already full.
    #[inline]
    pub fn push(&mut self, x: f64) -> Option<f64> {
        let cap = self.buf.len();
        let slot = &mut self.buf[self.head];
        let old = *slot;
        *slot = x;
        self.head += 1;
        if self.head == cap {
            self.head = 0;
        }
        if self.len == cap {
            Some(old)
        } else {
            self.len += 1;
            None
        }
    }

    /// True right after a push that wrapped the write position back to the start.
    #[inline]
    pub fn wrapped(&self) -> bool {
        self.head == 0
    }

    /// Oldest value held (the one the next push evicts when full).
    #[inline]
    pub fn oldest(&self) -> Option<f64> {
        if self.len == 0 {
            None
        } else if self.len == self.buf.len() {
            Some(self.buf[self.head])
        } else {
            Some(self.buf[0])
        }
    }

    /// Values from oldest to newest.
    pub fn iter(&self) -> impl Iterator<Item = f64> + '_ {
        let (a, b) = if self.len == self.buf.len() {
            (&self.buf[self.head..], &self.buf[..self.head])
        } else {
            (&self.buf[..self.len], &self.buf[..0])
        };
        a.iter().chain(b).copied()
    }

    /// The values as two slices, oldest first: `a` then `b`.
    #[inline]
    pub fn as_slices(&self) -> (&[f64], &[f64]) {
        if self.len == self.buf.len() {
            (&self.buf[self.head..], &self.buf[..self.head])
        } else {
            (&self.buf[..self.len], &self.buf[..0])
        }
    }

    /// The whole window in order (oldest first) when the ring is full and its write position is back at the
    /// start, i.e. right after a wrapping push; `None` otherwise.
    #[inline]
    pub fn ordered(&self) -> Option<&[f64]> {
        (self.head == 0 && self.is_full()).then_some(&self.buf[..])
    }

    /// Checks internal consistency after deserialization.
    pub fn check(&self, capacity: usize) -> bool {
        self.buf.len() == capacity.max(1)
            && self.head < self.buf.len()
            && self.len <= self.buf.len()
            && (self.len == self.buf.len() || self.head == self.len % self.buf.len())
            && self.buf.iter().all(|v| v.is_finite())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_oldest_once_full() {
        let mut r = Ring::new(3);
        assert_eq!(r.push(1.0), None);
        assert_eq!(r.push(2.0), None);
        assert_eq!(r.push(3.0), None);
        assert!(r.is_full());
        assert_eq!(r.oldest(), Some(1.0));
        assert_eq!(r.push(4.0), Some(1.0));
        assert_eq!(r.iter().collect::<Vec<_>>(), vec![2.0, 3.0, 4.0]);
        assert!(r.check(3));
    }
}
