//! Wiring only: opens the store, starts the broker link (or the embedded
//! broker), the player thread and the HTTP server, and shuts them down in
//! order. Takes its listener and its shutdown signal as arguments, so tests
//! run it on port 0 with their own shutdown.
//!
//! [`run`] reads as its steps: `open_data`, `connect_broker`,
//! `start_player`, `start_background_tasks` (store changes, hand edits,
//! retention, the online count), the inbound handler, alarms and CAP
//! feeds, `api_context` and the API, then `Running::shut_down`.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::alarms::{notify::Notifier, Alarms};
use crate::api::{self, broker::BrokerSecurity, metrics::Metrics, Ctx, Services};
use crate::config::Config;
use crate::feeds::Feeds;
use crate::mqtt::{self, BrokerUrl, Inbound, LinkOptions, Publisher, TlsFiles};
use crate::player::{self, Command, FrameSettings, Player, PlayerParts};
use crate::player::{Renditions, Schedules, Shared};
use crate::render::Renderer;
use crate::store::alarms::AlarmStore;
use crate::store::cap::ConfigFile;
use crate::store::credentials::Credentials;
use crate::store::pg::{Lead, Leadership};
use crate::store::plays::{PlayRecorder, PlayWriter, Plays, BATCH_WINDOW};
use crate::store::seq::SeqAllocator;
use crate::store::shared_files::SharedFiles;
use crate::store::tokens::TokenStore;
use crate::store::Store;
use crate::transport::{self, MqttDelivery, Transports};

/// How often `schedules/` is checked for hand edits.
const SCHEDULES_POLL: Duration = Duration::from_secs(2);
/// Above this many panels the hand-edit check (a stat of every data
/// file) runs every few polls instead of every one: one more poll per
/// this many panels, so 10,000 panels are checked every 10 s (measured:
/// the check every 2 s was about half of an idle server's 2.5 % CPU).
const PANELS_PER_POLL: usize = 2_000;
/// Proof-of-play rows are kept this long (a year and a bit, for annual reports).
const PLAYS_RETENTION_DAYS: i64 = 400;
/// How often rows older than the retention are removed.
const PLAYS_PRUNE_EVERY: Duration = Duration::from_secs(6 * 3600);
/// At shutdown, how long the inbound loop may take to drain.
const INBOUND_DRAIN: Duration = Duration::from_secs(2);
/// At shutdown, how long saving the last proof-of-play rows may take (a
/// stuck disk must not hold the exit).
const PLAYS_FLUSH: Duration = Duration::from_secs(3);

/// Loads the Ed25519 signing key (PKCS#8 PEM) named by `--signing-key`.
pub fn load_signing_key(path: &std::path::Path) -> anyhow::Result<ed25519_dalek::SigningKey> {
    crate::store::signing::load(path)
        .with_context(|| format!("loading the frame-signing key {}", path.display()))
}

/// Frames are always signed: with `--signing-key`, or with the data
/// directory's own key, created on first start.
fn frame_signer(config: &Config) -> anyhow::Result<ed25519_dalek::SigningKey> {
    match config.signing_key.as_deref() {
        Some(path) => load_signing_key(path),
        None => crate::store::signing::load_or_create(&config.data)
            .context("loading or creating the data directory's frame-signing key"),
    }
}

/// Who may use the embedded broker: a panel's controller with the
/// password issued for it, while the panel exists, or the server principal.
fn broker_access(store: Arc<Store>, credentials: Arc<Credentials>) -> Arc<dyn mqtt::Authenticate> {
    Arc::new(move |user: &str, password: &str| {
        let access = mqtt::Access::for_user(user)?;
        if let mqtt::Access::Panel(id) = &access {
            if !store.snapshot().panels.contains_key(id) {
                return None;
            }
        }
        credentials.verify(user, password).then_some(access)
    })
}

