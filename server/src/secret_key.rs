//! The server key that seals second-factor secrets: PORTAL_SECRET_KEY, or else a key file made
//! in the data folder on first start, readable by its owner only.

use std::{fs, io::Write, path::Path};

use anyhow::{Context, bail};
use app::security::crypto::random_bytes;

use crate::Config;

pub const KEY_FILE: &str = "secret.key";

pub fn load_or_create(config: &Config) -> anyhow::Result<[u8; 32]> {
    if let Some(key) = &config.secret_key {
        return Ok(key.0);
    }
    let path = config.data_dir.join(KEY_FILE);
    if path.exists() {
        return read(&path);
    }
    let key = random_bytes::<32>();
    write_new(&path, &key).with_context(|| {
        format!(
            "PORTAL_DATA_DIR: cannot write the key file {}",
            path.display()
        )
    })?;
    tracing::info!(path = %path.display(), "made a new server key");
    Ok(key)
}

fn read(path: &Path) -> anyhow::Result<[u8; 32]> {
    let text = fs::read_to_string(path).with_context(|| {
        format!(
            "PORTAL_DATA_DIR: cannot read the key file {}",
            path.display()
        )
    })?;
    match crate::config::parse_secret_key(&text) {
        Ok(key) => Ok(key.0),
        Err(problem) => bail!("PORTAL_DATA_DIR: the key file {} {problem}", path.display()),
    }
}

/// Created with mode 0600 from the start, so the key is never readable by others, not even
/// for a moment.
fn write_new(path: &Path, key: &[u8; 32]) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    writeln!(file, "{}", hex::encode(key))?;
    file.sync_all()
}
