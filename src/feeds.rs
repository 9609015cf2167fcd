//! Polling the CAP sources named in `cap.json`: the edge that talks to the
//! network for `cap`. Each feed is fetched every `interval_s` with
//! `If-None-Match` / `If-Modified-Since`; an ATOM/RSS index is read for its
//! links (`cap::index`) and each document not seen in the previous index
//! is fetched and handed to the store ([`Store::receive_cap`]), which
//! drops repeated identifiers. A source that fails is retried after
//! doubling waits (up to [`MAX_BACKOFF`]); each feed's health is kept
//! here for `/api/v1/status` and the dashboard.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::cap::config::Feed;
use crate::cap::index::{self, Polled};
use crate::cap::xml::MAX_DOC_BYTES;
use crate::cap::CapConfig;
use crate::i18n::{Lang, Reason, Text};
use crate::store::cap::{CapFailure, ConfigFile, Source};
use crate::store::Store;

/// Longest wait between two polls of a failing source.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// How long one request may take, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest index accepted.
const MAX_INDEX_BYTES: usize = 4 << 20;
/// Documents fetched from one index in one poll at most.
const MAX_ENTRIES: usize = 200;
/// How often the supervisor looks for feeds that are due.
const TICK: Duration = Duration::from_millis(250);

/// A feed's health, as `/status` shows it.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub(crate) struct Health {
    pub name: String,
    pub url: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_poll_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_ok_at: Option<DateTime<Utc>>,
    /// Why the last poll failed, in the reader's language ([`Health::why`]
    /// rendered by [`Feeds::health`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(skip)]
    #[schemars(skip)]
    pub why: Option<Text>,
    /// Failures in a row (the back-off doubles with each).
    pub failures: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_poll_at: Option<DateTime<Utc>>,
    /// Polls answered 304 Not Modified.
    pub not_modified: u64,
    /// Documents handed to the store (new, duplicate or refused).
    pub documents: u64,
    /// Documents refused (bad XML, sender not allowed, …).
    pub refused: u64,
}

/// A feed's memory between polls (not persisted: after a restart the
/// first poll is a full GET and repeated identifiers change nothing).
#[derive(Default)]
struct Memory {
    etag: Option<String>,
    last_modified: Option<String>,
    /// Links of the previous index: only new ones are fetched.
    seen: BTreeSet<String>,
    in_flight: bool,
    due: Option<tokio::time::Instant>,
}

/// The CAP configuration file and the feeds' state.
pub(crate) struct Feeds {
    pub config: ConfigFile,
    state: Mutex<BTreeMap<String, (Health, Memory)>>,
}

impl Feeds {
    pub(crate) fn new(config: ConfigFile) -> Feeds {
        Feeds {
            config,
            state: Mutex::new(BTreeMap::new()),
        }
    }

    /// Each configured feed's health (a feed not yet polled shows so).
    pub(crate) fn health(&self, config: &CapConfig, lang: Lang) -> Vec<Health> {
        let st = self.state.lock().expect("feeds lock");
        config
            .feeds
            .iter()
            .map(|f| {
                st.get(f.name.as_str())
                    .map(|(h, _)| Health {
                        last_error: h.why.as_ref().map(|t| t.render(lang)),
                        ..h.clone()
                    })
                    .unwrap_or_else(|| Health {
                        name: f.name.to_string(),
                        url: f.url.clone(),
                        ..Health::default()
                    })
            })
            .collect()
    }

