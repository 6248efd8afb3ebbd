//! Locking a `std::sync::Mutex` the way every Candor crate does.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, taking its value even if a thread panicked while holding
/// it. What Candor guards this way (caches, sets of ids, idle connections,
/// a test double's records) stays consistent between statements, and one
/// panic must not make every later caller fail.
pub fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