/// Runs the server on `listener` until `shutdown` resolves, then stops
/// in order; an error is a start-up that could not complete.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (data, seq) = open_data(&config)?;
    let signer = frame_signer(&config)?;
    let metrics = Arc::new(Metrics::default());
    let (publisher, inbound) = connect_broker(&config, &data, &metrics)?;
    let playing = start_player(&config, &data, seq, signer, &publisher).await?;
    start_background_tasks(&data, &playing, &publisher)?;
    let inbound_task = spawn_inbound(
        inbound,
        InboundHandler {
            store: data.store.clone(),
            shared: playing.shared.clone(),
            metrics: metrics.clone(),
            player: playing.player_tx.clone(),
            plays: playing.plays_writer.recorder(),
        },
    );
    let alarms = start_alarms(&config, &data, &playing.shared, &metrics);
    let feeds = Arc::new(Feeds::new(ConfigFile::open(&config.data)));
    feeds
        .clone()
        .spawn(data.store.clone(), config.tz, leading(data.lead.clone()));
    let ctx = api_context(&config, data, &playing, metrics, alarms, feeds);
    let addr = listener.local_addr()?;
    tracing::info!("listening on http://{addr}");
    println!("bangtin listening on http://{addr}");
    api::serve(ctx, listener, shutdown).await;
    Running {
        player_tx: playing.player_tx,
        player_thread: playing.player_thread,
        publisher,
        inbound_task,
        card_reports: playing.card_reports,
        plays_writer: playing.plays_writer,
    }
    .shut_down()
    .await;
    Ok(())
}

/// The player's thread and what it shares with the API and the
/// background tasks.
struct Playing {
    /// The render cache (pages per message version and profile).
    renditions: Arc<Renditions>,
    /// The schedule inputs per store generation, shared with the timeline.
    schedules: Arc<Schedules>,
    /// The live state the API reads.
    shared: Arc<Shared>,
    /// The memory budget the caches and the API's gate share.
    budget: crate::memory::Budget,
    /// The public half of the key frames are signed with.
    frame_key: ed25519_dalek::VerifyingKey,
    player_tx: std::sync::mpsc::Sender<Command>,
    player_thread: std::thread::JoinHandle<()>,
    /// Applies vendor cards' reports; holds a proof-of-play recorder.
    card_reports: tokio::task::AbortHandle,
    plays_writer: PlayWriter,
}

/// The player on its own thread, its frames signed and delivered over
/// each panel's transport (`start_transports`).
async fn start_player(
    config: &Config,
    data: &Data,
    seq: SeqAllocator,
    signer: ed25519_dalek::SigningKey,
    publisher: &Publisher,
) -> anyhow::Result<Playing> {
    let frame_key = signer.verifying_key();
    let budget = crate::memory::Budget::new(config.memory_budget);
    let renditions = Arc::new(Renditions::with_budget(Arc::new(Renderer::new()), &budget));
    let schedules = Arc::new(Schedules::new(
        data.store.clone(),
        renditions.clone(),
        config.tz,
    ));
    let shared = Arc::new(Shared::default());
    let mut player = Player::new(PlayerParts {
        store: data.store.clone(),
        renditions: renditions.clone(),
        shared: shared.clone(),
        schedules: schedules.clone(),
        seq,
        frames: FrameSettings {
            grace_s: config.frame_grace_s,
            signer: Some(signer),
            signing_threads: 0,
        },
    });
    // A follower decides what each panel shows (for its API) and stamps,
    // signs and sends nothing.
    player.follow_lead(leading(data.lead.clone()));
    player.set_bundle_horizon(
        (config.bundle_horizon_s > 0)
            .then(|| chrono::Duration::seconds(config.bundle_horizon_s.into())),
    );
    let plays_writer = PlayWriter::start(data.plays.clone(), BATCH_WINDOW);
    let transports =
        start_transports(config, &data.store, &shared, &plays_writer, publisher).await?;
    let card_reports = transports.reports_stopper();
    let transports = Arc::new(transports);
    // On the PostgreSQL store only the leader's frames go out, once its
    // player took the lead (not one made while following,
    // `Leadership::sends`), and a server that stops leading lets its
    // vendor cards go.
    stand_down_when_deposed(&data.lead, transports.clone());
    let lead = data.lead.clone();
    // Frames carry seqs: only once the player took this lead. Bundles and
    // withdrawals carry none: while leading.
    let gate = move |out: &player::Out| match out {
        player::Out::Frame { .. } => lead.sends(),
        player::Out::Bundle { .. } | player::Out::Clear { .. } => lead.leading(),
    };
    let (player_tx, player_thread) = player::spawn(player, move |out| {
        if gate(&out) {
            transports.route(out)
        }
    });
    campaign_for_the_lead(&data.store, &data.lead, player_tx.clone())?;
    Ok(Playing {
        renditions,
        schedules,
        shared,
        budget,
        frame_key,
        player_tx,
        player_thread,
        card_reports,
        plays_writer,
    })
}

