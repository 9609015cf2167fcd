//! The `bangtin` binary: glue between the command line and the library.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use bangtin::config::{ServeArgs, ADMIN_TOKEN_ENV};
use bangtin::domain::{PixelFormat, Role};

mod loadtest;

#[derive(Parser)]
#[command(
    name = "bangtin",
    version,
    about = "Government public information on LED billboards"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the server (the default).
    Serve(ServeArgs),
    /// Manage API tokens in the token file.
    Token {
        #[command(subcommand)]
        cmd: TokenCmd,
    },
    /// Panels in bulk.
    Panels {
        #[command(subcommand)]
        cmd: PanelsCmd,
    },
    /// Run a reference LED controller (or a simulated fleet).
    Controller(bangtin::mqtt::controller::ControllerArgs),
    /// Render each line of a text file for a panel profile; prints frames/s.
    Render(RenderArgs),
    /// Load and throughput tests: publish, image, province.
    Loadtest(loadtest::LoadtestArgs),
    /// Frame-signing keys.
    Keys {
        #[command(subcommand)]
        cmd: KeysCmd,
    },
    /// Issue (or rotate) a password for the embedded MQTT broker and print
    /// it once: a panel's controller credential, or the server principal's.
    Credential(CredentialArgs),
    /// Write Mosquitto's configuration for a provincial broker and one
    /// bridged broker per district (docs/DEPLOYMENT.md): mosquitto.conf,
    /// passwd and acl per broker, the controllers' passwords, bangtin.env.
    BrokerConfig(BrokerConfigArgs),
    /// The store: move a data directory into PostgreSQL and back.
    Store {
        #[command(subcommand)]
        cmd: StoreCmd,
    },
}

#[derive(Subcommand)]
enum StoreCmd {
    /// Move a data directory into an empty PostgreSQL store (--to), or a
    /// PostgreSQL store out into an empty directory (--from): documents,
    /// images, the audit trail, sequence marks and the shared files.
    Migrate {
        /// The data directory: read with --to, written with --from.
        #[arg(long, env = "BANGTIN_DATA", default_value = ".")]
        data: PathBuf,
        /// Into this PostgreSQL store (postgres://…).
        #[arg(long, conflicts_with = "from", required_unless_present = "from")]
        to: Option<String>,
        /// Out of this PostgreSQL store (postgres://…).
        #[arg(long)]
        from: Option<String>,
    },
}

#[derive(clap::Args)]
struct BrokerConfigArgs {
    /// The province file (JSON): the provincial broker and one broker per
    /// district group.
    #[arg(long, value_name = "FILE")]
    province: PathBuf,
    /// Where each broker's files go (OUT/province, OUT/{group}), with
    /// OUT/secrets.json, every password, kept for the next run.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Data directory: the panels and their groups.
    #[arg(long, env = "BANGTIN_DATA", default_value = ".")]
    data: PathBuf,
}

#[derive(clap::Args)]
struct CredentialArgs {
    /// The panel whose controller gets the credential (user name and
    /// client id = panel id).
    #[arg(long, required_unless_present = "server", conflicts_with = "server")]
    panel: Option<bangtin::domain::Id>,
    /// The server principal (user name bangtin-server), which may use every
    /// topic: for operators' tools.
    #[arg(long)]
    server: bool,
    /// Data directory (the file is DIR/secrets/mqtt-credentials.json).
    #[arg(long, env = "BANGTIN_DATA", default_value = ".")]
    data: PathBuf,
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Create a token and print it once.
    Add {
        #[arg(long)]
        name: String,
        /// Comma-separated: editor, approver, scheduler, operator, admin, feed.
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
        /// Data directory (the token file is DIR/secrets/tokens.json).
        #[arg(long, env = "BANGTIN_DATA", default_value = ".")]
        data: PathBuf,
        /// Token file, if not the default.
        #[arg(long, env = "BANGTIN_TOKENS")]
        tokens: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum PanelsCmd {
    /// Create or replace the panels of FILE (.csv with a header row, or
    /// .json: an array of panels), all or nothing, in the data directory.
    /// Works offline: stop the server first (it holds the data in memory),
    /// or send the file to a running server: POST /api/v1/panels:import.
    Import {
        file: PathBuf,
        #[arg(long, env = "BANGTIN_DATA", default_value = ".")]
        data: PathBuf,
        /// Who the audit trail names for the import.
        #[arg(long = "as", default_value = "command line")]
        who: String,
    },
}

#[derive(Subcommand)]
enum KeysCmd {
    /// Write a new Ed25519 key pair: PRIVATE (PKCS#8 PEM, mode 600) and PRIVATE.pub (hex public key for controllers).
    Generate {
        /// Where to write the private key; default: the data directory's
        /// own key file (DIR/secrets/frame-signing.pem).
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long, env = "BANGTIN_DATA", default_value = ".")]
        data: PathBuf,
    },
    /// Print the public key frames are signed with (64 hex digits), for
    /// controllers' --public-key: the --signing-key given, else the data
    /// directory's own key (created if the server has not yet).
    Public {
        #[arg(long, env = "BANGTIN_SIGNING_KEY")]
        signing_key: Option<PathBuf>,
        #[arg(long, env = "BANGTIN_DATA", default_value = ".")]
        data: PathBuf,
    },
}

