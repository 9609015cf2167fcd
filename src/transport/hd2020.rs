//! HD2020-generation cards (single/dual-colour P10 signs): bangtin dials
//! the card and sends each frame as a realtime bitmap
//! ([`crate::huidu::realtime`]), one "HT" packet at a time, each
//! acknowledged by the card.
//!
//! One task per panel keeps only the newest frame. A frame is sent whole
//! (the card needs the whole area); a newer one waiting goes next. A
//! connection is kept while the card keeps it; a refused packet, a silent
//! card or a lost connection is logged, reported and retried over a new
//! connection after a back-off.

use crate::i18n::{Reason, Text};
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::runtime::Handle;
use tokio::sync::watch;

use super::{glass, Backoff, Cards, Delivery, LinkEvent, Report, Reporter, Timing};
use crate::domain::{host_port, ColorType, Id, Panel, Transport};
use crate::huidu::realtime::{self, AreaSend, HtPacket};

/// A frame as the card's packets.
pub struct Job {
    seq: u32,
    packets: Vec<HtPacket>,
}

/// Every HD2020 panel's task.
pub struct Hub {
    reports: Reporter,
    timing: Arc<Timing>,
    rt: Handle,
    cards: Cards<Job>,
}

impl Hub {
    /// A hub with no cards yet; their tasks run on `rt` and report on `reports`.
    pub fn new(reports: Reporter, timing: Timing, rt: Handle) -> Hub {
        Hub {
            reports,
            timing: Arc::new(timing),
            rt,
            cards: Cards::new(),
        }
    }
}

fn colors(c: ColorType) -> realtime::ColorType {
    match c {
        ColorType::Single => realtime::ColorType::Single,
        ColorType::Dual => realtime::ColorType::Dual,
        ColorType::Full => realtime::ColorType::Full,
    }
}

impl Delivery for Hub {
    fn deliver(&self, panel: &Panel, frame: Bytes) {
        let Transport::Hd2020 {
            address,
            color_type,
        } = &panel.transport
        else {
            unreachable!("the HD2020 hub only gets HD2020 panels")
        };
        let job = glass(panel, &frame).and_then(|(h, img)| {
            // The transfer id tells this area from the previous one.
            realtime::area_packets(&img, colors(*color_type), h.seq as u16)
                .map(|packets| Job {
                    seq: h.seq,
                    packets,
                })
                .map_err(|e| e.reason().into())
        });
        let job = match job {
            Ok(j) => j,
            Err(why) => {
                tracing::error!(panel = %panel.id, "frame not sent to the HD2020 card: {why}");
                let _ = self.reports.send(Report {
                    panel: panel.id.clone(),
                    event: LinkEvent::Failed { why },
                });
                return;
            }
        };
        let (jobs, _) = self.cards.ensure(&panel.id, &panel.transport, |jobs| {
            let task = CardTask {
                panel: panel.id.clone(),
                address: address.clone(),
                reports: self.reports.clone(),
                timing: self.timing.clone(),
                jobs,
                is_online: false,
            };
            self.rt.spawn(task.run());
            None
        });
        jobs.send_replace(Some(Arc::new(job)));
    }

    fn forget(&self, panel: &Id) {
        // The task ends when its sender is gone; the sign keeps its last
        // bitmap (HD2020 realtime has no documented "clear").
        self.cards.remove(panel);
    }

    fn release_all(&self) {
        self.cards.clear();
    }
}

struct CardTask {
    panel: Id,
    address: String,
    reports: Reporter,
    timing: Arc<Timing>,
    jobs: watch::Receiver<Option<Arc<Job>>>,
    is_online: bool,
}

impl CardTask {
    fn report(&self, event: LinkEvent) {
        let _ = self.reports.send(Report {
            panel: self.panel.clone(),
            event,
        });
    }

    fn set_online(&mut self, up: bool, event: LinkEvent) {
        if up != self.is_online {
            self.is_online = up;
            self.report(event);
        }
    }

