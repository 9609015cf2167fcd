//! The player's outputs, in the order it made them, with the frames'
//! Ed25519 signatures made on worker threads.
//!
//! Signing was the larger part of the player's time in a change (about
//! 23 % of the whole server's CPU at 50,000 panels, on the player's one
//! thread). With more than one core, the player hands each frame to be
//! signed to a small pool and goes on to the next panel; what it made is
//! handed out strictly in order (a panel's frames in seq order, a
//! withdrawal after the frame before it), as soon as the front of the
//! queue is signed, and wholly before each of the player's calls returns
//! ([`Outbox::settle`]). With one core, or no key, frames are signed
//! where they are made, as before.
//!
//! Written here rather than taken from a crate: a pool of a few threads
//! over std channels is all it needs, and the order of the outputs is the
//! part that matters, which no work-stealing pool keeps by itself.

use std::collections::VecDeque;
use std::sync::{mpsc, Arc, Mutex};

use bytes::Bytes;

use super::Out;
use crate::domain::{Id, Transport};
use crate::frame;

/// Outputs waiting to be handed out, at most, and their bytes at most
/// (a colour frame in full is 221 KB): beyond either the player waits for
/// the oldest, so memory stays bounded whatever the fleet.
const IN_FLIGHT: usize = 4096;
const IN_FLIGHT_BYTES: usize = 32 << 20;
/// Signing threads, at most.
const MAX_SIGNERS: usize = 4;

/// One output, ready or waiting for its signature.
enum Pending {
    Ready(Out),
    Signing {
        panel: Id,
        via: Transport,
        signed: mpsc::Receiver<Bytes>,
        /// Its bytes, signed.
        len: usize,
    },
}

/// The bytes an output holds.
fn size(o: &Out) -> usize {
    match o {
        Out::Frame { frame, .. } => frame.len(),
        Out::Bundle { bundle, .. } => bundle.len(),
        Out::Clear { .. } => 0,
    }
}

/// Frame bytes to sign, and where the signed frame goes.
struct Job {
    bytes: Vec<u8>,
    done: mpsc::SyncSender<Bytes>,
}

/// The player's outputs in order.
pub(super) struct Outbox {
    queue: VecDeque<Pending>,
    /// The bytes of what waits in `queue`.
    queued_bytes: usize,
    key: Option<ed25519_dalek::SigningKey>,
    /// The signing threads' queue (`None`: frames are signed inline).
    jobs: Option<mpsc::Sender<Job>>,
}

impl Outbox {
    /// Signs with `key` (when set) on `threads` signing threads (up to 4;
    /// 0: as many as the machine has cores); 1: inline, on the player's.
    pub(super) fn new(key: Option<ed25519_dalek::SigningKey>, threads: usize) -> Outbox {
        let threads = match threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let jobs = key
            .as_ref()
            .filter(|_| threads > 1)
            .and_then(|key| start_signers(key, threads.min(MAX_SIGNERS)));
        Outbox {
            queue: VecDeque::new(),
            queued_bytes: 0,
            key,
            jobs,
        }
    }

    /// Hands `o` out after everything before it.
    pub(super) fn push(&mut self, o: Out, out: &mut dyn FnMut(Out)) {
        self.drain(out, false);
        if self.queue.is_empty() {
            out(o);
        } else {
            self.queued_bytes += size(&o);
            self.queue.push_back(Pending::Ready(o));
            self.bound(out);
        }
    }

    /// Waits for the oldest outputs while too many, or too many bytes,
    /// wait.
    fn bound(&mut self, out: &mut dyn FnMut(Out)) {
        while self.queue.len() > IN_FLIGHT || self.queued_bytes > IN_FLIGHT_BYTES {
            self.hand_out_front(out, true);
        }
    }

