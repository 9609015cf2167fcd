//! The delivery edge: each notice goes to the webhook and by e-mail, each
//! channel with its own bounded queue. A failed delivery is retried with
//! doubling back-off ([`retry_after`]: 1 s, 2 s, 4 s … at most 5 minutes
//! apart, [`ATTEMPTS`] tries), each notice on its own, so one that keeps
//! failing delays only the later notices of its own incident; a full
//! queue drops the newest notice and counts it. Settings are read at each delivery, so a change applies to
//! the next notice.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use tokio::sync::mpsc;

use super::config::{Email, Security, Webhook};
use super::text::{self, About};
use crate::store::alarms::{AlarmStore, Incident};

/// Notices waiting per channel.
const QUEUE: usize = 256;
/// Tries per notice and channel.
pub(crate) const ATTEMPTS: u32 = 10;
const FIRST_RETRY: Duration = Duration::from_secs(1);
const LONGEST_RETRY: Duration = Duration::from_secs(300);
/// One delivery attempt may take this long.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// What a notice says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Event {
    Alarm,
    Recovery,
    Digest,
}

/// An incident as a notice reports it: with the panel's name.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Named {
    #[serde(flatten)]
    pub incident: Incident,
    pub panel_name: String,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Notice {
    pub event: Event,
    pub sent_at: DateTime<Utc>,
    pub incidents: Vec<Named>,
}

/// Deliveries and failures, for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub webhook_sent: AtomicU64,
    pub webhook_failed: AtomicU64,
    pub email_sent: AtomicU64,
    pub email_failed: AtomicU64,
    /// Notices dropped: queue full, or every attempt failed.
    pub dropped: AtomicU64,
}

pub(crate) struct Notifier {
    webhook: Option<mpsc::Sender<Arc<Notice>>>,
    email: Option<mpsc::Sender<Arc<Notice>>>,
    pub counters: Arc<Counters>,
}

/// `sha256=` and the hex HMAC-SHA256 of `body` under `secret`: the
/// `X-Bangtin-Signature` header.
pub(crate) fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

impl Notifier {
    /// Delivers nothing (the API's in-process tests).
    #[cfg(test)]
    pub(crate) fn idle() -> Notifier {
        Notifier {
            webhook: None,
            email: None,
            counters: Arc::default(),
        }
    }

    /// Starts one task per channel.
    pub(crate) fn start(store: Arc<AlarmStore>, tz: chrono_tz::Tz) -> Notifier {
        let counters = Arc::new(Counters::default());
        let (wtx, wrx) = mpsc::channel(QUEUE);
        let (etx, erx) = mpsc::channel(QUEUE);
        let http = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .build()
            .expect("an HTTP client");
        {
            let (store, counters) = (store.clone(), counters.clone());
            tokio::spawn(pump(
                wrx,
                counters.clone(),
                move |n: Arc<Notice>| {
                    let (store, http, counters) = (store.clone(), http.clone(), counters.clone());
                    async move {
                        let Some(hook) = store.config().webhook else {
                            return Ok(());
                        };
                        let r = post_webhook(&http, &hook, &n).await;
                        count(&r, &counters.webhook_sent, &counters.webhook_failed);
                        r
                    }
                },
                tokio::time::sleep,
            ));
        }
        let mail_counters = counters.clone();
        tokio::spawn(pump(
            erx,
            counters.clone(),
            move |n: Arc<Notice>| {
                let (store, counters) = (store.clone(), mail_counters.clone());
                async move {
                    let Some(mail) = store.config().email else {
                        return Ok(());
                    };
                    let r = send_email(&mail, &n, tz).await;
                    count(&r, &counters.email_sent, &counters.email_failed);
                    r
                }
            },
            tokio::time::sleep,
        ));
        Notifier {
            webhook: Some(wtx),
            email: Some(etx),
            counters,
        }
    }

    /// Queues a notice on every channel.
    pub(crate) fn send(&self, notice: Notice) {
        let notice = Arc::new(notice);
        for (name, q) in [("webhook", &self.webhook), ("e-mail", &self.email)] {
            if let Some(q) = q {
                if q.try_send(notice.clone()).is_err() {
                    self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        "alarm {name} queue full: a {:?} notice dropped",
                        notice.event
                    );
                }
            }
        }
    }
}

fn count(r: &Result<(), String>, sent: &AtomicU64, failed: &AtomicU64) {
    match r {
        Ok(()) => sent.fetch_add(1, Ordering::Relaxed),
        Err(_) => failed.fetch_add(1, Ordering::Relaxed),
    };
}

