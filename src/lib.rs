//! bangtin: government public information on LED billboards.
//!
//! # Layout
//! The pure core knows nothing of HTTP, MQTT, the disk or the clock:
//! - [`domain`]: the vocabulary (panels, messages, campaigns, alerts, roles) and value validation.
//! - [`frame`]: the BTF1 frame format, bytes in and bytes out.
//! - [`codec`]: BTZ1, the compressed frames controllers may opt into (run-length, deflate, deltas), and a decoder of fixed memory.
//! - [`render`]: Vietnamese text and images to panel-true pixels.
//! - [`schedule`]: cron and date windows, priorities, rotation; `resolve` decides what a panel shows at an instant.
//! - [`cap`]: official warnings (CAP 1.0–1.2): screening, parsing, area matching, rules, wording.
//! - [`i18n`]: the message catalogue: every sentence a person reads, in Vietnamese (default) and English; search folding.
//! - [`huidu`], [`colorlight`]: the vendor controllers' protocols as sans-IO codecs (Huidu SDK 2.0 and HD2020 realtime, Colorlight 5A-75 Ethernet frames).
//!
//! Around it, thin adapters:
//! - [`config`]: command line and environment, parsed once into a validated [`config::Config`].
//! - [`fsio`]: durable file writes (temp file, fsync, rename); knows no layout.
//! - [`store`]: the only module that knows the data directory layout; atomic, fsynced writes.
//! - [`auth`]: staff accounts' passwords (Argon2id), signed-in sessions, sign-in throttling; time is an argument.
//! - [`api`]: the only module that names warp: the HTTP API and the dashboard.
//! - [`mqtt`]: the only module that names rumqttc/rumqttd: publisher, embedded broker, reference controller.
//! - [`feeds`]: polls the CAP sources (conditional GET, back-off, health).
//! - [`player`]: the loop that wakes at the next change, renders (cached) and publishes frames.
//! - [`transport`]: delivery per panel: MQTT, Huidu cards (SDK 2.0, dialled or dialling in), HD2020 realtime bitmaps; the edge agent's Colorlight output.
//! - [`alarms`]: fleet alarms (a sign offline or not confirming its frames): a pure state machine per panel, and webhook and e-mail delivery.
//! - [`memory`]: the memory budget's shares and a cache bounded by bytes.
//! - [`app`]: wiring and graceful shutdown.
//!
//! And for the load tests and the test suite, never the server:
//! - [`local_postgres`]: a PostgreSQL cluster of one's own on loopback.

#![warn(unreachable_pub)]
#![warn(missing_docs)]
pub(crate) mod alarms;
pub(crate) mod api;
pub mod app;
pub(crate) mod auth;
pub mod broker_config;
pub mod bundle;
pub(crate) mod cap;
pub mod codec;
pub mod colorlight;
pub mod config;
pub mod domain;
pub(crate) mod feeds;
pub mod frame;
pub(crate) mod fsio;
pub mod huidu;
pub(crate) mod i18n;
pub mod local_postgres;
pub(crate) mod memory;
pub mod mqtt;
pub mod player;
pub mod render;
pub mod schedule;
pub mod store;
pub mod transport;
mod xml_text;