    /// A frame for `panel` over `via`: signed first when `sign` (and a key
    /// is set), then handed out in its turn.
    pub(super) fn frame(
        &mut self,
        panel: &Id,
        via: Transport,
        mut bytes: Vec<u8>,
        sign: bool,
        out: &mut dyn FnMut(Out),
    ) {
        let key = self.key.as_ref().filter(|_| sign);
        if let (Some(_), Some(jobs)) = (key, &self.jobs) {
            let (done, signed) = mpsc::sync_channel(1);
            let len = bytes.len() + frame::SIGNATURE_LEN;
            match jobs.send(Job { bytes, done }) {
                Ok(()) => {
                    self.queued_bytes += len;
                    self.queue.push_back(Pending::Signing {
                        panel: panel.clone(),
                        via,
                        signed,
                        len,
                    });
                    self.drain(out, false);
                    self.bound(out);
                    return;
                }
                Err(mpsc::SendError(job)) => {
                    // Every signing thread has stopped: sign here from
                    // now on.
                    tracing::error!(
                        "the signing threads have stopped; the player signs frames itself"
                    );
                    self.jobs = None;
                    bytes = job.bytes;
                }
            }
        }
        if let Some(key) = key {
            frame::append_signature(&mut bytes, key);
        }
        let o = Out::Frame {
            panel: panel.clone(),
            frame: Bytes::from(bytes),
            via,
        };
        self.push(o, out);
    }

    /// Hands out everything, waiting for the signatures still being made.
    pub(super) fn settle(&mut self, out: &mut dyn FnMut(Out)) {
        self.drain(out, true);
    }

    /// Hands out the front of the queue while it is ready (`wait`: all of
    /// it, waiting for each signature).
    fn drain(&mut self, out: &mut dyn FnMut(Out), wait: bool) {
        while self.hand_out_front(out, wait) {}
    }

    /// Hands out the front of the queue once it is ready (`wait`: waiting
    /// for its signature); false when it is not ready yet.
    fn hand_out_front(&mut self, out: &mut dyn FnMut(Out), wait: bool) -> bool {
        let signed = match self.queue.front() {
            None => return false,
            Some(Pending::Ready(_)) => None,
            Some(Pending::Signing { signed, .. }) if wait => Some(signed.recv().ok()),
            Some(Pending::Signing { signed, .. }) => match signed.try_recv() {
                Ok(frame) => Some(Some(frame)),
                Err(mpsc::TryRecvError::Empty) => return false,
                Err(mpsc::TryRecvError::Disconnected) => Some(None),
            },
        };
        let front = self.queue.pop_front().expect("the front was looked at");
        match (front, signed) {
            (Pending::Ready(o), _) => {
                self.queued_bytes -= size(&o);
                out(o)
            }
            (
                Pending::Signing {
                    panel, via, len, ..
                },
                Some(Some(frame)),
            ) => {
                self.queued_bytes -= len;
                out(Out::Frame { panel, frame, via })
            }
            (Pending::Signing { panel, len, .. }, _) => {
                self.queued_bytes -= len;
                tracing::error!(panel = %panel, "a signing thread failed: frame not sent")
            }
        }
        true
    }
}

