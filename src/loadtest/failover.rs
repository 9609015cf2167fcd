//! `loadtest failover`: two servers on one PostgreSQL store, one
//! Mosquitto (or, with `--districts`, a provincial broker and district
//! brokers bridged to it, as `province --districts`) and a simulated
//! fleet on this machine. A campaign change
//! through the server that does not lead, then writes through both while
//! the leader is killed (SIGKILL): how long until the other leads, until
//! every panel shows its frame, until a change reaches every panel again,
//! and whether every acknowledged write is there.
//!
//! PostgreSQL is a cluster of the run's own in its directory
//! ([`bangtin::local_postgres`]) with its default durability (fsync on),
//! listening on 127.0.0.1 only.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::bail;
use bangtin::local_postgres::{Durability, LocalPostgres};
use serde_json::{json, Value};

use super::{
    bridged, campaign_body, metric, rss_mib, seed_content, start_server, switch_campaign,
    wait_until, Glass, Http, Proc, ProvinceArgs, Run, PROVINCE_MESSAGES,
};

#[derive(clap::Args)]
pub(super) struct FailoverArgs {
    /// Panels in the fleet (the `province` mix).
    #[arg(long, default_value_t = 10_000)]
    panels: u32,
    #[arg(long, default_value = "/usr/sbin/mosquitto")]
    mosquitto: PathBuf,
    /// The fleet decodes compressed frames (as `province --compressed`).
    #[arg(long)]
    compressed: bool,
    /// Run across a provincial broker, which both servers talk to, and
    /// this many district brokers bridged to it, which the signs connect
    /// to (as `province --districts`). 0: one broker.
    #[arg(long, default_value_t = 0)]
    districts: u32,
    /// Give up on any one wait after this many seconds.
    #[arg(long, default_value_t = 120)]
    wait_s: u64,
    /// Keep the run's directory (data, logs, the database cluster).
    #[arg(long)]
    keep: bool,
}

/// What a failover run measured.
#[derive(Default, Debug)]
struct Figures {
    panels: u32,
    /// District brokers bridged to the provincial one (0: one broker).
    districts: u32,
    fleet_ready_s: f64,
    /// A campaign change made through the server that does not lead.
    change_via_follower: Step,
    /// CPU seconds the leader and the follower spent on that change.
    change_cpu_s: (f64, f64),
    /// From the SIGKILL until the other server says it leads.
    takeover_s: Option<f64>,
    /// From the SIGKILL until every panel shows a frame of the new leader.
    all_panels: Step,
    /// A campaign change through the new leader, after the takeover.
    change_after: Step,
    writes_acked: usize,
    /// Writes with no answer (the killed server) or an error status.
    writes_unanswered: usize,
    writes_refused: usize,
    writes_lost: Vec<String>,
    epochs: (f64, f64),
    survivor_cpu_takeover_s: f64,
    survivor_rss_mib: f64,
    /// Each broker's RSS at the end, the provincial (or only) one first.
    broker_rss_mib: Vec<f64>,
}

/// One wait for every panel to show something new.
#[derive(Default, Debug)]
struct Step {
    /// Until the last panel showed it (`None`: not all did in time).
    all_s: Option<f64>,
    /// Half, nine in ten and 99 in 100 of the panels.
    spread_s: [f64; 3],
    /// How many panels showed it.
    reached: usize,
}

impl Step {
    /// Waits until every panel shows a frame with a higher seq than in
    /// `before`, received after `since`.
    fn wait(glass: &Glass, since: Instant, within: Duration, before: &[u32]) -> Step {
        match glass.wait_all(since, within, |i, s| s.seq > before[i]) {
            Ok(last) => Step {
                all_s: Some((last - since).as_secs_f64()),
                spread_s: glass.spread(since),
                reached: before.len(),
            },
            Err(reached) => Step {
                reached,
                ..Step::default()
            },
        }
    }

    fn json(&self) -> Value {
        json!({"all_s": self.all_s, "spread_s": self.spread_s, "reached": self.reached})
    }
}