/// Store changes wake the player; hand edits reload; old proof of play
/// is pruned; the fleet's online count is sampled; snapshot requests go
/// out over the broker link.
fn start_background_tasks(
    data: &Data,
    playing: &Playing,
    publisher: &Publisher,
) -> anyhow::Result<()> {
    wake_player_on_store_changes(&data.store, playing.player_tx.clone());
    follow_other_servers(&data.store)?;
    reload_hand_edits(
        data.store.clone(),
        data.tokens.clone(),
        data.accounts.clone(),
        data.shared.clone(),
    );
    prune_old_plays(data.plays.clone());
    sample_fleet_online(
        data.plays.clone(),
        data.store.clone(),
        playing.shared.clone(),
        data.lead.clone(),
    );
    forward_snapshot_requests(&playing.shared, publisher);
    Ok(())
}

/// What the HTTP API serves from: the data, the player's shared state,
/// the broker's security and the connection limits.
fn api_context(
    config: &Config,
    data: Data,
    playing: &Playing,
    metrics: Arc<Metrics>,
    alarms: Arc<Alarms>,
    feeds: Arc<Feeds>,
) -> Arc<Ctx> {
    let _ = metrics.lead.set(data.lead.clone());
    Arc::new(
        Ctx::new(Services {
            store: data.store,
            tokens: data.tokens,
            accounts: data.accounts,
            renditions: playing.renditions.clone(),
            shared: playing.shared.clone(),
            schedules: playing.schedules.clone(),
            plays: data.plays,
            metrics,
            tz: config.tz,
            allow_self_approval: config.allow_self_approval,
            feeds,
            alarms,
        })
        .with_broker(BrokerSecurity {
            credentials: Some(data.credentials),
            frame_key: Some(playing.frame_key),
            reports_authenticated: config.mqtt.is_none(),
        })
        .with_limits(api::Limits {
            max_connections: config.max_connections,
            max_connections_per_ip: config.max_connections_per_ip,
            header_timeout: config.header_timeout,
            memory: playing.budget,
            trusted_proxies: config.trusted_proxies.clone(),
        }),
    )
}

/// The data directory, opened.
struct Data {
    store: Arc<Store>,
    tokens: Arc<TokenStore>,
    accounts: Arc<crate::auth::Accounts>,
    plays: Arc<Plays>,
    /// Controllers' passwords for the embedded broker.
    credentials: Arc<Credentials>,
    /// On the PostgreSQL store: the files both servers keep alike.
    shared: Option<Arc<SharedFiles>>,
    /// On the PostgreSQL store: whether this server leads (runs the
    /// player's output and publishes).
    lead: Lead,
}