/// How long to wait after failed attempt `n` (from 1): 1 s, doubling,
/// at most [`LONGEST_RETRY`].
pub(crate) fn retry_after(n: u32) -> Duration {
    FIRST_RETRY
        .saturating_mul(1u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX))
        .min(LONGEST_RETRY)
}

/// Notices that must go in order: an incident's alarm before its
/// recovery; digests one after another.
fn chain_of(n: &Notice) -> Option<u64> {
    match n.event {
        Event::Alarm | Event::Recovery => n.incidents.first().map(|x| x.incident.id),
        Event::Digest => None,
    }
}

/// Takes the notices as they come and tries each until it goes or the
/// attempts run out, each on its own: a notice that keeps failing holds
/// up only the notices of its own incident (in order behind it), never
/// another incident's. At most [`QUEUE`] notices are in delivery at
/// once; beyond that the queue fills and drops.
/// `wait` is the pause between attempts (`tokio::time::sleep`; a test's
/// own clock in the tests).
async fn pump<F, Fut, W, WFut>(
    mut rx: mpsc::Receiver<Arc<Notice>>,
    counters: Arc<Counters>,
    deliver: F,
    wait: W,
) where
    F: Fn(Arc<Notice>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
    W: Fn(Duration) -> WFut + Send + Sync + 'static,
    WFut: Future<Output = ()> + Send + 'static,
{
    let (deliver, wait) = (Arc::new(deliver), Arc::new(wait));
    let slots = Arc::new(tokio::sync::Semaphore::new(QUEUE));
    let mut last: HashMap<Option<u64>, tokio::task::JoinHandle<()>> = HashMap::new();
    while let Some(n) = rx.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        last.retain(|_, h| !h.is_finished());
        let chain = chain_of(&n);
        let before = last.remove(&chain);
        let (deliver, wait, counters) = (deliver.clone(), wait.clone(), counters.clone());
        let task = tokio::spawn(async move {
            if let Some(before) = before {
                let _ = before.await;
            }
            try_hard(&*deliver, &*wait, n, &counters).await;
            drop(slot);
        });
        last.insert(chain, task);
    }
    // Closed: the notices in delivery still finish.
    for (_, task) in last {
        let _ = task.await;
    }
}

/// Tries one notice [`ATTEMPTS`] times, [`retry_after`] apart.
async fn try_hard<F, Fut, W, WFut>(deliver: &F, wait: &W, n: Arc<Notice>, counters: &Counters)
where
    F: Fn(Arc<Notice>) -> Fut,
    Fut: Future<Output = Result<(), String>>,
    W: Fn(Duration) -> WFut,
    WFut: Future<Output = ()>,
{
    for attempt in 1..=ATTEMPTS {
        match deliver(n.clone()).await {
            Ok(()) => return,
            Err(e) if attempt == ATTEMPTS => {
                counters.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    "alarm notice not delivered after {ATTEMPTS} attempts, dropped: {e}"
                );
            }
            Err(e) => {
                let pause = retry_after(attempt);
                tracing::warn!(
                    "alarm notice not delivered (attempt {attempt}), retrying in {pause:?}: {e}"
                );
                wait(pause).await;
            }
        }
    }
}

async fn post_webhook(http: &reqwest::Client, hook: &Webhook, n: &Notice) -> Result<(), String> {
    let body = serde_json::to_vec(n).expect("serializes");
    let mut req = http
        .post(&hook.url)
        .header("Content-Type", "application/json")
        .header(
            "X-Bangtin-Event",
            match n.event {
                Event::Alarm => "alarm",
                Event::Recovery => "recovery",
                Event::Digest => "digest",
            },
        );
    if let Some(secret) = hook.secret.as_deref() {
        req = req.header("X-Bangtin-Signature", signature(secret, &body));
    }
    let resp = req
        .body(body)
        .send()
        .await
        .map_err(|e| format!("webhook {}: {e}", hook.url))?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(format!("webhook {} answered {}", hook.url, resp.status()))
    }
}

fn about<'a>(x: &'a Named, since: &'a str, minutes: i64) -> About<'a> {
    About {
        panel: x.incident.panel.as_str(),
        panel_name: &x.panel_name,
        kind: x.incident.kind,
        since,
        minutes,
    }
}

