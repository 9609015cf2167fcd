//! The gate in front of decoding and rendering: a semaphore weighted by
//! bytes (the work share of the memory budget). A request says how much
//! memory it will need, from an estimate made before any pixel is
//! allocated (an image's header, a message's layout); it waits a little
//! for room, then is refused with `503 busy`. A request that could never
//! fit is refused at once, with the caller's sentence.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use warp::http::StatusCode;

use super::error::ApiError;

/// How long a request waits for room before `503 busy`.
pub(crate) const WAIT: Duration = Duration::from_secs(2);

/// The semaphore counts KiB, so any budget fits its `u32` permits.
const UNIT: u64 = 1024;

pub(crate) struct WorkGate {
    sem: Arc<Semaphore>,
    capacity: u32,
    busy: AtomicU64,
}

/// Room held for one request's decoding or rendering; released when
/// dropped (move it into the blocking task that does the work, so a
/// client that hangs up does not release it early).
pub(crate) struct Room(#[allow(dead_code)] OwnedSemaphorePermit);

impl WorkGate {
    pub(crate) fn new(bytes: u64) -> WorkGate {
        let capacity = (bytes / UNIT).clamp(1, u64::from(u32::MAX >> 3)) as u32;
        WorkGate {
            sem: Arc::new(Semaphore::new(capacity as usize)),
            capacity,
            busy: AtomicU64::new(0),
        }
    }

    /// The whole gate, bytes.
    pub(crate) fn capacity(&self) -> u64 {
        u64::from(self.capacity) * UNIT
    }

    /// Bytes held by requests now.
    pub(crate) fn in_use(&self) -> u64 {
        (u64::from(self.capacity) - self.sem.available_permits() as u64) * UNIT
    }

    /// Requests refused as busy since the start.
    pub(crate) fn busy(&self) -> u64 {
        self.busy.load(Ordering::Relaxed)
    }

    /// Room for `bytes`, waiting at most [`WAIT`]. More than the whole
    /// gate is refused at once with `too_large(bytes, capacity)`.
    pub(crate) async fn admit(
        &self,
        bytes: u64,
        too_large: impl FnOnce(u64, u64) -> ApiError,
    ) -> Result<Room, ApiError> {
        let units = bytes.div_ceil(UNIT).max(1);
        if units > u64::from(self.capacity) {
            return Err(too_large(bytes, self.capacity()));
        }
        match tokio::time::timeout(WAIT, self.sem.clone().acquire_many_owned(units as u32)).await {
            Ok(Ok(permit)) => Ok(Room(permit)),
            _ => {
                self.busy.fetch_add(1, Ordering::Relaxed);
                Err(busy())
            }
        }
    }
}

/// `503 busy`, with a sentence (and `Retry-After` in the reply).
pub(crate) fn busy() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        crate::i18n::Reason::Busy,
    )
}

/// Whole MiB, rounded up, for sentences.
pub(crate) fn mib(bytes: u64) -> u64 {
    bytes.div_ceil(1 << 20)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn never(_: u64, _: u64) -> ApiError {
        panic!("fits the gate")
    }

    #[tokio::test]
    async fn waits_briefly_for_room_then_says_busy() {
        let gate = WorkGate::new(10 << 20);
        let big = gate.admit(8 << 20, never).await.unwrap();
        assert_eq!(gate.in_use(), 8 << 20);
        // Room comes back while it waits: admitted.
        let (second, ()) = tokio::join!(gate.admit(8 << 20, never), async {
            tokio::task::yield_now().await;
            drop(big);
        });
        let second = second.unwrap();
        // It does not come back: 503 busy after the wait.
        let started = tokio::time::Instant::now();
        let e = gate.admit(4 << 20, never).await.err().unwrap();
        assert_eq!((e.status.as_u16(), e.code), (503, "busy"));
        assert!(started.elapsed() >= WAIT);
        assert_eq!(gate.busy(), 1);
        // Small enough for what is left: at once.
        let _small = gate.admit(1 << 20, never).await.unwrap();
        drop(second);
        // Never fits: refused at once with the caller's sentence.
        let e = gate
            .admit(11 << 20, |need, cap| {
                ApiError::unprocessable(format!("{} > {}", mib(need), mib(cap)))
            })
            .await
            .err()
            .unwrap();
        assert_eq!(e.message.to_string(), "11 > 10");
    }
}