    async fn run(mut self) {
        let mut backoff = Backoff::new(self.timing.backoff_min, self.timing.backoff_max);
        let mut conn: Option<TcpStream> = None;
        let mut last_why: Option<Text> = None;
        loop {
            // The newest frame; when the connection is idle, notice the
            // card closing it.
            let job = {
                let jobs = &mut self.jobs;
                let mut probe = [0u8; 64];
                tokio::select! {
                    r = jobs.changed() => match r {
                        Ok(()) => jobs.borrow_and_update().clone(),
                        Err(_) => break,
                    },
                    _ = async { conn.as_mut().expect("connected").read(&mut probe).await }, if conn.is_some() => {
                        // Closed or unexpected bytes while idle: start afresh.
                        conn = None;
                        continue;
                    }
                }
            };
            let Some(job) = job else { continue };
            let result = match conn.take() {
                Some(c) => self.send(c, &job).await,
                None => match self.connect().await {
                    Ok(c) => self.send(c, &job).await,
                    Err(why) => Err(why),
                },
            };
            match result {
                Ok((c, card)) => {
                    conn = Some(c);
                    backoff.reset();
                    last_why = None;
                    let peer = self.address.clone();
                    self.set_online(true, LinkEvent::Online { device: card, peer });
                    self.report(LinkEvent::Shown { seq: job.seq });
                }
                Err(why) => {
                    if last_why.as_ref() != Some(&why) {
                        tracing::warn!(panel = %self.panel, "HD2020 card at {}: {why}; retrying with back-off", self.address);
                        last_why = Some(why.clone());
                    }
                    if self.is_online {
                        self.set_online(false, LinkEvent::Offline { why });
                    } else {
                        self.report(LinkEvent::Offline { why });
                    }
                    let d = backoff.next_delay();
                    let jobs = &mut self.jobs;
                    tokio::select! {
                        _ = tokio::time::sleep(d) => {}
                        _ = async { while jobs.changed().await.is_ok() {} } => break,
                    }
                    // Send the newest frame again.
                    self.jobs.mark_changed();
                }
            }
        }
    }

    async fn connect(&self) -> Result<TcpStream, Text> {
        let (host, port) = host_port(&self.address, None)
            .map_err(|e| Text::from(Reason::LinkAddress { why: Box::new(e.0) }))?;
        match tokio::time::timeout(
            self.timing.connect,
            TcpStream::connect((host.as_str(), port)),
        )
        .await
        {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                Ok(s)
            }
            Ok(Err(e)) => Err(Reason::LinkCannotConnect {
                addr: format!("{host}:{port}"),
                detail: e.to_string(),
            }
            .into()),
            Err(_) => Err(Reason::LinkNoAnswer {
                addr: format!("{host}:{port}"),
                within: super::huidu::span(self.timing.connect),
            }
            .into()),
        }
    }

    /// Sends one area, a packet at a time; returns the connection and the
    /// card's description.
    async fn send(&self, mut s: TcpStream, job: &Job) -> Result<(TcpStream, String), Text> {
        let mut area = AreaSend::new(job.packets.clone());
        let mut buf = [0u8; 512];
        let wait = super::huidu::span(self.timing.answer);
        while !area.is_done() {
            if let Some(p) = area.transmit() {
                super::huidu::write_within(&mut s, &p, self.timing.write, None).await?;
            }
            let n = match tokio::time::timeout(self.timing.answer, s.read(&mut buf)).await {
                Ok(Ok(0)) => return Err(Reason::LinkClosedByCard { left: 0 }.into()),
                Ok(Ok(n)) => n,
                Ok(Err(e)) => {
                    return Err(Reason::LinkReadFailed {
                        detail: e.to_string(),
                    }
                    .into())
                }
                Err(_) => {
                    return Err(Reason::LinkSilent {
                        within: wait,
                        waiting: None,
                        left: 0,
                    }
                    .into())
                }
            };
            area.receive(&buf[..n])
                .map_err(|e| Text::from(e.reason()))?;
        }
        let card = area.card().map_or_else(
            || "HD2020 card".to_string(),
            |r| {
                format!(
                    "HD2020 card {} (type {})",
                    r.device_id_string(),
                    r.card_type
                )
            },
        );
        Ok((s, card))
    }
}
