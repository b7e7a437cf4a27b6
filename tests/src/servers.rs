//! Throwaway Redis and MongoDB servers on free ports, for tests that stop a store on purpose.
//! They use the same binaries as the local stack (`redis-server`; `mongod` or SecantusDB from
//! `HS_MONGO_SERVER_CMD`, which `make test` exports from `.stack/env`).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which store a [`ThrowawayServer`] runs.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Redis,
    Mongo,
}

/// A server process the test owns; killed on drop.
pub struct ThrowawayServer {
    pub kind: Kind,
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn mongo_command() -> String {
    std::env::var("HS_MONGO_SERVER_CMD")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            let local =
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.stack/venv/bin/secantusd-py");
            if local.exists() {
                local.to_string_lossy().into_owned()
            } else {
                "mongod".into()
            }
        })
}

impl ThrowawayServer {
    pub fn start(kind: Kind) -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("hs-{}-{}", crate::unique_id(), port));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut server = Self {
            kind,
            port,
            dir,
            child: None,
        };
        server.restart();
        server
    }

    /// The URL the application should use.
    pub fn url(&self) -> String {
        match self.kind {
            Kind::Redis => format!("redis://127.0.0.1:{}", self.port),
            Kind::Mongo => format!("mongodb://127.0.0.1:{}/?directConnection=true", self.port),
        }
    }

    /// Starts (again) on the same port and data directory, and waits until it accepts.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let port = self.port.to_string();
        let child = match self.kind {
            Kind::Redis => Command::new("redis-server")
                .args([
                    "--port",
                    &port,
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .stdout(Stdio::null())
                .spawn(),
            Kind::Mongo => {
                let cmd = mongo_command();
                let data = self.dir.join("data");
                std::fs::create_dir_all(&data).expect("data dir");
                let mut c = Command::new(&cmd);
                if cmd.ends_with("mongod") {
                    c.args(["--port", &port, "--bind_ip", "127.0.0.1", "--dbpath"])
                        .arg(&data);
                } else {
                    c.args(["--port", &port, "--storage-path"]).arg(&data);
                }
                c.stdout(Stdio::null()).stderr(Stdio::null()).spawn()
            }
        }
        .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", self.kind));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "{:?} did not start on {}",
                self.kind,
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server as an operator would: SIGTERM, so it closes its files cleanly (SIGKILL
    /// after 30 s); [`ThrowawayServer::restart`] then brings it back with its data.
    pub fn stop_gracefully(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        self.stop();
    }

    /// Kills the server and waits until its port is closed.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ThrowawayServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
