//! Registered apps: the operator adds them from the command line (`server admin client …`);
//! an app proves who it is with its secret (kept as a SHA-256 hash, compared in constant time,
//! failures throttled per app), or, if public, by PKCE alone.

use subtle::ConstantTimeEq;

use crate::{
    error::AppError,
    security::{crypto::random_bytes, throttle},
    state::AppState,
    store::{self, ClientRow},
};

use super::keys::{ES256, RS256};

/// What the operator registers.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub public: bool,
    pub first_party: bool,
    pub require_two_factor: bool,
    /// `RS256` (the default) or `ES256`.
    pub id_token_alg: Option<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
}

/// A registered app: its id, and its secret (shown once) unless it is public.
#[derive(Debug, Clone)]
pub struct Registered {
    pub client_id: String,
    pub client_secret: Option<String>,
}

/// A redirect URI an app may register: https, or http on the person's own machine (RFC 8252:
/// `127.0.0.1`, `[::1]` or `localhost`), without a fragment.
pub fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let url = url::Url::parse(uri).map_err(|error| format!("{uri}: not a URL ({error})"))?;
    if url.fragment().is_some() {
        return Err(format!("{uri}: a redirect URI has no fragment"));
    }
    let loopback = matches!(
        url.host(),
        Some(url::Host::Domain("localhost"))
            | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
            | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
    );
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(format!(
            "{uri}: use https, or http only on 127.0.0.1, [::1] or localhost"
        )),
    }
}

pub fn secret_hash(secret: &str) -> Vec<u8> {
    crate::security::token::hash(secret)
}

fn new_secret() -> String {
    hex::encode(random_bytes::<32>())
}

pub async fn register(state: &AppState, client: NewClient) -> Result<Registered, String> {
    if client.name.trim().is_empty() {
        return Err("give the app a --name".into());
    }
    if client.redirect_uris.is_empty() {
        return Err("give at least one --redirect-uri".into());
    }
    for uri in client
        .redirect_uris
        .iter()
        .chain(&client.post_logout_redirect_uris)
        .chain(&client.backchannel_logout_uri)
    {
        check_redirect_uri(uri)?;
    }
    let alg = client.id_token_alg.as_deref().unwrap_or(RS256);
    if alg != RS256 && alg != ES256 {
        return Err(format!("--id-token-alg {alg}: RS256 or ES256"));
    }
    let client_id = hex::encode(random_bytes::<16>());
    let client_secret = (!client.public).then(new_secret);
    let row = ClientRow {
        id: client_id.clone(),
        name: client.name.trim().to_owned(),
        secret_hash: client_secret.as_deref().map(secret_hash),
        redirect_uris: client.redirect_uris.join("\n"),
        post_logout_redirect_uris: client.post_logout_redirect_uris.join("\n"),
        backchannel_logout_uri: client.backchannel_logout_uri,
        first_party: client.first_party,
        require_two_factor: client.require_two_factor,
        id_token_alg: alg.to_owned(),
        created_at: state.clock.now(),
    };
    store::insert_client(&state.pool, &row)
        .await
        .map_err(|error| error.to_string())?;
    Ok(Registered {
        client_id,
        client_secret,
    })
}

/// A new secret for a confidential app (the old one stops working), or None.
pub async fn rotate_secret(state: &AppState, client_id: &str) -> Result<Option<String>, AppError> {
    let secret = new_secret();
    Ok(
        store::set_client_secret(&state.pool, client_id, &secret_hash(&secret))
            .await?
            .then_some(secret),
    )
}

/// Why an app was not let in at the token or revocation endpoint (RFC 6749 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientRefused {
    /// Unknown app, wrong or missing secret: `invalid_client`, 401.
    Invalid,
    /// Too many failures of late: wait this many seconds.
    Wait(i64),
}

/// The app calling, proven by its secret (confidential) or by nothing but its id (public: PKCE
/// then proves the caller). Each failure counts against the app; past the free ones the app
/// waits, doubling, so a secret cannot be guessed, also by parallel requests.
pub async fn authenticate(
    state: &AppState,
    client_id: &str,
    secret: Option<&str>,
) -> Result<Result<ClientRow, ClientRefused>, AppError> {
    let Some(client) = store::client(&state.pool, client_id).await? else {
        return Ok(Err(ClientRefused::Invalid));
    };
    let Some(hash) = &client.secret_hash else {
        // A public client sends no secret (HTTP Basic's `id:` sends an empty one); one that sends
        // a secret is mistaken.
        return Ok(if secret.is_none_or(str::is_empty) {
            Ok(client)
        } else {
            Err(ClientRefused::Invalid)
        });
    };
    // The secret is checked first (cheap), then its outcome settled under the write lock: a
    // reservation taken before the check would count every call in flight as a failure, and an
    // app's parallel token calls with its right secret would be told to wait.
    let right = secret.is_some_and(|secret| bool::from(secret_hash(secret).ct_eq(hash)));
    let now = state.clock.now();
    let key = format!("client:{client_id}");
    let settled = store::settle_client_secret_attempt(&state.pool, &key, now, right, |failures| {
        match throttle::password_verdict(
            u32::try_from(failures.failures).unwrap_or(u32::MAX),
            failures.last_failure_at,
            now,
        ) {
            throttle::Verdict::Allowed => Ok(()),
            throttle::Verdict::WaitSeconds(wait) => Err(ClientRefused::Wait(wait)),
            throttle::Verdict::Locked => Err(ClientRefused::Wait(throttle::MAX_WAIT_SECONDS)),
        }
    })
    .await?;
    Ok(match settled {
        Err(refused) => Err(refused),
        Ok(()) if right => Ok(client),
        Ok(()) => Err(ClientRefused::Invalid),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_are_https_or_http_on_loopback() {
        for good in [
            "https://app.example/callback",
            "http://127.0.0.1:8080/cb",
            "http://localhost/cb",
            "http://[::1]:9/cb",
        ] {
            assert_eq!(check_redirect_uri(good), Ok(()), "{good}");
        }
        for bad in [
            "http://app.example/cb",
            "https://app.example/cb#x",
            "javascript:alert(1)",
            "/relative",
            "http://127.0.0.2/cb",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
    }
}
