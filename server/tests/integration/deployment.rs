//! The systemd units README.md prints under "Running in production", checked by systemd's own
//! `systemd-analyze` as printed (only the binary's and the environment file's paths replaced):
//! every line is read (systemd only warns of a misspelt setting and goes on without it, so any
//! warning fails here), they start the server binary, and the service's sandbox is still rated
//! OK. systemd need not run: both checks read the files alone.

use std::{path::Path, process::Command};

use crate::common::{readme_block, substituted};

/// Where the README's units find the binary and the environment.
const BINARY: &str = "/opt/portal/server";
const ENVIRONMENT: &str = "/etc/portal/env";

/// The README's units under `name`, with the real binary and a real environment file, written
/// into `dir` as the files the README names (`# /etc/systemd/system/FILE` lines).
fn write_units(name: &str, dir: &Path) -> Vec<String> {
    let environment = dir.join("env");
    std::fs::write(&environment, "PORTAL_DATA_DIR=/var/lib/portal\n").unwrap();
    let text = substituted(
        readme_block(name),
        &[
            (BINARY, env!("CARGO_BIN_EXE_server").to_owned()),
            (ENVIRONMENT, environment.display().to_string()),
        ],
    );
    let mut files = Vec::new();
    for unit in text.split("# /etc/systemd/system/").skip(1) {
        let (file, body) = unit
            .split_once('\n')
            .expect("a unit's file name, then the unit");
        std::fs::write(dir.join(file), body).unwrap();
        files.push(file.to_owned());
    }
    assert!(!files.is_empty(), "the {name} block names its files");
    files
}

/// `systemd-analyze ARGS` in `dir`: its status, what it printed and what it warned.
fn systemd_analyze(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let output = Command::new("systemd-analyze")
        .args(args)
        .current_dir(dir)
        .output()
        .expect(
            "systemd-analyze is not installed: these tests check the README's units with it \
             (apt-get install systemd)",
        );
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `systemd-analyze verify` passes `files` without a word.
fn assert_verified(dir: &Path, files: &[String]) {
    let mut args = vec!["verify", "--man=no"];
    let paths: Vec<String> = files.iter().map(|file| format!("./{file}")).collect();
    args.extend(paths.iter().map(String::as_str));
    let (passed, _, warned) = systemd_analyze(dir, &args);
    assert!(
        passed && warned.trim().is_empty(),
        "systemd reads {files:?} as printed: {warned}"
    );
}

#[test]
fn the_service_unit_is_read_whole_and_its_sandbox_is_rated_ok() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_units("deployment.rs: portal.service", dir.path());
    assert_eq!(files, ["portal.service"]);
    assert_verified(dir.path(), &files);

    let (_, rating, warned) = systemd_analyze(
        dir.path(),
        &[
            "security",
            "--offline=true",
            "--no-pager",
            "./portal.service",
        ],
    );
    let exposure: f64 = rating
        .lines()
        .find_map(|line| line.split_once("Overall exposure level for portal.service:"))
        .and_then(|(_, rest)| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("systemd rates the sandbox: {rating}{warned}"));
    println!("systemd-analyze security: exposure {exposure} (0 is the most shut, 10 the least)");
    assert!(
        exposure <= 2.0,
        "the sandbox keeps systemd's rating OK (2.0 or less): {exposure}\n{rating}"
    );
}

#[test]
fn the_backup_service_and_its_timer_are_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_units("deployment.rs: backup units", dir.path());
    assert_eq!(files, ["portal-backup.service", "portal-backup.timer"]);
    assert_verified(dir.path(), &files);
}

/// The check itself: a misspelt setting is found (systemd would run the unit without it).
#[test]
fn a_misspelt_setting_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_units("deployment.rs: portal.service", dir.path());
    let unit = dir.path().join(&files[0]);
    let text = std::fs::read_to_string(&unit).unwrap();
    std::fs::write(
        &unit,
        text.replace("ProtectSystem=strict", "ProtectSystem=strickt"),
    )
    .unwrap();
    let (_, _, warned) = systemd_analyze(dir.path(), &["verify", "--man=no", "./portal.service"]);
    assert!(warned.contains("strickt"), "{warned}");
}