    /// Polls every configured feed when it is due, until the runtime ends.
    pub(crate) fn spawn(
        self: Arc<Self>,
        store: Arc<Store>,
        tz: Tz,
        leading: impl Fn() -> bool + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let client = match client() {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(
                        "CAP feeds are not polled: the HTTP client could not start: {e}"
                    );
                    return;
                }
            };
            let mut tick = tokio::time::interval(TICK);
            loop {
                tick.tick().await;
                // Two servers on one store: only the leader polls, so a
                // warning is taken in once.
                if !leading() {
                    continue;
                }
                let config = self.config.current();
                for feed in self.due(&config) {
                    let me = self.clone();
                    let job = Job {
                        client: client.clone(),
                        store: store.clone(),
                        config: config.clone(),
                        feed,
                        tz,
                    };
                    tokio::spawn(async move { me.poll(&job).await });
                }
            }
        })
    }

    /// The feeds due now, marked in flight; forgets feeds no longer
    /// configured.
    fn due(&self, config: &CapConfig) -> Vec<Feed> {
        let now = tokio::time::Instant::now();
        let mut st = self.state.lock().expect("feeds lock");
        st.retain(|name, _| config.feed(name).is_some());
        let mut out = Vec::new();
        for f in &config.feeds {
            let (h, m) = st.entry(f.name.to_string()).or_default();
            if h.url != f.url {
                *h = Health {
                    name: f.name.to_string(),
                    url: f.url.clone(),
                    ..Health::default()
                };
                *m = Memory::default();
            }
            if !m.in_flight && m.due.is_none_or(|d| d <= now) {
                m.in_flight = true;
                out.push(f.clone());
            }
        }
        out
    }

    async fn poll(&self, job: &Job) {
        let feed = &job.feed;
        let (etag, modified, seen) = {
            let st = self.state.lock().expect("feeds lock");
            let m = st.get(feed.name.as_str()).map(|(_, m)| m);
            (
                m.and_then(|m| m.etag.clone()),
                m.and_then(|m| m.last_modified.clone()),
                m.map(|m| m.seen.clone()).unwrap_or_default(),
            )
        };
        let result = self.fetch_and_receive(job, etag, modified, &seen).await;
        let now = Utc::now();
        let mut st = self.state.lock().expect("feeds lock");
        let Some((h, m)) = st.get_mut(feed.name.as_str()) else {
            return;
        };
        m.in_flight = false;
        h.last_poll_at = Some(now);
        let wait = match result {
            Ok(outcome) => {
                h.ok = true;
                h.last_ok_at = Some(now);
                h.why = None;
                h.failures = 0;
                match outcome.body {
                    None => h.not_modified += 1,
                    Some((etag, modified, links)) => {
                        m.etag = etag;
                        m.last_modified = modified;
                        m.seen = links;
                    }
                }
                h.documents += outcome.documents;
                h.refused += outcome.refused;
                Duration::from_secs(u64::from(feed.interval_s))
            }
            Err(e) => {
                tracing::warn!(feed = %feed.name, "CAP feed poll failed: {e}");
                h.ok = false;
                h.why = Some(e);
                h.failures = h.failures.saturating_add(1);
                backoff(feed.interval_s, h.failures)
            }
        };
        m.due = Some(tokio::time::Instant::now() + wait);
        h.next_poll_at = chrono::Duration::from_std(wait).ok().map(|w| now + w);
    }

    /// One poll: the URL, then the documents an index links to.
    async fn fetch_and_receive(
        &self,
        job: &Job,
        etag: Option<String>,
        modified: Option<String>,
        seen: &BTreeSet<String>,
    ) -> Result<Outcome, Text> {
        let (client, feed) = (&job.client, &job.feed);
        let base = reqwest::Url::parse(&feed.url).map_err(|e| Reason::FeedBadUrl {
            detail: e.to_string(),
        })?;
        let mut req = client.get(base.clone());
        if let Some(e) = &etag {
            req = req.header(reqwest::header::IF_NONE_MATCH, e);
        }
        if let Some(m) = &modified {
            req = req.header(reqwest::header::IF_MODIFIED_SINCE, m);
        }
        let resp = req.send().await.map_err(|e| Reason::FeedNoAnswer {
            url: None,
            detail: error_chain(&e),
        })?;
        if resp.status() == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(Outcome::default());
        }
        if !resp.status().is_success() {
            return Err(Reason::FeedStatus {
                url: None,
                status: resp.status().to_string(),
            }
            .into());
        }
        let header = |n: reqwest::header::HeaderName| {
            resp.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (new_etag, new_modified) = (
            header(reqwest::header::ETAG),
            header(reqwest::header::LAST_MODIFIED),
        );
        let body = read_capped(resp, MAX_INDEX_BYTES).await?;
        let source = Source {
            name: format!("feed:{}", feed.name),
            senders: feed.senders.clone(),
            rules: feed.rules.clone(),
            scope: None,
        };
        let mut out = Outcome::default();
        let links = match index::read(&body).map_err(|e| e.reason())? {
            Polled::Document => {
                self.hand_over(job, body, &source, &mut out).await?;
                BTreeSet::new()
            }
            Polled::Index(links) => {
                let mut all = BTreeSet::new();
                for link in links.into_iter().take(MAX_ENTRIES) {
                    let url = base.join(&link).map_err(|e| Reason::FeedEntryLink {
                        link: link.clone(),
                        detail: e.to_string(),
                    })?;
                    let key = url.to_string();
                    if !seen.contains(&key) {
                        let resp =
                            client
                                .get(url)
                                .send()
                                .await
                                .map_err(|e| Reason::FeedNoAnswer {
                                    url: Some(key.clone()),
                                    detail: error_chain(&e),
                                })?;
                        if !resp.status().is_success() {
                            return Err(Reason::FeedStatus {
                                url: Some(key),
                                status: resp.status().to_string(),
                            }
                            .into());
                        }
                        let doc = read_capped(resp, MAX_DOC_BYTES).await?;
                        self.hand_over(job, doc, &source, &mut out).await?;
                    }
                    all.insert(key);
                }
                all
            }
        };
        out.body = Some((new_etag, new_modified, links));
        Ok(out)
    }

    /// Gives one document to the store. A refused document is counted,
    /// not an error of the feed; a store failure (disk) is.
    async fn hand_over(
        &self,
        job: &Job,
        doc: bytes::Bytes,
        source: &Source,
        out: &mut Outcome,
    ) -> Result<(), Text> {
        let (store, source, config, tz) = (
            job.store.clone(),
            source.clone(),
            job.config.clone(),
            job.tz,
        );
        let r = tokio::task::spawn_blocking(move || {
            store.receive_cap(&doc, &source, &config, tz, Utc::now())
        })
        .await
        .map_err(|e| Reason::FeedNotStored {
            detail: e.to_string(),
        })?;
        out.documents += 1;
        match r {
            Ok(_) => Ok(()),
            Err(CapFailure::Refused(e)) => {
                tracing::warn!("CAP document refused: {e}");
                out.refused += 1;
                Ok(())
            }
            Err(CapFailure::Store(e)) => Err(Reason::FeedNotStored {
                detail: e.to_string(),
            }
            .into()),
        }
    }
}