/// Subject and body of a notice in the configured language.
pub(crate) fn compose(n: &Notice, lang: text::Lang, tz: chrono_tz::Tz) -> (String, String) {
    let times = |x: &Named| {
        let end = x.incident.recovered_at.unwrap_or(n.sent_at);
        (
            text::local_time(x.incident.since, tz),
            (end - x.incident.since).num_minutes(),
        )
    };
    match n.event {
        Event::Alarm | Event::Recovery => {
            let x = &n.incidents[0];
            let (since, minutes) = times(x);
            let a = about(x, &since, minutes);
            if n.event == Event::Alarm {
                text::raised(lang, &a)
            } else {
                text::recovered(lang, &a)
            }
        }
        Event::Digest => {
            let day = n.sent_at.with_timezone(&tz).format("%d/%m/%Y").to_string();
            let (subject, mut body) = text::digest(lang, n.incidents.len(), &day);
            for x in &n.incidents {
                let (since, minutes) = times(x);
                let line = text::digest_line(
                    lang,
                    &about(x, &since, minutes),
                    x.incident.recovered_at.is_some(),
                );
                body.push_str(&line);
                body.push('\n');
            }
            (subject, body)
        }
    }
}

async fn send_email(mail: &Email, n: &Notice, tz: chrono_tz::Tz) -> Result<(), String> {
    use lettre::message::{header::ContentType, Mailbox};
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

    let (subject, body) = compose(n, mail.language, tz);
    let mailbox = |a: &str| {
        a.parse::<Mailbox>()
            .map_err(|e| format!("{a:?} is not an e-mail address: {e}"))
    };
    let mut msg = Message::builder()
        .from(mailbox(&mail.from)?)
        .subject(subject);
    for to in &mail.to {
        msg = msg.to(mailbox(to)?);
    }
    let msg = msg
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| format!("composing the e-mail: {e}"))?;
    let mut tls = TlsParameters::builder(mail.host.clone());
    if let Some(ca) = &mail.ca_file {
        let pem = tokio::fs::read(ca)
            .await
            .map_err(|e| format!("reading email.ca_file {ca}: {e}"))?;
        let cert = Certificate::from_pem(&pem).map_err(|e| format!("email.ca_file {ca}: {e}"))?;
        tls = tls.add_root_certificate(cert);
    }
    let tls = tls
        .build_rustls()
        .map_err(|e| format!("TLS settings for {}: {e}", mail.host))?;
    let mut smtp = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(mail.host.as_str())
        .port(mail.port)
        .timeout(Some(ATTEMPT_TIMEOUT))
        .tls(match mail.security {
            Security::Starttls => Tls::Required(tls),
            Security::Tls => Tls::Wrapper(tls),
            Security::None => Tls::None,
        });
    if let Some(user) = &mail.username {
        smtp = smtp.credentials(Credentials::new(
            user.clone(),
            mail.password.clone().unwrap_or_default(),
        ));
    }
    smtp.build()
        .send(msg)
        .await
        .map(|_| ())
        .map_err(|e| format!("SMTP {}:{}: {e}", mail.host, mail.port))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    fn notice(event: Event, id: u64) -> Arc<Notice> {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let incident = Incident::sample(id, at);
        let panel_name = String::from("P1");
        let incidents = vec![Named {
            incident,
            panel_name,
        }];
        Arc::new(Notice {
            event,
            sent_at: at,
            incidents,
        })
    }

    /// Every attempt: which notice (`alarm 1`) and whether it went.
    type Attempts = Arc<Mutex<Vec<(String, bool)>>>;

    /// A pump whose deliveries fail the first `fails(notice)` attempts of
    /// each notice and whose pauses between attempts are noted and then
    /// wait for `gate` (a permit per pause; `None`: no waiting).
    struct Pumped {
        tx: mpsc::Sender<Arc<Notice>>,
        attempts: Attempts,
        pauses: Arc<Mutex<Vec<Duration>>>,
        counters: Arc<Counters>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Pumped {
        fn start(fails: fn(&str) -> usize, gate: Option<Arc<tokio::sync::Semaphore>>) -> Pumped {
            let attempts: Attempts = Arc::default();
            let pauses: Arc<Mutex<Vec<Duration>>> = Arc::default();
            let counters = Arc::new(Counters::default());
            let (tx, rx) = mpsc::channel(QUEUE);
            let (seen, noted) = (attempts.clone(), pauses.clone());
            let deliver = move |n: Arc<Notice>| {
                let seen = seen.clone();
                async move {
                    let name = format!("{:?} {}", n.event, n.incidents[0].incident.id);
                    let name = name.to_lowercase();
                    let mut seen = seen.lock().unwrap();
                    let before = seen.iter().filter(|(x, _)| *x == name).count();
                    let ok = before >= fails(&name);
                    seen.push((name, ok));
                    ok.then_some(()).ok_or_else(|| String::from("refused"))
                }
            };
            let wait = move |d: Duration| {
                noted.lock().unwrap().push(d);
                let gate = gate.clone();
                async move {
                    if let Some(gate) = gate {
                        gate.acquire().await.unwrap().forget();
                    }
                }
            };
            let task = tokio::spawn(pump(rx, counters.clone(), deliver, wait));
            Pumped {
                tx,
                attempts,
                pauses,
                counters,
                task,
            }
        }

        fn attempts(&self) -> Vec<(String, bool)> {
            self.attempts.lock().unwrap().clone()
        }

        /// Waits (at most 10 s) until `done` holds of the attempts.
        async fn until(&self, what: &str, done: impl Fn(&[(String, bool)]) -> bool) {
            let by = tokio::time::Instant::now() + Duration::from_secs(10);
            while !done(&self.attempts()) {
                assert!(
                    tokio::time::Instant::now() < by,
                    "{what}: {:?}",
                    self.attempts()
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }

        /// Closes the queue and waits for the deliveries under way.
        async fn finish(self) -> (Vec<(String, bool)>, Vec<Duration>, u64) {
            drop(self.tx);
            self.task.await.unwrap();
            let pauses = self.pauses.lock().unwrap().clone();
            let got = self.attempts.lock().unwrap().clone();
            (got, pauses, self.counters.dropped.load(Ordering::Relaxed))
        }
    }

    #[test]
    fn retries_double_from_one_second_up_to_five_minutes() {
        let secs: Vec<u64> = (1..=12).map(|n| retry_after(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        assert_eq!(retry_after(u32::MAX), LONGEST_RETRY, "no overflow");
    }

    /// A notice that always fails is tried [`ATTEMPTS`] times with the
    /// pauses of [`retry_after`] between, then dropped and counted.
    #[tokio::test]
    async fn a_failing_notice_is_retried_on_the_schedule_then_dropped() {
        let p = Pumped::start(|_| usize::MAX, None);
        p.tx.send(notice(Event::Alarm, 1)).await.unwrap();
        let (attempts, pauses, dropped) = p.finish().await;
        assert_eq!(attempts.len(), ATTEMPTS as usize, "{attempts:?}");
        let secs: Vec<u64> = pauses.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 64, 128, 256]);
        assert_eq!(dropped, 1);
    }

    /// One incident's notice that keeps failing holds up only its own
    /// incident's later notices (its recovery waits behind its alarm);
    /// another incident's and the digest go meanwhile.
    #[tokio::test]
    async fn a_failing_notice_does_not_hold_up_other_incidents() {
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let p = Pumped::start(|n| if n == "alarm 1" { 2 } else { 0 }, Some(gate.clone()));
        for (event, id) in [
            (Event::Alarm, 1),
            (Event::Recovery, 1),
            (Event::Alarm, 2),
            (Event::Digest, 3),
        ] {
            p.tx.send(notice(event, id)).await.unwrap();
        }
        // Alarm 1 failed once and waits for its retry: the others go.
        let went =
            |name: &'static str| move |a: &[(String, bool)]| a.contains(&(name.into(), true));
        p.until("alarm 2 goes while alarm 1 waits", went("alarm 2"))
            .await;
        p.until("the digest goes while alarm 1 waits", went("digest 3"))
            .await;
        let tried = |a: &[(String, bool)], name: &str| a.iter().filter(|(x, _)| x == name).count();
        let now = p.attempts();
        assert_eq!(tried(&now, "alarm 1"), 1, "{now:?}");
        assert_eq!(tried(&now, "recovery 1"), 0, "never before its alarm");
        // Its retries: the third attempt goes, then its recovery.
        gate.add_permits(2);
        p.until("recovery 1 goes", went("recovery 1")).await;
        let (attempts, _, dropped) = p.finish().await;
        let ones: Vec<&(String, bool)> =
            attempts.iter().filter(|(x, _)| x.ends_with(" 1")).collect();
        let want = [
            ("alarm 1", false),
            ("alarm 1", false),
            ("alarm 1", true),
            ("recovery 1", true),
        ];
        assert_eq!(
            ones,
            want.map(|(x, ok)| (x.to_string(), ok))
                .iter()
                .collect::<Vec<_>>()
        );
        assert_eq!(dropped, 0);
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_the_body() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
