//! The delivery edge: each notice goes to the webhook and by e-mail, each
//! channel with its own bounded queue and task. A failed delivery is
//! retried with doubling back-off (1 s, 2 s, 4 s … at most 5 minutes
//! apart, [`ATTEMPTS`] tries); a full queue drops the newest notice and
//! counts it. Settings are read at each delivery, so a change applies to
//! the next notice.

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
            tokio::spawn(pump(wrx, counters.clone(), move |n: Arc<Notice>| {
                let (store, http, counters) = (store.clone(), http.clone(), counters.clone());
                async move {
                    let Some(hook) = store.config().webhook else {
                        return Ok(());
                    };
                    let r = post_webhook(&http, &hook, &n).await;
                    count(&r, &counters.webhook_sent, &counters.webhook_failed);
                    r
                }
            }));
        }
        let mail_counters = counters.clone();
        tokio::spawn(pump(erx, counters.clone(), move |n: Arc<Notice>| {
            let (store, counters) = (store.clone(), mail_counters.clone());
            async move {
                let Some(mail) = store.config().email else {
                    return Ok(());
                };
                let r = send_email(&mail, &n, tz).await;
                count(&r, &counters.email_sent, &counters.email_failed);
                r
            }
        }));
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

/// Takes notices one by one and tries each until it goes or the
/// attempts run out.
async fn pump<F, Fut>(mut rx: mpsc::Receiver<Arc<Notice>>, counters: Arc<Counters>, deliver: F)
where
    F: Fn(Arc<Notice>) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    while let Some(n) = rx.recv().await {
        let mut wait = FIRST_RETRY;
        for attempt in 1..=ATTEMPTS {
            match deliver(n.clone()).await {
                Ok(()) => break,
                Err(e) if attempt == ATTEMPTS => {
                    counters.dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(
                        "alarm notice not delivered after {ATTEMPTS} attempts, dropped: {e}"
                    );
                }
                Err(e) => {
                    tracing::warn!(
                        "alarm notice not delivered (attempt {attempt}), retrying in {wait:?}: {e}"
                    );
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(LONGEST_RETRY);
                }
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
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_the_body() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