/// One poll of one feed: what it needs.
struct Job {
    client: reqwest::Client,
    store: Arc<Store>,
    config: Arc<CapConfig>,
    feed: Feed,
    tz: Tz,
}

#[derive(Default)]
struct Outcome {
    /// `None` for 304 Not Modified; else the validators and the index's links.
    body: Option<(Option<String>, Option<String>, BTreeSet<String>)>,
    documents: u64,
    refused: u64,
}

/// The wait after `failures` failures in a row: the interval doubled each
/// time, at most [`MAX_BACKOFF`].
pub(crate) fn backoff(interval_s: u32, failures: u32) -> Duration {
    let base = u64::from(interval_s.max(1));
    let factor = 1u64 << failures.min(20);
    Duration::from_secs(base.saturating_mul(factor)).min(MAX_BACKOFF)
}

fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!(
            "bangtin/",
            env!("CARGO_PKG_VERSION"),
            " (CAP poller)"
        ))
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
}

/// The body, refused past `limit` bytes.
async fn read_capped(mut resp: reqwest::Response, limit: usize) -> Result<bytes::Bytes, Text> {
    let too_big = || Text::from(Reason::FeedTooBig { kib: limit / 1024 });
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_big());
    }
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| Reason::FeedReadFailed {
        detail: error_chain(&e),
    })? {
        if buf.len() + chunk.len() > limit {
            return Err(too_big());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff(60, 0), Duration::from_secs(60));
        assert_eq!(backoff(60, 1), Duration::from_secs(120));
        assert_eq!(backoff(60, 3), Duration::from_secs(480));
        assert_eq!(backoff(60, 10), MAX_BACKOFF);
        assert_eq!(backoff(60, u32::MAX), MAX_BACKOFF);
    }
}
