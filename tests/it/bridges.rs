//! A province on three Mosquitto processes configured by `bangtin
//! broker-config`: a provincial broker the server talks to, and two
//! district brokers bridged to it that the signs connect to
//! (docs/DEPLOYMENT.md). Frames go down, acks come back; a district broker
//! restart, a cut uplink and a provincial broker restart heal with every
//! ack accounted for.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bangtin::frame::FLAG_BLANK;
use bangtin::mqtt::controller::Fleet;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::util::{
    controller, eventually, free_port, plays_query, succeeded, wait_for_port, with_credentials,
    Api, Server, ServerOpts, ADMIN_TOKEN,
};

/// A Mosquitto process on a generated configuration.
struct Mosquitto {
    conf: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Mosquitto {
    /// Starts Mosquitto on `dir/mosquitto.conf`, with quieter logging and
    /// without dropping to the `mosquitto` user when started as root (the
    /// files are this test's, mode 600; an installation hands them to that
    /// user, docs/DEPLOYMENT.md).
    fn start(dir: &Path, port: u16) -> Mosquitto {
        let generated = std::fs::read_to_string(dir.join("mosquitto.conf")).unwrap();
        let conf = dir.join("test.conf");
        std::fs::write(
            &conf,
            format!("user root\nlog_dest stderr\nlog_type error\nlog_type warning\n{generated}"),
        )
        .unwrap();
        let mut m = Mosquitto {
            conf,
            port,
            child: None,
        };
        m.spawn();
        m
    }

    fn spawn(&mut self) {
        let child = Command::new("/usr/sbin/mosquitto")
            .arg("-c")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .spawn()
            .expect("start /usr/sbin/mosquitto");
        self.child = Some(child);
        wait_for_port(self.port);
    }

    /// SIGTERM, as a service manager stops it: Mosquitto saves its
    /// persistence file (retained frames, bridge sessions) on the way out.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
    }

    fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A TCP relay standing for the WAN link between a district and the
/// province: `cut` drops its connections and refuses new ones until
/// `heal`.
struct Link {
    port: u16,
    to: u16,
    task: Option<JoinHandle<()>>,
}

impl Link {
    async fn new(to: u16) -> Link {
        let mut l = Link {
            port: free_port(),
            to,
            task: None,
        };
        l.heal().await;
        l
    }

    async fn heal(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        let to = self.to;
        self.task = Some(tokio::spawn(async move {
            let mut pipes = tokio::task::JoinSet::new();
            while let Ok((mut a, _)) = listener.accept().await {
                pipes.spawn(async move {
                    if let Ok(mut b) = TcpStream::connect(("127.0.0.1", to)).await {
                        let _ = tokio::io::copy_bidirectional(&mut a, &mut b).await;
                    }
                });
            }
        }));
    }

    /// Aborting the task drops the listener and every pipe (the JoinSet).
    async fn cut(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }
}

/// The seqs of the non-blank frames from the server each controller
/// showed, by panel (each one acked; a frame shown again after a restart
/// is one play). Pages a sign plays from its offline bundle while its
/// link is down are not frames and are never acked.
type Shown = Arc<Mutex<BTreeMap<String, BTreeSet<u32>>>>;

/// A controller and the task recording what it shows.
struct Sign {
    fleet: Fleet,
    reader: JoinHandle<()>,
}

impl Sign {
    /// Runs `panel`'s controller against `url`, recording what it shows.
    fn start(url: &str, panel: &str, shown: &Shown) -> Sign {
        let mut fleet = controller(url, panel);
        let (_, none) = tokio::sync::mpsc::channel(1);
        let mut rx = std::mem::replace(&mut fleet.shown, none);
        let shown = shown.clone();
        let reader = tokio::spawn(async move {
            while let Some(s) = rx.recv().await {
                if s.flags & FLAG_BLANK == 0 && !s.from_bundle {
                    shown
                        .lock()
                        .unwrap()
                        .entry(s.panel.to_string())
                        .or_default()
                        .insert(s.seq);
                }
            }
        });
        Sign { fleet, reader }
    }