/// The data directory (or the PostgreSQL store) opened, and the frame
/// seqs' high-water marks (moved into the player).
fn open_data(config: &Config) -> anyhow::Result<(Data, SeqAllocator)> {
    let store = match &config.store {
        None => Store::open(&config.data)
            .with_context(|| format!("opening the data directory {}", config.data.display()))?,
        Some(url) => {
            let store = Store::open_postgres(url, &config.data)
                .with_context(|| format!("opening the store {}", crate::store::pg::redact(url)))?;
            tracing::info!("store: {}", crate::store::pg::redact(url));
            store
        }
    };
    let shared = share_files(config, &store)?;
    let tokens = TokenStore::open(&config.tokens_file, config.admin_token.as_deref())
        .with_context(|| format!("reading the token file {}", config.tokens_file.display()))?;
    let users = crate::store::users::users_file(&config.data);
    let accounts = crate::auth::Accounts::open(&users)
        .with_context(|| format!("reading the staff accounts {}", users.display()))?
        .with_idle(config.session_idle);
    let plays = match &config.store {
        Some(url) => {
            let plays = Plays::on_postgres(url).context("opening proof of play")?;
            let (rows, samples) =
                crate::store::migrate::adopt_local_plays(&store.plays_file(), &plays)
                    .context("moving this server's proof of play into the database")?;
            if rows + samples > 0 {
                tracing::info!("proof of play: {rows} rows and {samples} online samples kept by this server moved into the database");
            }
            plays
        }
        None => Plays::open(&store.plays_file()).context("opening proof of play")?,
    };
    let lead = match store.postgres() {
        Some(_) => Lead::contested(Arc::new(Leadership::default())),
        None => Lead::default(),
    };
    let seq = match (store.postgres(), lead.contest()) {
        (Some(db), Some(lead)) => {
            SeqAllocator::open_postgres(db.clone()).map(|s| s.following(lead.clone()))
        }
        _ => SeqAllocator::open(store.seq_file()),
    }
    .context("reading frame sequence numbers")?;
    let credentials = Credentials::open(&Credentials::default_path(&config.data))
        .context("reading the controllers' broker credentials")?;
    if let Some(files) = &shared {
        // Their writes go through the database before they are answered.
        tokens.share(files);
        accounts.users().share(files);
        credentials.share(files);
    }
    let data = Data {
        credentials: Arc::new(credentials),
        store: Arc::new(store),
        tokens: Arc::new(tokens),
        accounts: Arc::new(accounts),
        plays: Arc::new(plays),
        shared,
        lead,
    };
    Ok((data, seq))
}

/// On the PostgreSQL store: the files both servers keep alike, taken from
/// the database (or offered to it) before anyone reads them; the frame
/// signing key is made first if there is none, so that two servers
/// starting together agree on one.
fn share_files(config: &Config, store: &Store) -> anyhow::Result<Option<Arc<SharedFiles>>> {
    let Some(db) = store.postgres() else {
        return Ok(None);
    };
    let shared = SharedFiles::new(
        db.clone(),
        crate::store::shared_files::default_files(&config.data, &config.tokens_file),
    );
    shared.start().context("taking the shared files")?;
    if config.signing_key.is_none() {
        crate::store::signing::load_or_create(&config.data)
            .context("loading or creating the data directory's frame-signing key")?;
        shared.start().context("taking the shared files")?;
    }
    Ok(Some(Arc::new(shared)))
}

/// Starts the embedded broker unless `--mqtt` names one, then the link.
fn connect_broker(
    config: &Config,
    data: &Data,
    metrics: &Metrics,
) -> anyhow::Result<(Publisher, mpsc::Receiver<Inbound>)> {
    let url: BrokerUrl = match &config.mqtt {
        Some(u) => u.parse()?,
        None => {
            let broker = mqtt::start_embedded_broker(
                config.broker_listen,
                &config.topic_root,
                broker_access(data.store.clone(), data.credentials.clone()),
                metrics.mqtt.clone(),
            )
            .context("starting the embedded MQTT broker")?;
            tracing::info!("embedded MQTT broker on mqtt://{}", config.broker_listen);
            // The server's own link goes to rumqttd, past the gateway (its guard still applies).
            broker.internal
        }
    };
    let link = mqtt::try_connect(LinkOptions {
        url,
        tls: TlsFiles {
            ca: config.mqtt_ca.clone(),
            cert: config.mqtt_cert.clone(),
            key: config.mqtt_key.clone(),
        },
        topic_root: config.topic_root.clone(),
        // Two servers on one store share one broker: their process ids
        // may be alike (containers), so theirs also carry the instance.
        client_id: match data.store.postgres() {
            None => format!("bangtin-server-{}", std::process::id()),
            Some(db) => format!("bangtin-server-{}-{}", std::process::id(), db.instance),
        },
        max_packet: mqtt::DEFAULT_MAX_PACKET,
        counters: metrics.mqtt.clone(),
    })?;
    Ok(link)
}