pub(super) fn run(a: FailoverArgs) -> anyhow::Result<()> {
    let pargs = ProvinceArgs {
        compressed: a.compressed,
        districts: a.districts,
        ..ProvinceArgs::one_broker(a.panels, a.mosquitto.clone(), a.wait_s, a.keep)
    };
    eprintln!(
        "== failover run: {} panels, {} district brokers",
        a.panels, a.districts
    );
    let mut run = Run::new(&pargs, a.panels)?;
    let fig = once(&mut run)?;
    print(&fig);
    run.clean_up();
    Ok(())
}

/// The two servers, the second one started once the first leads.
struct Pair {
    a: Proc,
    http_a: Arc<Http>,
    b: Proc,
    http_b: Arc<Http>,
}

fn once(run: &mut Run<'_>) -> anyhow::Result<Figures> {
    let n = run.n;
    let mut fig = Figures {
        panels: n,
        ..Figures::default()
    };
    let pg = LocalPostgres::start(&run.dir.join("pg"), Durability::Durable)?;
    let url = pg.create_database("bangtin")?;
    let brokers = Brokers::start(run)?;
    let mut pair = start_pair(run, &brokers.urls, &url)?;
    let content = seed_content(&pair.http_a, PROVINCE_MESSAGES)?;
    super::import_panels(&pair.http_a, (1..=n).map(|i| run.panel_body(i)).collect())?;

    let rt = tokio::runtime::Runtime::new()?;
    let glass = Arc::new(Glass::new(n));
    let t = Instant::now();
    let fleet = run.start_any_fleet(&rt, brokers.port, &brokers.districts, &glass)?;
    fig.fleet_ready_s = t.elapsed().as_secs_f64();
    fig.districts = brokers.districts.len() as u32;
    run.settle(&pair.http_a);

    // A change through the server that does not lead.
    let before = glass.seqs();
    let cpu = |pair: &Pair| (super::cpu_s(pair.a.pid()), super::cpu_s(pair.b.pid()));
    let cpu0 = cpu(&pair);
    let t0 = Instant::now();
    switch_campaign(&pair.http_b, &content)?;
    fig.change_via_follower = Step::wait(&glass, t0, run.wait, &before);
    run.settle(&pair.http_a);
    let cpu1 = cpu(&pair);
    fig.change_cpu_s = (cpu1.0 - cpu0.0, cpu1.1 - cpu0.1);

    fail_over(run, &mut pair, &glass, &mut fig)?;

    // A change through the new leader.
    let before = glass.seqs();
    let t0 = Instant::now();
    pair.http_b.ok(
        "PUT",
        &format!("/api/v1/campaigns/{}", content.campaign),
        Some(&campaign_body(&content.messages[0])),
    )?;
    fig.change_after = Step::wait(&glass, t0, run.wait, &before);
    fig.survivor_rss_mib = rss_mib(pair.b.pid()).0;
    fig.broker_rss_mib = brokers.rss_mib();

    fleet.stop(rt);
    pair.b.stop();
    drop(brokers);
    drop(pg);
    Ok(fig)
}

/// The run's broker, or its provincial broker and the district brokers
/// bridged to it (`--districts`).
struct Brokers {
    /// One Mosquitto, or the provincial one.
    main: Proc,
    port: u16,
    districts: Vec<bridged::District>,
    /// Each server's broker URL (with its own user and password when
    /// bridged).
    urls: [String; 2],
}

impl Brokers {
    fn start(run: &Run<'_>) -> anyhow::Result<Brokers> {
        let k = run.args.districts;
        if k == 0 {
            let (main, port) = run.start_mosquitto()?;
            let url = format!("mqtt://127.0.0.1:{port}");
            return Ok(Brokers {
                main,
                port,
                districts: Vec::new(),
                urls: [url.clone(), url],
            });
        }
        let b = bridged::start(&run.dir, &run.args.mosquitto, (run.n, k, 2), |i| {
            run.panel_body(i)
        })?;
        let [a, b_url] = <[String; 2]>::try_from(b.server_urls).expect("two servers asked for");
        Ok(Brokers {
            main: b.province,
            port: b.province_port,
            districts: b.districts,
            urls: [a, b_url],
        })
    }