    async fn stop(self) {
        self.fleet.shutdown().await;
        self.reader.abort();
    }
}

/// Waits until every panel's controller acknowledged the frame the server
/// sent it last, a frame newer than `after` (by panel, in order) and not
/// blank; returns the seqs.
async fn all_confirmed(admin: &Api, panels: &[&str], after: &[u64], what: &str) -> Vec<u64> {
    let mut seqs = Vec::new();
    for (i, p) in panels.iter().enumerate() {
        let floor = after.get(i).copied().unwrap_or(0);
        let seq = eventually(Duration::from_secs(30), || async {
            let (_, now) = admin.get(&format!("/panels/{p}/now")).await;
            let seq = now["seq"].as_u64()?;
            (now["blank"] == false && now["acked_seq"] == now["seq"] && seq > floor).then_some(seq)
        })
        .await;
        let (_, now) = admin.get(&format!("/panels/{p}/now")).await;
        seqs.push(seq.unwrap_or_else(|| {
            panic!("{what}: {p} did not confirm a frame after seq {floor}: {now}")
        }));
    }
    seqs
}

/// The campaign on every panel now shows `message`.
async fn show(admin: &Api, campaign: &str, message: &str) {
    let (st, v) = admin
        .put(
            &format!("/campaigns/{campaign}"),
            json!({"name": "Toàn tỉnh", "messages": [{"id": message, "dwell_s": 3600}], "targets": ["all"], "start": "2020-01-01", "priority": 1}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
}

const PANELS: [(&str, &str); 4] = [
    ("v1", "tp-vinh"),
    ("v2", "tp-vinh"),
    ("c1", "cua-lo"),
    // In no district: it connects to the provincial broker itself.
    ("n1", "nghi-loc"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_bridged_brokers_deliver_and_heal_without_a_lost_ack() {
    let bin = env!("CARGO_BIN_EXE_bangtin");
    let tmp = tempfile::tempdir().unwrap();
    let (province_port, vinh_port, cua_lo_port) = (free_port(), free_port(), free_port());

    // The panels, offline, in a data directory of their own; the province
    // file; the generated configuration.
    let panels: Vec<_> = PANELS
        .iter()
        .map(|(id, g)| json!({"id": id, "name": id, "width": 64, "height": 16, "format": "mono1", "groups": [g]}))
        .collect();
    let import = tmp.path().join("panels.json");
    std::fs::write(&import, serde_json::to_vec(&panels).unwrap()).unwrap();
    let data = tmp.path().join("data");
    succeeded(
        Command::new(bin)
            .args(["panels", "import"])
            .arg(&import)
            .arg("--data")
            .arg(&data)
            .output()
            .unwrap(),
    );
    let plan = tmp.path().join("province.json");
    let place = |port: u16| json!({"host": "127.0.0.1", "port": port, "bind": "127.0.0.1"});
    let vinh = json!({"group": "tp-vinh", "broker": place(vinh_port)});
    let cua_lo = json!({"group": "cua-lo", "broker": place(cua_lo_port)});
    std::fs::write(
        &plan,
        json!({"province": place(province_port), "districts": [vinh, cua_lo]}).to_string(),
    )
    .unwrap();
    let out = tmp.path().join("brokers");
    let generate = || {
        let made = succeeded(
            Command::new(bin)
                .arg("broker-config")
                .arg("--province")
                .arg(&plan)
                .arg("--data")
                .arg(&data)
                .arg("--out")
                .arg(&out)
                .output()
                .unwrap(),
        );
        String::from_utf8(made.stdout).unwrap()
    };
    let said = generate();
    assert!(
        said.contains("province: 1 panels")
            && said.contains("tp-vinh: 2 panels")
            && said.contains("(8 new passwords"),
        "{said}"
    );
    // A second run keeps every password (new salts in the hashes).
    let read = |f: &str| std::fs::read_to_string(out.join(f)).unwrap();
    let (secrets, vinh_passwd) = (read("secrets.json"), read("tp-vinh/passwd"));
    let said = generate();
    assert!(said.contains("(0 new passwords"), "{said}");
    assert_eq!(read("secrets.json"), secrets);
    assert_ne!(read("tp-vinh/passwd"), vinh_passwd);
    let env = std::fs::read_to_string(out.join("bangtin.env")).unwrap();
    let server_url = env
        .lines()
        .find_map(|l| l.strip_prefix("BANGTIN_MQTT="))
        .unwrap()
        .to_string();
    let password = |broker: &str, panel: &str| {
        std::fs::read_to_string(out.join(broker).join("controllers.txt"))
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{panel} ")).map(str::to_string))
            .unwrap()
    };

    // The Vinh district reaches the province through a link we can cut.
    let mut province = Mosquitto::start(&out.join("province"), province_port);
    let mut wan = Link::new(province_port).await;
    let vinh_conf = out.join("tp-vinh/mosquitto.conf");
    let text = std::fs::read_to_string(&vinh_conf).unwrap().replace(
        &format!("address 127.0.0.1:{province_port}"),
        &format!("address 127.0.0.1:{}", wan.port),
    );
    std::fs::write(&vinh_conf, text).unwrap();
    let _vinh = Mosquitto::start(&out.join("tp-vinh"), vinh_port);
    let mut cua_lo = Mosquitto::start(&out.join("cua-lo"), cua_lo_port);

    let server = Server::start_with(ServerOpts {
        mqtt: Some(server_url),
        ..Default::default()
    });
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    for p in &panels {
        admin.create_panel(p.clone()).await;
    }
    let approver = admin.with_roles("duyet", &["approver"]).await;
    let mut messages = Vec::new();
    for i in 0..6 {
        let m = admin
            .create_message(
                json!({"title": format!("Tin {i}"), "text": format!("Thông báo số {i}")}),
            )
            .await;
        approver.approve(&m).await;
        messages.push(m);
    }
    let (st, c) = admin
        .post(
            "/campaigns",
            json!({"name": "Toàn tỉnh", "messages": [{"id": messages[0], "dwell_s": 3600}], "targets": ["all"], "start": "2020-01-01", "priority": 1}),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let campaign = c["id"].as_str().unwrap().to_string();

    // Each sign on its own broker, with its own password.
    let shown: Shown = Arc::default();
    let url = |broker: &str, port: u16, panel: &str| {
        with_credentials(
            &format!("mqtt://127.0.0.1:{port}"),
            panel,
            &password(broker, panel),
        )
    };
    let mut signs = vec![
        Sign::start(&url("tp-vinh", vinh_port, "v1"), "v1", &shown),
        Sign::start(&url("tp-vinh", vinh_port, "v2"), "v2", &shown),
        Sign::start(&url("cua-lo", cua_lo_port, "c1"), "c1", &shown),
        Sign::start(&url("province", province_port, "n1"), "n1", &shown),
    ];
    let ids: Vec<&str> = PANELS.iter().map(|(p, _)| *p).collect();
    let first = all_confirmed(&admin, &ids, &[], "first frames").await;

    // A change reaches both districts and the province's own sign.
    show(&admin, &campaign, &messages[1]).await;
    let t = Instant::now();
    let before = all_confirmed(&admin, &ids, &first, "first change").await;
    eprintln!("a change confirmed on every sign in {:?}", t.elapsed());

    // A sign of one district cannot see another's frames or report for it.
    let spy = bangtin::mqtt::controller::ControllerArgs::new(
        "c1".parse().unwrap(),
        url("tp-vinh", vinh_port, "v1").parse().unwrap(),
    );
    let mut wrong = bangtin::mqtt::controller::spawn_fleet(&spy).unwrap();
    assert!(
        tokio::time::timeout(Duration::from_secs(2), wrong.shown.recv())
            .await
            .is_err(),
        "v1's credential got c1's frame"
    );
    wrong.shutdown().await;

    // The Cửa Lò broker restarts; the change made while it is down
    // arrives when it is back (the province kept it for the bridge).
    cua_lo.stop();
    show(&admin, &campaign, &messages[2]).await;
    cua_lo.restart();
    let after = all_confirmed(&admin, &ids, &before, "after the district restart").await;

    // A Vinh sign is off while a change reaches its district broker (its
    // neighbour confirms it), then the district's uplink is cut.
    signs.remove(1).stop().await;
    show(&admin, &campaign, &messages[3]).await;
    let mut v1_only = after.clone();
    v1_only[1] = 0;
    let changed = all_confirmed(&admin, &ids[..1], &v1_only, "before the cut").await;
    let (_, now) = admin.get("/panels/v2/now").await;
    let v2_seq = now["seq"].as_u64().unwrap();
    assert!(v2_seq > after[1], "{now}");
    wan.cut().await;
    // The district broker still serves its signs: the sign comes back and
    // shows the retained frame from there; its ack waits on the district
    // broker for the uplink.
    let v2 = Sign::start(&url("tp-vinh", vinh_port, "v2"), "v2", &shown);
    let served = eventually(Duration::from_secs(10), || async {
        let shown = shown.lock().unwrap();
        shown["v2"].contains(&(v2_seq as u32)).then_some(())
    })
    .await;
    assert!(
        served.is_some(),
        "v2 got its retained frame {v2_seq} from the district broker: {shown:?}"
    );
    // Time enough for an ack to cross a healthy link many times over.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (_, now) = admin.get("/panels/v2/now").await;
    assert_ne!(
        now["acked_seq"], now["seq"],
        "nothing crosses a cut link: {now}"
    );
    // A change while cut reaches the Vinh signs once the link is back.
    show(&admin, &campaign, &messages[4]).await;
    wan.heal().await;
    let mut before_heal = after.clone();
    before_heal[0] = changed[0];
    before_heal[1] = v2_seq;
    let healed = all_confirmed(&admin, &ids, &before_heal, "after the uplink came back").await;
    signs.insert(1, v2);

    // The provincial broker restarts: the server and both bridges come
    // back to it, the server republishes, every sign confirms.
    province.restart();
    show(&admin, &campaign, &messages[5]).await;
    all_confirmed(&admin, &ids, &healed, "after the provincial broker restart").await;

    // Every frame a sign showed is a play in the report: no ack lost.
    let plays = |rows: &serde_json::Value| -> Option<BTreeSet<u64>> {
        rows.as_array().map(|rows| {
            rows.iter()
                .filter(|r| !r["message"].is_null())
                .filter_map(|r| r["seq"].as_u64())
                .collect()
        })
    };
    for p in &ids {
        let expected: BTreeSet<u64> = shown
            .lock()
            .unwrap()
            .get(*p)
            .map(|s| s.iter().map(|&q| u64::from(q)).collect())
            .unwrap_or_default();
        // The first frame and four changes, at least.
        assert!(expected.len() >= 5, "{p}: {expected:?} shown");
        let counted = eventually(Duration::from_secs(10), || async {
            let (_, rows) = admin.get(&plays_query(p)).await;
            (plays(&rows)? == expected).then_some(())
        })
        .await;
        let (_, rows) = admin.get(&plays_query(p)).await;
        assert!(
            counted.is_some(),
            "{p}: showed {expected:?}, plays {:?}",
            plays(&rows)
        );
    }
    for s in signs {
        s.stop().await;
    }
}

/// A province over TLS (`"tls": true`): `broker-config` keeps one CA and
/// issues each broker a certificate; the server dials the provincial
/// broker with `mqtts` trusting the CA, the bridge verifies it, a sign on
/// the district broker too; frames go down and acks come back. A sign
/// that trusts another CA never connects. A second run keeps the CA and
/// issues new certificates, which the brokers then serve.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_province_bridges_and_verifies() {
    let bin = env!("CARGO_BIN_EXE_bangtin");
    let tmp = tempfile::tempdir().unwrap();
    let (province_port, vinh_port) = (free_port(), free_port());
    let panels = [
        json!({"id": "v1", "name": "v1", "width": 64, "height": 16, "format": "mono1", "groups": ["tp-vinh"]}),
        json!({"id": "n1", "name": "n1", "width": 64, "height": 16, "format": "mono1", "groups": []}),
    ];
    let import = tmp.path().join("panels.json");
    std::fs::write(&import, serde_json::to_vec(&panels).unwrap()).unwrap();
    let data = tmp.path().join("data");
    succeeded(
        Command::new(bin)
            .args(["panels", "import"])
            .arg(&import)
            .arg("--data")
            .arg(&data)
            .output()
            .unwrap(),
    );
    let place = |port: u16| json!({"host": "127.0.0.1", "port": port, "bind": "127.0.0.1"});
    let write_plan = |path: &Path| {
        std::fs::write(
            path,
            json!({"tls": true, "province": place(province_port),
                   "districts": [{"group": "tp-vinh", "broker": place(vinh_port)}]})
            .to_string(),
        )
        .unwrap()
    };
    let plan = tmp.path().join("province.json");
    write_plan(&plan);
    let generate = |out: &Path| {
        let made = succeeded(
            Command::new(bin)
                .arg("broker-config")
                .arg("--province")
                .arg(&plan)
                .arg("--data")
                .arg(&data)
                .arg("--out")
                .arg(out)
                .output()
                .unwrap(),
        );
        String::from_utf8(made.stdout).unwrap()
    };
    let out = tmp.path().join("brokers");
    let said = generate(&out);
    assert!(said.contains("certificate is valid until"), "{said}");
    let read = |f: &str| std::fs::read_to_string(out.join(f)).unwrap();
    let (ca, cert) = (read("ca/ca.pem"), read("tp-vinh/server.pem"));
    generate(&out);
    assert_eq!(read("ca/ca.pem"), ca, "the CA stays");
    assert_eq!(read("tp-vinh/ca.pem"), ca);
    assert_ne!(read("tp-vinh/server.pem"), cert, "a new certificate");
    // Another province's CA, for the sign that must not connect.
    let other = tmp.path().join("other");
    generate(&other);

    let env = read("bangtin.env");
    let var = |name: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap()
            .to_string()
    };
    let server_url = var("BANGTIN_MQTT");
    assert!(server_url.starts_with("mqtts://"), "{env}");
    assert_eq!(
        var("BANGTIN_MQTT_CA"),
        out.join("ca/ca.pem").display().to_string()
    );
    let _province = Mosquitto::start(&out.join("province"), province_port);
    let _vinh = Mosquitto::start(&out.join("tp-vinh"), vinh_port);
    let server = Server::start_with(ServerOpts {
        mqtt: Some(server_url),
        extra_env: vec![("BANGTIN_MQTT_CA".into(), var("BANGTIN_MQTT_CA"))],
        ..Default::default()
    });
    let admin = Api::new(&server, Some(ADMIN_TOKEN));
    for p in &panels {
        admin.create_panel(p.clone()).await;
    }
    let approver = admin.with_roles("duyet", &["approver"]).await;
    let m = admin
        .create_message(json!({"title": "Tin", "text": "Thông báo qua TLS"}))
        .await;
    approver.approve(&m).await;
    let (st, c) = admin
        .post(
            "/campaigns",
            json!({"name": "Toàn tỉnh", "messages": [{"id": m, "dwell_s": 3600}], "targets": ["all"], "start": "2020-01-01", "priority": 1}),
        )
        .await;
    assert_eq!(st, 201, "{c}");

    let password = |broker: &str, panel: &str| {
        let list = read(&format!("{broker}/controllers.txt"));
        assert!(list.contains("mqtts://"), "{list}");
        list.lines()
            .find_map(|l| l.strip_prefix(&format!("{panel} ")).map(str::to_string))
            .unwrap()
    };
    let sign = |broker: &str, port: u16, panel: &str, ca: PathBuf| {
        let url = with_credentials(
            &format!("mqtts://127.0.0.1:{port}"),
            panel,
            &password(broker, panel),
        );
        let mut args = bangtin::mqtt::controller::ControllerArgs::new(
            panel.parse().unwrap(),
            url.parse().unwrap(),
        );
        args.mqtt_ca = Some(ca);
        bangtin::mqtt::controller::spawn_fleet(&args).unwrap()
    };
    let mut wrong = sign("tp-vinh", vinh_port, "v1", other.join("ca/ca.pem"));
    let v1 = sign("tp-vinh", vinh_port, "v1", out.join("tp-vinh/ca.pem"));
    let n1 = sign("province", province_port, "n1", out.join("ca/ca.pem"));
    all_confirmed(&admin, &["v1", "n1"], &[], "frames over TLS").await;
    assert_eq!(wrong.connected(), 0, "a sign trusting another CA connected");
    assert!(
        tokio::time::timeout(Duration::from_millis(500), wrong.shown.recv())
            .await
            .is_err(),
        "a sign trusting another CA was served a frame"
    );
    for f in [wrong, v1, n1] {
        f.shutdown().await;
    }
}
