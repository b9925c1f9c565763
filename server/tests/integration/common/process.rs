//! The real `server` binary in a child process, for what only a process shows: signals, a
//! `kill -9`, a restart on the same port, what it writes to its log. `TestPortal::serve_from_process`
//! hands a test portal's data folder, database, key and mail server to it, and points the portal's
//! flows (`sign_up`, `enroll`, …) at it.

use std::{
    path::PathBuf,
    process::{Child, Command, ExitStatus, Stdio},
    time::Duration,
};

use reqwest::StatusCode;

use super::TestPortal;

/// A server binary serving a test portal's data, killed when dropped.
pub struct ServerProcess {
    pub base: String,
    pub port: u16,
    args: Vec<String>,
    /// The site's folder, with a `pkg` folder of static files as a build leaves it.
    site: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl TestPortal {
    /// Stops this portal's in-process server, closes its connections to the database, and serves
    /// the same data folder, database, key and mail from the server binary on a port of its own,
    /// with these settings too; the portal's flows then go to the binary.
    pub async fn serve_from_process(&mut self, settings: &[(&str, &str)]) -> ServerProcess {
        self.stop_in_process().await;
        self.state.pool.close().await;
        let site = self.data_dir().join("site");
        std::fs::create_dir_all(site.join("pkg")).expect("the site's folder");
        std::fs::write(site.join("pkg/portal.css"), "body {}").expect("a static file");
        // The free port may be taken by another test between our look and the server's bind:
        // then the server exits at once, and another port is tried.
        for _ in 0..5 {
            let port = free_port();
            self.base = format!("http://127.0.0.1:{port}");
            let mut args = self.launch_args(&self.base, &format!("127.0.0.1:{port}"));
            for (flag, value) in settings {
                args.push((*flag).to_owned());
                args.push((*value).to_owned());
            }
            let mut server = ServerProcess {
                base: self.base.clone(),
                port,
                args,
                site: site.clone(),
                log: self.data_dir().join("server.log"),
                child: None,
            };
            server.spawn();
            match server.until_healthy().await {
                Ok(()) => return server,
                Err(status) if server.log().contains("Address already in use") => {
                    eprintln!("port {port} was taken ({status}); trying another");
                }
                Err(status) => panic!("the server exited ({status}); its log:\n{}", server.log()),
            }
        }
        panic!("no free port held long enough for the server to listen on it");
    }
}

impl ServerProcess {
    /// Starts the binary (again, after a stop or a kill) on its port, its log appended to, and
    /// waits until `/healthz` answers 200.
    pub async fn start(&mut self) {
        assert!(self.child.is_none(), "the server is already running");
        self.spawn();
        self.wait_until_healthy().await;
    }

    /// Starts the binary without waiting for it to answer.
    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("the server's log file");
        let child = Command::new(env!("CARGO_BIN_EXE_server"))
            .args(&self.args)
            .env("LEPTOS_SITE_ROOT", &self.site)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the server binary starts");
        self.child = Some(child);
    }

    /// Waits until `/healthz` answers 200, for at most 30 s, asking every 10 ms (a test that
    /// times a restart reads it finely).
    pub async fn wait_until_healthy(&mut self) {
        if let Err(status) = self.until_healthy().await {
            panic!("the server exited ({status}); its log:\n{}", self.log());
        }
    }

    /// `wait_until_healthy`, or the server's exit status if it exits first.
    async fn until_healthy(&mut self) -> Result<(), ExitStatus> {
        let probe = reqwest::Client::new();
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if let Ok(answer) = probe.get(format!("{}/healthz", self.base)).send().await {
                if answer.status() == StatusCode::OK {
                    return Ok(());
                }
            }
            let child = self.child.as_mut().expect("the server was started");
            if let Some(status) = child.try_wait().expect("the server's status") {
                self.child = None;
                return Err(status);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "the server did not answer /healthz within 30 s; its log:\n{}",
            self.log()
        );
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("the server runs").id() as i32
    }

    /// Sends a signal (`libc::SIGTERM`, `libc::SIGINT`) to the server.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill only sends a signal to our own child, whose pid we hold until it is waited.
        let sent = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(sent, 0, "the signal was sent");
    }

    /// `kill -9`: the process ends at once, wherever it is.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits for the server to exit, for at most `limit`; None if it still runs then.
    pub async fn exit_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        let started = std::time::Instant::now();
        while started.elapsed() < limit {
            let child = self.child.as_mut().expect("the server was started");
            if let Some(status) = child.try_wait().expect("the server's status") {
                self.child = None;
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    /// Everything the server has logged, from every start.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port that was free a moment ago, picked at random below the kernel's range for
/// `127.0.0.1:0` listeners: the many servers other tests start on port 0 never take it before
/// the server meant for it binds it.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher as _, Hasher as _};
    let below = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .filter(|low| *low > 11_000)
        .unwrap_or(32_768);
    for _ in 0..100 {
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let port = 10_000 + (random % u64::from(below - 10_000)) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
