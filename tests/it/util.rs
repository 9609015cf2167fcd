//! Shared test harness: free loopback ports, server and broker processes.
#![allow(dead_code)]

use std::net::TcpListener;

/// A free TCP port on 127.0.0.1 (bound then released; good enough for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind loopback")
        .local_addr()
        .expect("local addr")
        .port()
}

/// A Mosquitto broker on a free loopback port, with a generated config in
/// its own temp dir; killed on drop. `restart` keeps the port.
pub struct MosquittoProcess {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Option<std::process::Child>,
}

impl MosquittoProcess {
    /// `extra_conf` lines are appended to the listener block (e.g.
    /// `password_file`, `acl_file`, `allow_anonymous false`).
    pub fn start(extra_conf: &str) -> MosquittoProcess {
        let mut dir = tempfile::tempdir().expect("temp dir");
        let allow = if extra_conf.contains("allow_anonymous") {
            ""
        } else {
            "allow_anonymous true\n"
        };
        // A port from free_port() can be taken again before Mosquitto binds
        // it (another test's outgoing connection): try a few.
        for _ in 0..5 {
            let port = free_port();
            let conf = format!(
                "per_listener_settings false\nlistener {port} 127.0.0.1\n{allow}max_packet_size 8388608\npersistence false\nlog_dest stderr\nlog_type error\nlog_type warning\n{extra_conf}\n"
            );
            std::fs::write(dir.path().join("mosquitto.conf"), conf).expect("write config");
            let mut m = MosquittoProcess {
                port,
                dir,
                child: None,
            };
            if m.spawn() {
                return m;
            }
            dir = std::mem::replace(&mut m.dir, tempfile::tempdir().expect("temp dir"));
        }
        panic!("Mosquitto did not start on any of 5 free ports");
    }

    /// Starts Mosquitto and waits until it listens; false if it exited.
    fn spawn(&mut self) -> bool {
        let mut child = std::process::Command::new("/usr/sbin/mosquitto")
            .arg("-c")
            .arg(self.dir.path().join("mosquitto.conf"))
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start /usr/sbin/mosquitto");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                self.child = Some(child);
                return true;
            }
            if let Ok(Some(_)) = child.try_wait() {
                return false;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "Mosquitto does not listen on 127.0.0.1:{} after 10 s",
                self.port
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Kills the broker (abruptly, like a crash) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port (retained messages are gone:
    /// persistence is off).
    pub fn restart(&mut self) {
        self.kill();
        assert!(
            self.spawn(),
            "Mosquitto did not restart on port {}",
            self.port
        );
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }
}

impl Drop for MosquittoProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits up to 10 s until something accepts TCP connections on the port.
pub fn wait_for_port(port: u16) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing listens on 127.0.0.1:{port} after 10 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