/// Delivery: every frame goes over its panel's transport (MQTT through
/// the broker link, Huidu and HD2020 cards over TCP); vendor cards'
/// reports become status, links and proof of play.
async fn start_transports(
    config: &Config,
    store: &Arc<Store>,
    shared: &Arc<Shared>,
    plays: &PlayWriter,
    publisher: &Publisher,
) -> anyhow::Result<Transports> {
    let mqtt = MqttDelivery::new(publisher.clone(), tokio::runtime::Handle::current());
    let recorder = plays.recorder();
    Transports::start(
        store.clone(),
        shared.clone(),
        Box::new(move |play| recorder.record(play)),
        Box::new(mqtt),
        transport::Options {
            huidu_listen: config.huidu_listen,
            ..Default::default()
        },
    )
    .await
}

fn wake_player_on_store_changes(store: &Store, player: std::sync::mpsc::Sender<Command>) {
    let mut changes = store.subscribe();
    tokio::spawn(async move {
        while changes.changed().await.is_ok() {
            if player.send(Command::StoreChanged).is_err() {
                break;
            }
        }
    });
}

/// Hand edits in `content/panels`, `content/messages`, `schedules/` and
/// the token file are picked up live.
fn reload_hand_edits(
    store: Arc<Store>,
    tokens: Arc<TokenStore>,
    accounts: Arc<crate::auth::Accounts>,
    shared: Option<Arc<SharedFiles>>,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SCHEDULES_POLL);
        let mut polls: usize = 0;
        loop {
            tick.tick().await;
            polls += 1;
            let every = 1 + store.snapshot().panels.len() / PANELS_PER_POLL;
            let files_due = polls.is_multiple_of(every);
            let (store, tokens, accounts) = (store.clone(), tokens.clone(), accounts.clone());
            let shared = shared.clone();
            let _ = tokio::task::spawn_blocking(move || {
                if files_due {
                    store.reload_hand_edits();
                }
                if let Some(Err(e)) = shared.map(|s| s.sync()) {
                    tracing::warn!("keeping the shared files alike: {e}");
                }
                tokens.reload_if_changed();
                tokens.write_last_used();
                if accounts.users().reload_if_changed() {
                    // Roles may have changed or accounts gone.
                    tokens.notify_revoked();
                }
            })
            .await;
        }
    });
}

/// On the PostgreSQL store: tries for the lead; on each takeover the
/// player sends every panel its frame again (its sequence numbers read
/// again above the last leader's).
fn campaign_for_the_lead(
    store: &Store,
    lead: &Lead,
    player: std::sync::mpsc::Sender<Command>,
) -> anyhow::Result<()> {
    let (Some(db), Some(lead)) = (store.postgres(), lead.contest()) else {
        return Ok(());
    };
    db.campaign(lead.clone(), move |_epoch| {
        let _ = player.send(Command::TookLead);
    })
    .context("trying for the lead")
}

