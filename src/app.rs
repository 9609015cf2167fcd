//! Wiring only: opens the store, starts the broker link (or the embedded
//! broker), the player thread and the HTTP server, and shuts them down in
//! order. Takes its listener and its shutdown signal as arguments, so tests
//! run it on port 0 with their own shutdown.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::api::{self, metrics::Metrics, Ctx};
use crate::config::Config;
use crate::mqtt::{self, Inbound, LinkOptions, TlsFiles};
use crate::player::{self, Command, Out, Player, Renditions, Shared};
use crate::render::Renderer;
use crate::store::plays::{Play, Plays};
use crate::store::seq::SeqAllocator;
use crate::store::tokens::TokenStore;
use crate::store::Store;

/// How often `schedules/` is checked for hand edits.
const SCHEDULES_POLL: Duration = Duration::from_secs(2);
/// Proof-of-play rows are kept this long (a year and a bit, for annual reports).
const PLAYS_RETENTION_DAYS: i64 = 400;

/// Loads the Ed25519 signing key (PKCS#8 PEM) when one is configured.
pub fn load_signing_key(path: &std::path::Path) -> anyhow::Result<ed25519_dalek::SigningKey> {
    use ed25519_dalek::pkcs8::DecodePrivateKey;
    let pem = std::fs::read_to_string(path)
        .with_context(|| format!("reading signing key {}", path.display()))?;
    ed25519_dalek::SigningKey::from_pkcs8_pem(&pem).map_err(|e| {
        anyhow::anyhow!(
            "{} is not an Ed25519 private key in PKCS#8 PEM: {e}",
            path.display()
        )
    })
}

pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = Arc::new(Store::open(&config.data)?);
    let tokens = Arc::new(
        TokenStore::open(&config.tokens_file, config.admin_token.as_deref())
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    );
    let plays = Arc::new(Plays::open(&store.state_dir().join("plays.redb"))?);
    let seq = SeqAllocator::open(store.state_dir().join("seq.json"))
        .context("reading frame sequence numbers")?;
    let signer = config
        .signing_key
        .as_deref()
        .map(load_signing_key)
        .transpose()?;
    let budget = crate::memory::Budget::new(config.memory_budget);
    let renditions = Arc::new(Renditions::with_budget(Arc::new(Renderer::new()), &budget));
    let shared = Arc::new(Shared::default());
    let metrics = Arc::new(Metrics::default());

    // The broker link.
    let url = match &config.mqtt {
        Some(u) => u
            .parse()
            .map_err(|e: crate::domain::Invalid| anyhow::anyhow!("{e}"))?,
        None => {
            mqtt::start_embedded_broker(config.broker_listen)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            tracing::info!("embedded MQTT broker on mqtt://{}", config.broker_listen);
            format!("mqtt://{}", config.broker_listen)
                .parse()
                .map_err(|e: crate::domain::Invalid| anyhow::anyhow!("{e}"))?
        }
    };
    let (publisher, mut inbound) = mqtt::try_connect(LinkOptions {
        url,
        tls: TlsFiles {
            ca: config.mqtt_ca.clone(),
            cert: config.mqtt_cert.clone(),
            key: config.mqtt_key.clone(),
        },
        topic_root: config.topic_root.clone(),
        client_id: format!("bangtin-server-{}", std::process::id()),
        max_packet: mqtt::DEFAULT_MAX_PACKET,
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;

    // The player, on its own thread; frames go to the broker link. While
    // the link is down frames are not queued: every panel is republished
    // when it comes back.
    let player = Player::new(
        store.clone(),
        renditions.clone(),
        shared.clone(),
        seq,
        config.tz,
        config.frame_grace_s,
        signer,
    );
    let rt = tokio::runtime::Handle::current();
    let pub2 = publisher.clone();
    let (player_tx, player_thread) = player::spawn(player, move |out| {
        if !pub2.is_connected() {
            return;
        }
        let r = match out {
            Out::Frame { panel, frame } => rt.block_on(pub2.publish_frame(&panel, frame)),
            Out::Clear { panel } => rt.block_on(pub2.clear_frame(&panel)),
        };
        if let Err(e) = r {
            tracing::warn!("frame not handed to the broker link: {e}");
        }
    });

    // Store changes wake the player.
    let mut changes = store.subscribe();
    let tx = player_tx.clone();
    tokio::spawn(async move {
        while changes.changed().await.is_ok() {
            if tx.send(Command::StoreChanged).is_err() {
                break;
            }
        }
    });

    // Hand edits in schedules/ and the token file.
    let (s2, t2) = (store.clone(), tokens.clone());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SCHEDULES_POLL);
        loop {
            tick.tick().await;
            let (s, t) = (s2.clone(), t2.clone());
            let _ = tokio::task::spawn_blocking(move || {
                s.reload_hand_edits();
                t.reload_if_changed();
            })
            .await;
        }
    });

    // Proof of play: acks are batched into one durable write each 100 ms.
    let (play_tx, mut play_rx) = mpsc::unbounded_channel::<Play>();
    let p2 = plays.clone();
    let plays_writer = tokio::spawn(async move {
        while let Some(first) = play_rx.recv().await {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let mut batch = vec![first];
            while let Ok(p) = play_rx.try_recv() {
                batch.push(p);
            }
            let p = p2.clone();
            match tokio::task::spawn_blocking(move || p.insert(&batch)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!("proof of play not saved: {e}"),
                Err(e) => tracing::error!("proof of play writer failed: {e}"),
            }
        }
    });
    let p3 = plays.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(6 * 3600));
        loop {
            tick.tick().await;
            let p = p3.clone();
            let cutoff = Utc::now() - chrono::Duration::days(PLAYS_RETENTION_DAYS);
            if let Ok(Ok(n)) = tokio::task::spawn_blocking(move || p.prune_before(cutoff)).await {
                if n > 0 {
                    tracing::info!(
                        "proof of play: {n} rows older than {PLAYS_RETENTION_DAYS} days removed"
                    );
                }
            }
        }
    });

    // What the controllers say.
    let (sh, m2, tx) = (shared.clone(), metrics.clone(), player_tx.clone());
    let (pub3, st) = (publisher.clone(), store.clone());
    let inbound_task = tokio::spawn(async move {
        while let Some(ev) = inbound.recv().await {
            // Nothing is kept for an id that is not a configured panel.
            if let Inbound::Status { panel, .. } | Inbound::Ack { panel, .. } = &ev {
                if !st.snapshot().panels.contains_key(panel) {
                    m2.unknown_panel_messages.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            }
            match ev {
                Inbound::Connected => {
                    m2.mqtt_connected.store(true, Ordering::Relaxed);
                    tracing::info!("broker link up: republishing every panel's frame");
                    let _ = tx.send(Command::RepublishAll);
                }
                Inbound::Status {
                    panel,
                    online,
                    firmware,
                    seq,
                } => {
                    m2.status_messages.fetch_add(1, Ordering::Relaxed);
                    sh.status(&panel, online, firmware, seq, Utc::now());
                }
                Inbound::Ack { panel, seq } => {
                    m2.acks.fetch_add(1, Ordering::Relaxed);
                    let now = Utc::now();
                    match sh.played(&panel, seq, now) {
                        Some(p) => {
                            let _ = play_tx.send(Play {
                                panel: panel.to_string(),
                                message: p.message.map(|m| m.to_string()),
                                campaign: p.campaign.map(|c| c.to_string()),
                                alert: p.alert.map(|a| a.to_string()),
                                seq,
                                shown_at: now,
                            });
                        }
                        None => {
                            tracing::debug!(panel = %panel, seq, "ack for a frame not remembered")
                        }
                    }
                }
            }
            m2.mqtt_connected
                .store(pub3.is_connected(), Ordering::Relaxed);
        }
    });

    // The inbound loop above sees a reconnect but not a loss (the link
    // just goes quiet): mirror the link's state so /status and /metrics do
    // not claim a connection during a broker outage.
    let (m4, pub4) = (metrics.clone(), publisher.clone());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tick.tick().await;
            m4.mqtt_connected
                .store(pub4.is_connected(), Ordering::Relaxed);
        }
    });

    let ctx = Arc::new(
        Ctx::new(
            store.clone(),
            tokens,
            renditions,
            shared,
            plays,
            metrics,
            config.tz,
            config.allow_self_approval,
        )
        .with_limits(api::Limits {
            max_connections: config.max_connections,
            max_connections_per_ip: config.max_connections_per_ip,
            header_timeout: config.header_timeout,
            memory: budget,
        }),
    );
    let addr = listener.local_addr()?;
    tracing::info!("listening on http://{addr}");
    println!("bangtin listening on http://{addr}");
    api::serve(ctx, listener, shutdown).await;

    tracing::info!("shutting down: stopping the player, telling the broker we are offline");
    let _ = player_tx.send(Command::Shutdown);
    let _ = tokio::task::spawn_blocking(move || player_thread.join()).await;
    publisher.shutdown().await;
    // The link is closed: the inbound loop ends, which closes the plays
    // channel, and the writer saves its last batch. Bounded, so a stuck
    // disk cannot hold the exit.
    let _ = tokio::time::timeout(Duration::from_secs(2), inbound_task).await;
    match tokio::time::timeout(Duration::from_secs(3), plays_writer).await {
        Ok(_) => tracing::info!("proof of play saved; bye"),
        Err(_) => tracing::warn!("proof of play writer did not finish in 3 s"),
    }
    Ok(())
}
