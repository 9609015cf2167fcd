//! `loadtest province --districts K`: the province scenario across a
//! provincial broker and K district brokers bridged to it, all Mosquitto
//! processes on this machine, configured by `bangtin broker-config`'s own
//! code (docs/DEPLOYMENT.md). The server talks to the provincial broker;
//! district k's panels (`d{k}-0001`…) are a contiguous block of the
//! fleet, in group `huyen-{k}`, and connect to their district's broker
//! with their own passwords. Each district's fleet is its own process
//! (`loadtest district-fleet`, hidden), so 50,000 sockets fit under a
//! file limit of 20,000 per process; it reports each frame shown with its
//! wall-clock time, which lands on the run's `Glass` as an in-process
//! fleet's does.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde_json::{json, Value};

use super::{free_port, wait_for_port, Proc};

/// A district broker of the run.
pub(super) struct District {
    pub(super) proc: Proc,
    pub(super) port: u16,
    /// Its controllers' `PANEL PASSWORD` lines.
    pub(super) credentials: PathBuf,
    /// Its panels' id prefix and how many there are.
    pub(super) prefix: String,
    pub(super) panels: u32,
}

/// Where panel `i` (1-based) of `n` goes among `k` districts: (district,
/// number within it), contiguous blocks.
pub(super) fn place(i: u32, n: u32, k: u32) -> (u32, u32) {
    let block = n.div_ceil(k);
    ((i - 1) / block, (i - 1) % block + 1)
}

/// The fleet index (panel number - 1) of a bridged panel id `d{k}-{j}`.
pub(super) fn index(id: &str, n: u32, k: u32) -> Option<usize> {
    let (d, j) = id.strip_prefix('d')?.split_once('-')?;
    let (d, j): (u32, u32) = (d.parse().ok()?, j.parse().ok()?);
    Some((d * n.div_ceil(k) + j - 1) as usize)
}

/// A panel's body for a bridged run: its district's id and group added.
pub(super) fn panel(mut body: Value, i: u32, n: u32, k: u32) -> Value {
    let (d, j) = place(i, n, k);
    body["id"] = json!(format!("d{d}-{j:04}"));
    if let Some(groups) = body["groups"].as_array_mut() {
        groups.push(json!(format!("huyen-{d}")));
    }
    body
}

/// The brokers started, and the server's broker URL (with its password).
pub(super) struct Brokers {
    pub(super) province: Proc,
    pub(super) province_port: u16,
    pub(super) districts: Vec<District>,
    /// Each server's broker URL (with its own user and password).
    pub(super) server_urls: Vec<String>,
}

/// Writes the configuration for the `n` panels `bodies` makes and
/// `servers` bangtin servers, and starts the provincial broker and `k`
/// district brokers from it.
pub(super) fn start(
    dir: &Path,
    mosquitto: &Path,
    (n, k, servers): (u32, u32, u32),
    bodies: impl Fn(u32) -> Value,
) -> anyhow::Result<Brokers> {
    let province_port = free_port()?;
    let place_of = |port: u16| json!({"host": "127.0.0.1", "port": port, "bind": "127.0.0.1"});
    let ports: Vec<u16> = (0..k).map(|_| free_port()).collect::<Result<_, _>>()?;
    let plan = json!({
        "servers": servers,
        "province": place_of(province_port),
        "districts": ports.iter().enumerate()
            .map(|(d, p)| json!({"group": format!("huyen-{d}"), "broker": place_of(*p)}))
            .collect::<Vec<_>>(),
    });
    let plan_file = dir.join("province.json");
    std::fs::write(&plan_file, plan.to_string())?;
    let panels: Vec<bangtin::domain::Panel> = (1..=n)
        .map(|i| serde_json::from_value(bodies(i)))
        .collect::<Result<_, _>>()?;
    let out = dir.join("brokers");
    bangtin::broker_config::write::run(&plan_file, &panels, &out)?;
    let server_urls = (1..=servers)
        .map(|s| {
            let name = bangtin::broker_config::env_file_name(s);
            let env = std::fs::read_to_string(out.join(&name))?;
            let url = env
                .lines()
                .find_map(|l| l.strip_prefix("BANGTIN_MQTT="))
                .with_context(|| format!("{name} names no BANGTIN_MQTT"))?;
            anyhow::Ok(url.to_string())
        })
        .collect::<Result<_, _>>()?;
    let province = start_one(mosquitto, &out.join("province"), province_port)?;
    let mut districts = Vec::new();
    for (d, port) in ports.into_iter().enumerate() {
        let name = format!("huyen-{d}");
        let panels = (1..=n).filter(|&i| place(i, n, k).0 == d as u32).count() as u32;
        districts.push(District {
            proc: start_one(mosquitto, &out.join(&name), port)?,
            port,
            credentials: out.join(&name).join("controllers.txt"),
            prefix: format!("d{d}-"),
            panels,
        });
    }
    Ok(Brokers {
        province,
        province_port,
        districts,
        server_urls,
    })
}

/// Mosquitto on `dir/mosquitto.conf`, logging errors to `dir/mosquitto.log`
/// and, when started as root, staying root (the files are mode 600).
fn start_one(mosquitto: &Path, dir: &Path, port: u16) -> anyhow::Result<Proc> {
    let generated = std::fs::read_to_string(dir.join("mosquitto.conf"))?;
    let conf = dir.join("loadtest.conf");
    std::fs::write(
        &conf,
        format!(
            "user root\nlog_dest file {}\nlog_type error\nlog_type warning\n{generated}",
            dir.join("mosquitto.log").display()
        ),
    )?;
    let proc = Proc {
        child: Command::new(mosquitto)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", mosquitto.display()))?,
        name: "mosquitto",
    };
    wait_for_port(port, Duration::from_secs(10))?;
    Ok(proc)
}