/// On the PostgreSQL store: reads it again when another server changed
/// it (its notification), and every [`crate::store::PG_REREAD`] in case a
/// notification was lost. Ends with the store.
fn follow_other_servers(store: &Arc<Store>) -> anyhow::Result<()> {
    use std::sync::mpsc::RecvTimeoutError;
    let Some(db) = store.postgres() else {
        return Ok(());
    };
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let me = db.instance.clone();
    db.listen(move |from| from == Some(me.as_str()) || tx.send(()).is_ok())
        .context("listening for other servers' changes")?;
    let store = Arc::downgrade(store);
    std::thread::Builder::new()
        .name("store-reread".into())
        .spawn(move || loop {
            if let Err(RecvTimeoutError::Disconnected) = rx.recv_timeout(crate::store::PG_REREAD) {
                return;
            }
            while rx.try_recv().is_ok() {}
            loop {
                let Some(store) = store.upgrade() else {
                    return;
                };
                match store.reread() {
                    Ok(Some(_)) => break,
                    // This server's own changes are on their way: soon.
                    Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                    Err(e) => {
                        tracing::warn!("reading the store again: {e}");
                        break;
                    }
                }
            }
        })
        .context("starting the store's reader")?;
    Ok(())
}

fn prune_old_plays(plays: Arc<Plays>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PLAYS_PRUNE_EVERY);
        loop {
            tick.tick().await;
            let plays = plays.clone();
            let cutoff = Utc::now() - chrono::Duration::days(PLAYS_RETENTION_DAYS);
            if let Ok(Ok(n)) = tokio::task::spawn_blocking(move || plays.prune_before(cutoff)).await
            {
                if n > 0 {
                    tracing::info!(
                        "proof of play: {n} rows older than {PLAYS_RETENTION_DAYS} days removed"
                    );
                }
            }
        }
    });
}

/// Signs online over time, for the reports' availability chart: sampled
/// by the leader (on PostgreSQL every server reports from one table).
fn sample_fleet_online(plays: Arc<Plays>, store: Arc<Store>, shared: Arc<Shared>, lead: Lead) {
    tokio::spawn(crate::store::online::sample_forever(
        plays,
        crate::store::online::SAMPLE_EVERY,
        chrono::Duration::days(PLAYS_RETENTION_DAYS),
        move || {
            if !lead.leading() {
                return None;
            }
            let snap = store.snapshot();
            let online = shared.online_among(snap.panels.keys());
            Some((online as u32, snap.panels.len() as u32))
        },
    ));
}

/// Fleet alarms: the monitor looks at every panel each second; notices
/// go to the webhook and by e-mail.
fn start_alarms(
    config: &Config,
    data: &Data,
    shared: &Arc<Shared>,
    metrics: &Arc<Metrics>,
) -> Arc<Alarms> {
    let files = Arc::new(AlarmStore::open(&config.data));
    if let Some(shared) = &data.shared {
        files.share(shared);
    }
    let notifier = Notifier::start(files.clone(), config.tz);
    let alarms = Arc::new(Alarms::new(files, notifier, config.tz));
    let m = metrics.clone();
    alarms.clone().spawn(
        data.store.clone(),
        shared.clone(),
        move || m.mqtt_connected.load(Ordering::Relaxed),
        leading(data.lead.clone()),
    );
    alarms
}

/// On the PostgreSQL store: once a second, while this server does not
/// lead, lets go of any vendor card it still drives
/// ([`Transports::stand_down`]; a frame routed just before the lead was
/// lost is let go the next second).
fn stand_down_when_deposed(lead: &Lead, transports: Arc<Transports>) {
    let Some(lead) = lead.contest().cloned() else {
        return;
    };
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            tick.tick().await;
            if !lead.leading() {
                transports.stand_down(|| !lead.leading());
            }
        }
    });
}

/// Asks whether this server acts for the fleet ([`Lead::leading`]).
fn leading(lead: Lead) -> impl Fn() -> bool + Send + 'static {
    move || lead.leading()
}

/// What the controllers (and the link itself) say.
struct InboundHandler {
    /// Only configured panels are listened to.
    store: Arc<Store>,
    shared: Arc<Shared>,
    metrics: Arc<Metrics>,
    player: std::sync::mpsc::Sender<Command>,
    plays: PlayRecorder,
}

