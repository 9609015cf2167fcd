//! Prometheus text metrics: HTTP requests and latencies here; renders,
//! frames, panels online and the broker link are read from the player's
//! shared state when `/metrics` is scraped.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Latency bucket bounds in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
struct Hist {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
pub(crate) struct Metrics {
    requests: Mutex<BTreeMap<(String, &'static str, u16), u64>>,
    latency: Mutex<BTreeMap<&'static str, Hist>>,
    pub mqtt_connected: AtomicBool,
    pub acks: AtomicU64,
    pub status_messages: AtomicU64,
    /// Status messages and acks from ids that are not configured panels:
    /// counted, then dropped (nothing is kept per unknown id).
    pub unknown_panel_messages: AtomicU64,
    /// What the MQTT edge refused or dropped.
    pub mqtt: std::sync::Arc<crate::mqtt::Counters>,
    /// Whether this server leads (set once the data is open; unset, as
    /// on a file store, it does).
    pub lead: std::sync::OnceLock<crate::store::pg::Lead>,
}

impl Metrics {
    pub(crate) fn observe_http(
        &self,
        method: &str,
        route: &'static str,
        status: u16,
        took: Duration,
    ) {
        *self
            .requests
            .lock()
            .expect("metrics lock")
            .entry((method.to_string(), route, status))
            .or_default() += 1;
        let secs = took.as_secs_f64();
        let mut l = self.latency.lock().expect("metrics lock");
        let h = l.entry(route).or_default();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    /// Whether this server acts for the fleet (runs the player's output
    /// and publishes), and the epoch of its last takeover (0 on the file
    /// store, or before it first led).
    pub(crate) fn leadership(&self) -> (bool, i64) {
        let lead = self.lead.get().cloned().unwrap_or_default();
        (lead.leading(), lead.epoch())
    }

    /// This server's own gauges and counters: (name, help, value).
    fn own_gauges(&self) -> [(&'static str, &'static str, f64); 9] {
        let (leading, epoch) = self.leadership();
        [
            (
                "bangtin_leading",
                "1 while this server leads (runs the player's output and publishes); always 1 on the file store.",
                if leading { 1.0 } else { 0.0 },
            ),
            (
                "bangtin_leader_epoch",
                "The epoch of this server's last takeover on the PostgreSQL store (0 on the file store or before it first led).",
                epoch as f64,
            ),
            (
                "bangtin_mqtt_connected",
                "1 while the broker link is up.",
                if self.mqtt_connected.load(Ordering::Relaxed) {
                    1.0
                } else {
                    0.0
                },
            ),
            (
                "bangtin_acks_total",
                "Proof-of-play acknowledgements received.",
                self.acks.load(Ordering::Relaxed) as f64,
            ),
            (
                "bangtin_status_messages_total",
                "Controller status messages received.",
                self.status_messages.load(Ordering::Relaxed) as f64,
            ),
            (
                "bangtin_unknown_panel_messages_total",
                "Status messages and acks from ids that are not configured panels (dropped).",
                self.unknown_panel_messages.load(Ordering::Relaxed) as f64,
            ),
            (
                "bangtin_mqtt_dropped_messages_total",
                "Messages to the server dropped unread: oversized, malformed or on a topic it does not read.",
                self.mqtt.dropped.load(Ordering::Relaxed) as f64,
            ),
            (
                "bangtin_mqtt_refused_connections_total",
                "Connections the embedded broker refused (no or wrong credential, wrong client id).",
                self.mqtt.refused.load(Ordering::Relaxed) as f64,
            ),
            (
                "bangtin_mqtt_denied_total",
                "Publishes and subscriptions the embedded broker's ACL denied.",
                self.mqtt.denied.load(Ordering::Relaxed) as f64,
            ),
        ]
    }

    /// The exposition text; `extra` adds gauges owned by others.
    pub(crate) fn render(&self, extra: &[(&str, &str, f64)]) -> String {
        let mut out = String::new();
        out.push_str("# HELP bangtin_http_requests_total HTTP API requests by method, route and status.\n# TYPE bangtin_http_requests_total counter\n");
        for ((m, r, s), n) in self.requests.lock().expect("metrics lock").iter() {
            let _ = writeln!(
                out,
                "bangtin_http_requests_total{{method=\"{m}\",route=\"{r}\",status=\"{s}\"}} {n}"
            );
        }
        out.push_str("# HELP bangtin_http_request_seconds HTTP API latency by route.\n# TYPE bangtin_http_request_seconds histogram\n");
        for (r, h) in self.latency.lock().expect("metrics lock").iter() {
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "bangtin_http_request_seconds_bucket{{route=\"{r}\",le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "bangtin_http_request_seconds_bucket{{route=\"{r}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "bangtin_http_request_seconds_sum{{route=\"{r}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "bangtin_http_request_seconds_count{{route=\"{r}\"}} {}",
                h.count
            );
        }
        let own = self.own_gauges();
        for (name, help, v) in own.iter().chain(extra.iter()) {
            // Prometheus' naming rule: a `_total` is a counter (rate() and
            // increase() then handle restarts); anything else can go down.
            let kind = if name.ends_with("_total") {
                "counter"
            } else {
                "gauge"
            };
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
            );
        }
        out
    }
}