#[derive(clap::Args)]
struct RenderArgs {
    /// UTF-8 text file; each non-empty line is one message.
    #[arg(long)]
    text_file: PathBuf,
    #[arg(long)]
    width: u16,
    #[arg(long)]
    height: u16,
    #[arg(long, default_value = "rgb888")]
    format: String,
    /// Write a PNG preview of every page here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Render the corpus this many times (for steadier figures).
    #[arg(long, default_value_t = 1)]
    repeat: u32,
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rumqttd=off,rumqttc=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
}

/// glibc's allocator gives threads their own arenas (up to eight per core)
/// and keeps what is freed inside each; with the blocking pool's many
/// decoding and rendering threads, memory freed by one burst (uploads) is
/// not reused by the next (previews) and the process grows past what the
/// memory budget accounts for (measured: 542 MiB peak under a 512 MiB
/// budget; a one-hour soak plateaued with 60 MiB held only by arenas).
/// The allocator reads its arena limit from the environment at start, so
/// the process starts itself again, once, with `MALLOC_ARENA_MAX=2` unless
/// the operator chose a value. `exec` keeps the pid and open descriptors.
fn few_malloc_arenas() {
    use std::os::unix::process::CommandExt;
    if !cfg!(target_env = "gnu") || std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let err = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("MALLOC_ARENA_MAX", "2")
        .exec();
    eprintln!("note: could not restart with MALLOC_ARENA_MAX=2 ({err}); going on without");
}

fn main() -> std::process::ExitCode {
    few_malloc_arenas();
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", bangtin::config::terminal_refusal(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        None => serve(cli.serve),
        Some(Cmd::Serve(a)) => serve(a),
        Some(Cmd::Token { cmd }) => token(cmd),
        Some(Cmd::Panels { cmd }) => panels(cmd),
        Some(Cmd::Controller(a)) => {
            init_logging();
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(async move {
                let stop = shutdown_signal()?;
                bangtin::mqtt::controller::run(a, stop).await
            })
        }
        Some(Cmd::Render(a)) => render(a),
        Some(Cmd::Keys { cmd }) => keys(cmd),
        Some(Cmd::Credential(a)) => credential(a),
        Some(Cmd::Loadtest(a)) => loadtest::run(a),
        Some(Cmd::BrokerConfig(a)) => broker_config(a),
        Some(Cmd::Store { cmd }) => store(cmd),
    }
}

fn broker_config(a: BrokerConfigArgs) -> anyhow::Result<()> {
    let store = bangtin::store::Store::open(&a.data)
        .with_context(|| format!("opening the data directory {}", a.data.display()))?;
    let snapshot = store.snapshot();
    let s = bangtin::broker_config::write::run(&a.province, snapshot.panels.values(), &a.out)?;
    for (name, panels) in &s.brokers {
        println!("{name}: {panels} panels");
    }
    println!(
        "{} files in {} ({} new passwords; the others kept from secrets.json)",
        s.files.len(),
        a.out.display(),
        s.new_users
    );
    if let Some(until) = s.certificates_until {
        println!(
            "TLS: every broker's certificate is valid until {until}; run this again before then (the CA in {}/ca stays)",
            a.out.display()
        );
    }
    Ok(())
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    init_logging();
    let config = args.into_config(std::env::var(ADMIN_TOKEN_ENV).ok())?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        // Before the port opens: a SIGTERM that comes as soon as the port
        // answers must already find the handler.
        let stop = shutdown_signal()?;
        let listener = tokio::net::TcpListener::bind(config.http)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on {} (is another server running there?)",
                    config.http
                )
            })?;
        bangtin::app::run(config, listener, stop).await
    })
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this
/// is called, not when the future is first polled.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

fn token(cmd: TokenCmd) -> anyhow::Result<()> {
    match cmd {
        TokenCmd::Add {
            name,
            roles,
            data,
            tokens,
        } => {
            let roles: Vec<Role> = roles
                .iter()
                .map(|r| r.trim().parse())
                .collect::<Result<_, bangtin::domain::Invalid>>()?;
            let path = tokens.unwrap_or_else(|| bangtin::store::tokens_file(&data));
            let store = bangtin::store::tokens::TokenStore::open(&path, None)
                .with_context(|| format!("reading the token file {}", path.display()))?;
            let t = store.create(&name, &roles)?;
            eprintln!(
                "token for {name:?} saved (hashed) in {}; it is shown only now:",
                path.display()
            );
            println!("{t}");
            Ok(())
        }
    }
}