impl InboundHandler {
    fn handle(&self, event: Inbound) {
        let m = &self.metrics;
        // Nothing is kept for an id that is not a configured panel: acks
        // for made-up ids cost a lookup, never memory.
        if let Inbound::Status { panel, .. }
        | Inbound::Ack { panel, .. }
        | Inbound::Snapshot { panel, .. } = &event
        {
            if !self.store.snapshot().panels.contains_key(panel) {
                m.unknown_panel_messages.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        match event {
            Inbound::Connected => {
                m.mqtt_connected.store(true, Ordering::Relaxed);
                tracing::info!("broker link up: republishing every panel's frame");
                let _ = self.player.send(Command::BrokerReconnected);
            }
            Inbound::Disconnected => m.mqtt_connected.store(false, Ordering::Relaxed),
            Inbound::Status {
                panel,
                online,
                firmware,
                seq,
                accepts,
            } => {
                m.status_messages.fetch_add(1, Ordering::Relaxed);
                self.shared
                    .status(&panel, online, firmware, seq, Utc::now());
                let owed = self.shared.decodes(&panel, accepts, seq);
                if online && owed.bundle {
                    let _ = self.player.send(Command::Bundle(panel.clone()));
                }
                if online && owed.full_frame {
                    let _ = self.player.send(Command::Resend(panel));
                }
            }
            Inbound::Ack { panel, seq, crc } => {
                m.acks.fetch_add(1, Ordering::Relaxed);
                let now = Utc::now();
                match self.shared.played(&panel, seq, crc, now) {
                    Some(a) => self.plays.record(transport::play_of(&panel, a)),
                    None => tracing::debug!(panel = %panel, seq, "ack for a frame not remembered"),
                }
            }
            Inbound::Snapshot { panel, frame } => {
                self.shared.snapshot_arrived(&panel, frame, Utc::now());
            }
        }
    }
}

/// Publishes the API's snapshot requests on the panels' request topics.
fn forward_snapshot_requests(shared: &Shared, publisher: &Publisher) {
    let mut asked = shared.snapshot_requests.subscribe();
    let publisher = publisher.clone();
    tokio::spawn(async move {
        loop {
            match asked.recv().await {
                Ok(panel) => {
                    if let Err(e) = publisher.request_snapshot(&panel).await {
                        tracing::warn!(%panel, error = %e, "snapshot request not sent");
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(
                        dropped = n,
                        "snapshot requests came faster than they were sent"
                    );
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
}

fn spawn_inbound(mut inbound: mpsc::Receiver<Inbound>, handler: InboundHandler) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(event) = inbound.recv().await {
            handler.handle(event);
        }
    })
}

/// What is left to stop once the HTTP server has.
struct Running {
    player_tx: std::sync::mpsc::Sender<Command>,
    player_thread: std::thread::JoinHandle<()>,
    publisher: Publisher,
    inbound_task: JoinHandle<()>,
    /// Applies vendor cards' reports; holds a proof-of-play recorder.
    card_reports: tokio::task::AbortHandle,
    plays_writer: PlayWriter,
}

impl Running {
    /// Stops the player, tells the broker we are offline, then saves the
    /// last proof of play. Each wait is bounded.
    async fn shut_down(self) {
        tracing::info!("shutting down: stopping the player, telling the broker we are offline");
        let _ = self.player_tx.send(Command::Shutdown);
        let player_thread = self.player_thread;
        let _ = tokio::task::spawn_blocking(move || player_thread.join()).await;
        self.publisher.shutdown().await;
        // The link is closed: the inbound loop ends and drops its recorder,
        // so closing the writer saves the last batch at once.
        let _ = tokio::time::timeout(INBOUND_DRAIN, self.inbound_task).await;
        self.card_reports.abort();
        let writer = self.plays_writer;
        let flush = tokio::task::spawn_blocking(move || writer.close());
        match tokio::time::timeout(PLAYS_FLUSH, flush).await {
            Ok(_) => tracing::info!("proof of play saved; bye"),
            Err(_) => tracing::warn!("proof of play writer did not finish in {PLAYS_FLUSH:?}"),
        }
    }
}