    /// Each broker's RSS, the main one first.
    fn rss_mib(&self) -> Vec<f64> {
        std::iter::once(&self.main)
            .chain(self.districts.iter().map(|d| &d.proc))
            .map(|p| rss_mib(p.pid()).0)
            .collect()
    }
}

/// Server A, until it leads; then server B, which must not.
fn start_pair(run: &Run<'_>, mqtt: &[String; 2], url: &str) -> anyhow::Result<Pair> {
    let start = |name: &str, mqtt: &str| -> anyhow::Result<(Proc, Arc<Http>)> {
        let dir = run.dir.join(name);
        std::fs::create_dir_all(dir.join("data"))?;
        start_server(&dir, &["--mqtt", mqtt, "--store", url])
    };
    let (a, http_a) = start("a", &mqtt[0])?;
    if wait_until(Duration::from_secs(30), || leads(&http_a) == Some(true)).is_none() {
        bail!("the first server did not take the lead within 30 s");
    }
    let (b, http_b) = start("b", &mqtt[1])?;
    if wait_until(Duration::from_secs(30), || leads(&http_b).is_some()).is_none() {
        bail!("the second server did not answer within 30 s");
    }
    if leads(&http_b) == Some(true) {
        bail!("both servers lead");
    }
    Ok(Pair {
        a,
        http_a,
        b,
        http_b,
    })
}

/// Whether the server says it leads (`None`: no answer).
fn leads(http: &Http) -> Option<bool> {
    let v = metric(http, "bangtin_leading");
    (!v.is_nan()).then_some(v == 1.0)
}

/// Writes through both servers, the leader killed among them; then the
/// takeover timed and every acknowledged write looked for.
fn fail_over(
    run: &Run<'_>,
    pair: &mut Pair,
    glass: &Glass,
    fig: &mut Figures,
) -> anyhow::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Writes::default()));
    let writer = {
        let (a, b) = (pair.http_a.clone(), pair.http_b.clone());
        let (stop, acked) = (stop.clone(), acked.clone());
        std::thread::spawn(move || write_through_both(&a, &b, &stop, &acked))
    };
    std::thread::sleep(Duration::from_secs(2));
    let before = glass.seqs();
    fig.epochs.0 = metric(&pair.http_a, "bangtin_leader_epoch");
    let cpu0 = super::cpu_s(pair.b.pid());
    let _ = pair.a.child.kill();
    let _ = pair.a.child.wait();
    let killed = Instant::now();
    fig.takeover_s =
        wait_until(run.wait, || leads(&pair.http_b) == Some(true)).map(|d| d.as_secs_f64());
    fig.all_panels = Step::wait(glass, killed, run.wait, &before);
    fig.survivor_cpu_takeover_s = super::cpu_s(pair.b.pid()) - cpu0;
    fig.epochs.1 = metric(&pair.http_b, "bangtin_leader_epoch");
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::SeqCst);
    let _ = writer.join();
    let w = std::mem::take(&mut *acked.lock().expect("acked"));
    fig.writes_acked = w.acked.len();
    fig.writes_unanswered = w.unanswered;
    fig.writes_refused = w.refused;
    for id in w.acked {
        let (status, _) = pair
            .http_b
            .call("GET", &format!("/api/v1/messages/{id}"), None)?;
        if status != 200 {
            fig.writes_lost.push(id);
        }
    }
    Ok(())
}

/// What the writer saw.
#[derive(Default)]
struct Writes {
    /// Ids of the messages answered 201 (acknowledged writes).
    acked: Vec<String>,
    /// No answer: the connection was refused or cut (the killed server).
    unanswered: usize,
    /// An answer other than 201.
    refused: usize,
}