/// `loadtest district-fleet`: one district's controllers.
#[derive(clap::Args)]
pub(super) struct FleetArgs {
    /// The district broker's port on 127.0.0.1.
    #[arg(long)]
    port: u16,
    /// Panel ids are PREFIX0001…
    #[arg(long)]
    prefix: String,
    #[arg(long)]
    panels: u32,
    /// `PANEL PASSWORD` lines.
    #[arg(long)]
    credentials: PathBuf,
    /// The controllers decode compressed frames (`province --compressed`).
    #[arg(long)]
    compressed: bool,
}

/// Runs one district's fleet and prints `NUMBER SEQ FLAGS UNIX_MICROS`
/// for every frame shown (NUMBER: the panel's number in the district),
/// and `losses TOTAL` whenever more broker links were lost or not made
/// (their causes go to stderr), until stdin closes.
pub(super) fn fleet(a: FleetArgs) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    let mut args = bangtin::mqtt::controller::ControllerArgs::new(
        bangtin::domain::Id::parse(&format!("{}0001", a.prefix))?,
        format!("mqtt://127.0.0.1:{}", a.port).parse()?,
    );
    args.panel = None;
    args.fleet = Some(a.panels);
    args.prefix = a.prefix.clone();
    args.credentials = Some(a.credentials.clone());
    args.quiet = true;
    // Frames only, as the one-broker fleet without --bundles.
    args.no_bundles = true;
    args.accept_compressed = a.compressed;
    let rt = tokio::runtime::Runtime::new()?;
    let mut fleet = {
        let _g = rt.enter();
        bangtin::mqtt::controller::spawn_fleet(&args)?
    };
    let (_, none) = tokio::sync::mpsc::channel(1);
    let mut shown = std::mem::replace(&mut fleet.shown, none);
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut b = [0u8; 64];
        while std::io::stdin().read(&mut b).is_ok_and(|n| n > 0) {}
        let _ = stop.send(());
    });
    let losses = fleet.losses();
    let mut tick = {
        let _g = rt.enter();
        tokio::time::interval(Duration::from_millis(500))
    };
    let mut told = 0;
    rt.block_on(async {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                _ = tick.tick() => {
                    let total = losses.total();
                    if total != told {
                        told = total;
                        writeln!(out, "losses {total}")?;
                        out.flush()?;
                        eprintln!("broker links lost or not made, by cause: {:?}", losses.by_cause());
                    }
                }
                s = shown.recv() => {
                    let Some(s) = s else { break };
                    let number: u32 = s.panel.as_str()[a.prefix.len()..].parse()?;
                    let wall = std::time::SystemTime::now() - s.received_at.elapsed();
                    let micros = wall.duration_since(std::time::UNIX_EPOCH)?.as_micros();
                    writeln!(out, "{number} {} {} {micros}", s.seq, s.flags)?;
                    if shown.is_empty() {
                        out.flush()?;
                    }
                }
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(15), fleet.shutdown()).await;
        anyhow::Ok(())
    })
}

/// Starts district `d`'s fleet process; what it shows lands on `glass`
/// (its panels from index `first` on). Its log goes to DIR/fleet-{d}.log.
/// `compressed`: its controllers decode BTZ1.
pub(super) fn spawn_fleet(
    district: &District,
    d: usize,
    first: usize,
    glass: Arc<super::Glass>,
    dir: &Path,
    compressed: bool,
) -> anyhow::Result<Proc> {
    use std::io::BufRead;
    let mut child = Command::new(std::env::current_exe()?)
        .args(["loadtest", "district-fleet", "--port"])
        .arg(district.port.to_string())
        .args(["--prefix", &district.prefix, "--panels"])
        .arg(district.panels.to_string())
        .arg("--credentials")
        .arg(&district.credentials)
        .args(compressed.then_some("--compressed"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join(format!("fleet-{d}.log")))?)
        .spawn()?;
    let stdout = child.stdout.take().context("the fleet's stdout")?;
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(total) = line.strip_prefix("losses ") {
                if let Ok(total) = total.parse() {
                    glass.losses.lock().expect("glass").insert(d, total);
                }
                continue;
            }
            let f: Vec<u128> = line.split(' ').filter_map(|v| v.parse().ok()).collect();
            let [number, seq, flags, micros] = f[..] else {
                continue;
            };
            let wall = std::time::UNIX_EPOCH + Duration::from_micros(micros as u64);
            let ago = std::time::SystemTime::now()
                .duration_since(wall)
                .unwrap_or_default();
            let at = std::time::Instant::now().checked_sub(ago);
            glass
                .shown
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let i = first + number as usize - 1;
            if let Some(slot) = glass.seen.lock().expect("glass").get_mut(i) {
                *slot = super::Seen {
                    seq: seq as u32,
                    flags: flags as u16,
                    at,
                };
            }
        }
    });
    Ok(Proc {
        child,
        name: "district fleet",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panels_fall_in_contiguous_blocks_and_map_back() {
        let (n, k) = (10, 4);
        let ids: Vec<String> = (1..=n)
            .map(|i| {
                let (d, j) = place(i, n, k);
                format!("d{d}-{j:04}")
            })
            .collect();
        assert_eq!(ids[0], "d0-0001");
        assert_eq!(ids[2], "d0-0003");
        assert_eq!(ids[3], "d1-0001");
        assert_eq!(ids[9], "d3-0001");
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(index(id, n, k), Some(i), "{id}");
        }
        let body = panel(json!({"id": "p0004", "groups": ["tinh"]}), 4, n, k);
        assert_eq!(body["id"], "d1-0001");
        assert_eq!(body["groups"], json!(["tinh", "huyen-1"]));
    }
}