fn panels(cmd: PanelsCmd) -> anyhow::Result<()> {
    use bangtin::store::import::{parse_panels, ImportFormat};
    let PanelsCmd::Import { file, data, who } = cmd;
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let format = ImportFormat::from_file_name(name)
        .with_context(|| format!("{}: name a .csv or .json file", file.display()))?;
    let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
    let store = bangtin::store::Store::open(&data)
        .with_context(|| format!("opening the data directory {}", data.display()))?;
    // A running server keeps the proof-of-play database open (and locked);
    // panels written behind its back would not reach its memory.
    bangtin::store::plays::Plays::open(&store.plays_file()).with_context(|| {
        format!(
            "{} looks in use: if a server runs on it, stop it first or send the file to POST /api/v1/panels:import",
            data.display()
        )
    })?;
    let panels = parse_panels(&bytes, format).with_context(|| format!("{}", file.display()))?;
    let s = store.import_panels(panels, &who)?;
    println!(
        "{}: {} created, {} updated, {} unchanged",
        file.display(),
        s.created,
        s.updated,
        s.unchanged
    );
    Ok(())
}

fn store(cmd: StoreCmd) -> anyhow::Result<()> {
    use bangtin::store::{migrate, pg::redact};
    let StoreCmd::Migrate { data, to, from } = cmd;
    let moved = match (to, from) {
        (Some(url), _) => migrate::into_postgres(&data, &url)
            .with_context(|| format!("moving {} into {}", data.display(), redact(&url)))?,
        (None, Some(url)) => migrate::out_of_postgres(&url, &data)
            .with_context(|| format!("moving {} out into {}", redact(&url), data.display()))?,
        (None, None) => unreachable!("clap requires --to or --from"),
    };
    println!(
        "{} documents, {} images and CAP documents, {} audit entries, {} sequence marks, {} shared files, {} proof-of-play rows, {} online samples",
        moved.documents, moved.blobs, moved.audit, moved.seq_marks, moved.shared, moved.plays, moved.online
    );
    Ok(())
}

fn keys(cmd: KeysCmd) -> anyhow::Result<()> {
    use bangtin::store::signing;
    match cmd {
        KeysCmd::Public { signing_key, data } => {
            let key = match signing_key {
                Some(path) => signing::load(&path),
                None => signing::load_or_create(&data),
            }
            .context("loading the frame-signing key")?;
            println!("{}", signing::public_hex(&key.verifying_key()));
            Ok(())
        }
        KeysCmd::Generate { out, data } => {
            let out = out.unwrap_or_else(|| signing::default_path(&data));
            let key = signing::generate(&out)
                .with_context(|| format!("writing the key {}", out.display()))?;
            let public = signing::public_hex(&key.verifying_key());
            let pub_path = signing::public_path(&out);
            println!(
                "private key: {} (keep it secret; pass it with --signing-key)",
                out.display()
            );
            println!(
                "public key:  {} = {public} (give it to the controllers)",
                pub_path.display()
            );
            Ok(())
        }
    }
}

fn credential(a: CredentialArgs) -> anyhow::Result<()> {
    use bangtin::store::credentials::Credentials;
    let user = match &a.panel {
        Some(panel) => bangtin::mqtt::controller_user(panel)
            .context("choosing the MQTT user name")?
            .to_string(),
        None => bangtin::mqtt::SERVER_USER.to_string(),
    };
    let path = Credentials::default_path(&a.data);
    let password = Credentials::open(&path)
        .and_then(|c| c.issue(&user))
        .with_context(|| format!("issuing a password in {}", path.display()))?;
    eprintln!(
        "MQTT password for {user:?} saved (hashed) in {}, replacing any earlier one; it is shown only now. Connect with user name {user:?}{}:",
        path.display(),
        if a.panel.is_some() { " and the same client id" } else { "" }
    );
    println!("{password}");
    Ok(())
}

fn render(a: RenderArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&a.text_file)
        .with_context(|| format!("reading {}", a.text_file.display()))?;
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let format: PixelFormat = a.format.parse()?;
    let profile = bangtin::domain::Profile::new(a.width, a.height, format)?;
    let renderer = bangtin::render::Renderer::new();
    let style = bangtin::domain::Style::default();
    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir)?;
    }
    let started = std::time::Instant::now();
    let mut frames = 0u64;
    let mut bytes = 0u64;
    for round in 0..a.repeat.max(1) {
        for (i, line) in lines.iter().enumerate() {
            let r = renderer.render(
                &bangtin::render::Content {
                    text: line,
                    image: None,
                    style: &style,
                },
                &profile,
            );
            for (p, page) in r.pages.iter().enumerate() {
                let data = page.data();
                bytes += data.len() as u64;
                frames += 1;
                if round == 0 {
                    if let Some(dir) = &a.out {
                        let png = bangtin::render::png_bytes(&page.preview());
                        std::fs::write(dir.join(format!("{:04}-p{}.png", i + 1, p + 1)), png)?;
                    }
                }
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let mut o = std::io::stdout().lock();
    writeln!(
        o,
        "{} messages x {} -> {frames} frames ({} KiB) in {:.3} s: {:.0} frames/s on {}x{} {}",
        lines.len(),
        a.repeat.max(1),
        bytes / 1024,
        secs,
        frames as f64 / secs.max(1e-9),
        a.width,
        a.height,
        format.name()
    )?;
    Ok(())
}