/// Starts `n` signing threads; they end when the sender is dropped.
/// `None` when none started.
fn start_signers(key: &ed25519_dalek::SigningKey, n: usize) -> Option<mpsc::Sender<Job>> {
    let (tx, rx) = mpsc::channel::<Job>();
    let rx = Arc::new(Mutex::new(rx));
    let mut started = 0;
    for i in 0..n {
        let (rx, key) = (rx.clone(), key.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("signer-{i}"))
            .spawn(move || loop {
                let job = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                let Ok(Job { mut bytes, done }) = job else {
                    return;
                };
                frame::append_signature(&mut bytes, &key);
                let _ = done.send(Bytes::from(bytes));
            });
        match spawned {
            Ok(_) => started += 1,
            Err(e) => tracing::warn!("a signing thread did not start: {e}"),
        }
    }
    (started > 0).then_some(tx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signature, Verifier};

    fn key() -> ed25519_dalek::SigningKey {
        ed25519_dalek::SigningKey::from_bytes(&[7; 32])
    }

    /// What the outbox handed out: (kind, panel, bytes).
    fn run(threads: usize, n: usize) -> Vec<(&'static str, String, Vec<u8>)> {
        let mut outbox = Outbox::new(Some(key()), threads);
        let mut seen = Vec::new();
        let mut out = |o: Out| {
            seen.push(match o {
                Out::Frame { panel, frame, .. } => ("frame", panel.to_string(), frame.to_vec()),
                Out::Clear { panel } => ("clear", panel.to_string(), Vec::new()),
                Out::Bundle { panel, bundle } => ("bundle", panel.to_string(), bundle.to_vec()),
            })
        };
        for i in 0..n {
            let panel = Id::parse(&format!("p{}", i % 7)).unwrap();
            let bytes = format!("frame {i} of {}", panel).into_bytes();
            // Every third frame is for a vendor card: not signed.
            outbox.frame(&panel, Transport::Mqtt, bytes, i % 3 != 0, &mut out);
            if i % 5 == 0 {
                outbox.push(Out::Clear { panel }, &mut out);
            }
        }
        outbox.settle(&mut out);
        seen
    }

    /// Signed on worker threads, everything comes out as it would have
    /// inline: the same outputs in the same order, each signature valid
    /// for its own frame, and more frames than may wait at once.
    #[test]
    fn frames_signed_on_threads_come_out_in_order_and_valid() {
        let n = IN_FLIGHT + 500;
        let inline = run(1, n);
        let threaded = run(3, n);
        assert_eq!(inline.len(), n + n.div_ceil(5));
        assert!(inline == threaded, "the same outputs in the same order");
        let public = key().verifying_key();
        let mut signed = 0;
        for (i, (kind, _, bytes)) in threaded.iter().filter(|s| s.0 == "frame").enumerate() {
            assert_eq!(*kind, "frame");
            let text = format!("frame {i} of p{}", i % 7);
            assert!(bytes.starts_with(text.as_bytes()), "frame {i} in its place");
            if i % 3 == 0 {
                assert_eq!(bytes.len(), text.len(), "not signed");
                continue;
            }
            let (body, sig) = bytes.split_at(text.len());
            let sig = Signature::from_slice(sig).unwrap();
            assert!(public.verify(body, &sig).is_ok(), "frame {i}'s signature");
            signed += 1;
        }
        assert!(signed > n / 2);
    }

    /// Full colour frames (221 KB each) come faster than they are signed:
    /// what waits stays under its byte bound, and all of it comes out.
    #[test]
    fn what_waits_for_its_signature_stays_within_its_bytes() {
        let mut outbox = Outbox::new(Some(key()), 2);
        let mut seen = 0;
        let panel = Id::parse("p1").unwrap();
        for _ in 0..400 {
            let frame = vec![0u8; 384 * 192 * 3];
            outbox.frame(&panel, Transport::Mqtt, frame, true, &mut |_| seen += 1);
            assert!(
                outbox.queued_bytes <= IN_FLIGHT_BYTES,
                "{}",
                outbox.queued_bytes
            );
            outbox.push(
                Out::Clear {
                    panel: panel.clone(),
                },
                &mut |_| seen += 1,
            );
        }
        outbox.settle(&mut |_| seen += 1);
        assert_eq!(seen, 800);
        assert_eq!(outbox.queued_bytes, 0);
    }

    /// Without a key nothing is signed, and with one thread there is no
    /// pool: outputs go straight out.
    #[test]
    fn without_a_key_or_a_second_core_outputs_go_straight_out() {
        for (key, threads) in [(None, 4), (Some(key()), 1)] {
            let mut outbox = Outbox::new(key, threads);
            assert!(outbox.jobs.is_none());
            let mut seen = 0;
            let panel = Id::parse("p1").unwrap();
            outbox.frame(&panel, Transport::Mqtt, b"f".to_vec(), true, &mut |_| {
                seen += 1
            });
            assert_eq!(seen, 1, "handed out at once");
        }
    }
}