/// New messages through A and B in turn, every 20 ms, until `stop`.
fn write_through_both(a: &Http, b: &Http, stop: &AtomicBool, writes: &Mutex<Writes>) {
    let mut i = 0u32;
    while !stop.load(Ordering::SeqCst) {
        let http = if i.is_multiple_of(2) { a } else { b };
        let body = json!({"title": format!("Tin {i}"), "text": "Mưa lớn, đề phòng lũ quét và sạt lở đất."});
        let answer = http.call("POST", "/api/v1/messages", Some(&body));
        let mut w = writes.lock().expect("writes");
        match answer {
            Ok((201, text)) => match serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["id"].as_str().map(str::to_string))
            {
                Some(id) => w.acked.push(id),
                None => w.refused += 1,
            },
            Ok(_) => w.refused += 1,
            Err(_) => w.unanswered += 1,
        }
        drop(w);
        i += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn print(f: &Figures) {
    let n = f.panels;
    let s = |v: Option<f64>| v.map_or("did not complete".into(), |s| format!("{s:.3} s"));
    let step = |title: &str, st: &Step| {
        match st.all_s {
            Some(all) => println!("  {title:<42} {all:.3} s"),
            None => println!("  {title:<42} only {} of {n} panels in time", st.reached),
        }
        let [h, p90, p99] = st.spread_s;
        println!("    half / 90% / 99% of the panels         {h:.3} / {p90:.3} / {p99:.3} s");
    };
    let brokers = match f.districts {
        0 => "one broker".to_string(),
        k => format!("a provincial broker and {k} bridged district brokers"),
    };
    println!("\nfailover scenario, {n} panels, two servers on PostgreSQL, {brokers}:");
    println!(
        "  fleet connected, retained frames in        {:.1} s",
        f.fleet_ready_s
    );
    step(
        "change through the follower: every panel",
        &f.change_via_follower,
    );
    println!(
        "    CPU for it: leader / follower           {:.2} / {:.2} s",
        f.change_cpu_s.0, f.change_cpu_s.1
    );
    println!(
        "  leader killed (SIGKILL): the other leads   {}",
        s(f.takeover_s)
    );
    step("every panel shows its frame (target 10 s)", &f.all_panels);
    println!(
        "    epoch                                   {} -> {}",
        f.epochs.0, f.epochs.1
    );
    println!(
        "    survivor's CPU meanwhile                {:.2} s",
        f.survivor_cpu_takeover_s
    );
    println!(
        "  writes through both: {} acknowledged, {} unanswered (the killed server), {} refused; lost: {}",
        f.writes_acked,
        f.writes_unanswered,
        f.writes_refused,
        f.writes_lost.len()
    );
    step(
        "change through the new leader: every panel",
        &f.change_after,
    );
    println!(
        "  survivor RSS                               {:.1} MiB",
        f.survivor_rss_mib
    );
    println!(
        "  broker RSS                                 {}",
        f.broker_rss_mib
            .iter()
            .map(|m| format!("{m:.1}"))
            .collect::<Vec<_>>()
            .join(" / ")
            + " MiB"
    );
    for id in &f.writes_lost {
        println!("  ! acknowledged and lost: {id}");
    }
    println!(
        "{}",
        json!({"work": "failover", "panels": n, "districts": f.districts,
               "fleet_ready_s": f.fleet_ready_s,
               "change_via_follower": f.change_via_follower.json(),
               "change_cpu_s": [f.change_cpu_s.0, f.change_cpu_s.1],
               "takeover_s": f.takeover_s, "all_panels": f.all_panels.json(),
               "change_after": f.change_after.json(),
               "writes_acked": f.writes_acked, "writes_unanswered": f.writes_unanswered,
               "writes_refused": f.writes_refused, "writes_lost": f.writes_lost,
               "epochs": [f.epochs.0, f.epochs.1],
               "survivor_cpu_takeover_s": f.survivor_cpu_takeover_s,
               "survivor_rss_mib": f.survivor_rss_mib, "broker_rss_mib": f.broker_rss_mib})
    );
}
