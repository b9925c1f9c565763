//! A throwaway PostgreSQL cluster of a test's own, which it may stop and start again: the run's
//! shared server must keep serving the other tests. Debian's binaries (the highest version under
//! `/usr/lib/postgresql`), a data folder in a temporary folder, a free port on 127.0.0.1. PostgreSQL
//! refuses to run as root, so under root it runs as the `postgres` user.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use tempfile::TempDir;

use super::free_port;

/// A PostgreSQL cluster, stopped at once and deleted when dropped.
pub struct PgCluster {
    pub port: u16,
    bin: PathBuf,
    folder: TempDir,
    running: bool,
}

impl PgCluster {
    /// A new cluster (trust authentication for `portal` on 127.0.0.1), started.
    pub fn start() -> Self {
        let folder = tempfile::tempdir().expect("a temporary folder");
        if is_root() {
            let chowned = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(folder.path())
                .status()
                .expect("chown runs");
            assert!(
                chowned.success(),
                "the cluster's folder is given to postgres"
            );
        }
        let mut cluster = Self {
            port: free_port(),
            bin: binaries(),
            folder,
            running: false,
        };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "portal",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
        );
        cluster.start_again();
        cluster
    }

    /// `postgres://portal@127.0.0.1:PORT`, with no database name.
    pub fn url(&self) -> String {
        format!("postgres://portal@127.0.0.1:{}", self.port)
    }

    /// Starts the stopped cluster on its port, and waits until it accepts connections.
    pub fn start_again(&mut self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=100 -c fsync=off",
            self.port,
            self.folder.path().display()
        );
        let data = self.data();
        let log = self.folder.path().join("log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-o",
                &options,
                "start",
            ],
        );
        self.running = true;
    }

    /// `pg_ctl stop -m fast`: clients are disconnected, transactions in flight rolled back.
    pub fn stop(&mut self) {
        self.pg_ctl_stop("fast");
    }

    fn pg_ctl_stop(&mut self, mode: &str) {
        let data = self.data();
        self.run(
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-m", mode, "-w", "stop"],
        );
        self.running = false;
    }

    fn data(&self) -> PathBuf {
        self.folder.path().join("data")
    }

    /// One of PostgreSQL's programs, to run as `postgres` under root (PostgreSQL refuses root).
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    /// Runs one of PostgreSQL's programs, as `postgres` under root; panics with its output if it
    /// fails.
    fn run(&self, program: &str, args: &[&str]) -> Output {
        let path = self.bin.join(program);
        let output = self
            .command(program)
            .args(args)
            .current_dir(self.folder.path())
            .output()
            .unwrap_or_else(|error| panic!("{} runs: {error}", path.display()));
        assert!(
            output.status.success(),
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.running {
            let data = self.data();
            let _ = self
                .command("pg_ctl")
                .args([
                    "-D",
                    data.to_str().unwrap(),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ])
                .output();
        }
    }
}

/// The newest PostgreSQL's programs Debian installed.
fn binaries() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let newest = std::fs::read_dir(root)
        .unwrap_or_else(|error| panic!("PostgreSQL is installed under {}: {error}", root.display()))
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .max()
        .unwrap_or_else(|| panic!("a PostgreSQL version under {}", root.display()));
    root.join(newest.to_string()).join("bin")
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}
