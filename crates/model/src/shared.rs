//! Parts of a model state shared between states until a step changes them, with their hash
//! kept.
//!
//! The checker clones a state for every action it tries and fingerprints every state it reaches
//! by hashing all of it. Most steps change one instance and one or two message queues: the rest
//! is shared ([`Shared::make_mut`] copies a part only when it is shared), and its hash, computed
//! once, is reused by every state that shares it.

use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

/// A part of a state: shared until changed, hashed once.
#[derive(Debug, Default)]
pub struct Shared<T> {
    inner: Arc<Inner<T>>,
}

#[derive(Clone, Debug, Default)]
struct Inner<T> {
    value: T,
    /// The hash of `value`, computed on first use and forgotten when `value` changes.
    hash: OnceLock<u64>,
}

impl<T> Shared<T> {
    /// A part holding `value`.
    pub fn new(value: T) -> Self {
        Self {
            inner: Arc::new(Inner {
                value,
                hash: OnceLock::new(),
            }),
        }
    }
}

impl<T: Clone> Shared<T> {
    /// The value, to change: copied first if another state shares it; its hash is forgotten.
    pub fn make_mut(&mut self) -> &mut T {
        let inner = Arc::make_mut(&mut self.inner);
        inner.hash = OnceLock::new();
        &mut inner.value
    }
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T> Deref for Shared<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.inner.value
    }
}

impl<T: PartialEq> PartialEq for Shared<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner) || self.inner.value == other.inner.value
    }
}

impl<T: Eq> Eq for Shared<T> {}

impl<T: Hash> Hash for Shared<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let hash = *self.inner.hash.get_or_init(|| {
            // Fixed seeds: the same value hashes the same in every state and run.
            ahash::RandomState::with_seeds(1, 2, 3, 4).hash_one(&self.inner.value)
        });
        state.write_u64(hash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    fn hash_of<T: Hash>(value: &T) -> u64 {
        std::hash::BuildHasherDefault::<std::hash::DefaultHasher>::default().hash_one(value)
    }

    #[test]
    fn a_change_copies_a_shared_value_and_forgets_its_hash() {
        let a = Shared::new(vec![1, 2]);
        let mut b = a.clone();
        assert_eq!(hash_of(&a), hash_of(&b));
        b.make_mut().push(3);
        assert_eq!(*a, vec![1, 2], "the other state keeps its value");
        assert_eq!(*b, vec![1, 2, 3]);
        assert_ne!(hash_of(&a), hash_of(&b), "the hash follows the change");
        assert_ne!(a, b);
        b.make_mut().pop();
        assert_eq!(a, b, "equal values are equal, shared or not");
        assert_eq!(hash_of(&a), hash_of(&b));
    }
}
