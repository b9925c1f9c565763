//! The keys ID tokens are signed with: in the database, their private half sealed with the
//! server key, so every instance signs with the same key. A key is published (JWKS) from the
//! moment it is made; a rotated-in key signs only after `PUBLISH_BEFORE_SIGNING_SECONDS`, so
//! apps that cache the key set have seen it first, and the key it replaces stays published until
//! the last ID token it signed has expired.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock},
};

use compact_jwt::{
    JwkKeySet, JwsCompact, JwsEs256Signer, JwsSigner, JwsVerifier, crypto::JwsRs256Signer,
    crypto::JwsRs256Verifier,
};

use crate::{error::AppError, state::AppState, store, unix_time::UnixTime};

/// How long an ID token is good for.
pub const ID_TOKEN_SECONDS: i64 = 60 * 60;
/// How long a rotated-in key is published before it signs.
pub const PUBLISH_BEFORE_SIGNING_SECONDS: i64 = 24 * 60 * 60;

pub const RS256: &str = "RS256";
pub const ES256: &str = "ES256";

/// A private key, ready to sign.
#[derive(Clone)]
enum Signer {
    Rs256(Arc<JwsRs256Signer>),
    Es256(Arc<JwsEs256Signer>),
}

/// Opened keys, by kid: opening and parsing an RSA key for every token would cost more than
/// signing it. A kid names one key whatever the database, so one cache serves every portal.
fn opened() -> &'static Mutex<HashMap<String, Signer>> {
    static OPENED: OnceLock<Mutex<HashMap<String, Signer>>> = OnceLock::new();
    OPENED.get_or_init(Default::default)
}

fn key_context(kid: &str) -> Vec<u8> {
    format!("oidc-signing-key:{kid}").into_bytes()
}

fn crypto_error(error: compact_jwt::JwtError) -> AppError {
    AppError::internal(format!("signing key: {error:?}"))
}

/// A new key for `alg`, sealed, that signs from `signs_from`.
fn new_key(
    state: &AppState,
    alg: &str,
    signs_from: UnixTime,
) -> Result<store::SigningKeyRow, AppError> {
    let (der, jwk, kid) = match alg {
        ES256 => {
            let signer = JwsEs256Signer::generate_es256().map_err(crypto_error)?;
            let der = signer.private_key_to_der().map_err(crypto_error)?;
            let jwk = signer.public_key_as_jwk().map_err(crypto_error)?;
            (der, jwk, signer.get_kid().to_owned())
        }
        _ => {
            let signer = JwsRs256Signer::generate_rs256().map_err(crypto_error)?;
            let der = signer.private_key_to_der().map_err(crypto_error)?;
            let jwk = signer.public_key_as_jwk().map_err(crypto_error)?;
            (der, jwk, signer.get_kid().to_owned())
        }
    };
    Ok(store::SigningKeyRow {
        sealed_key: state.secrets.seal(&der, &key_context(&kid)),
        public_jwk: serde_json::to_string(&jwk).map_err(AppError::internal)?,
        kid,
        alg: alg.to_owned(),
        created_at: state.clock.now(),
        signs_from,
        retired_at: None,
    })
}

/// Makes the first key of `alg` if there is none: instances starting together make one between
/// them (the key is made outside the write lock; a key that lost the race is dropped).
pub async fn ensure_key(state: &AppState, alg: &str) -> Result<(), AppError> {
    let now = state.clock.now();
    if store::signing_key(&state.pool, alg, now).await?.is_some() {
        return Ok(());
    }
    let key = tokio::task::spawn_blocking({
        let (state, alg) = (state.clone(), alg.to_owned());
        move || new_key(&state, &alg, now)
    })
    .await
    .map_err(AppError::internal)??;
    store::add_key(&state.pool, &key, true).await?;
    Ok(())
}

/// `server admin keys rotate`: a new key for each algorithm, published now, signing from a day
/// on; the key it replaces is published until the last token it signed has expired. Returns the
/// new kids.
pub async fn rotate(state: &AppState) -> Result<Vec<String>, AppError> {
    let signs_from = state.clock.now() + PUBLISH_BEFORE_SIGNING_SECONDS;
    let mut kids = Vec::new();
    for alg in [RS256, ES256] {
        // On a portal that has not signed yet, a key signs meanwhile.
        ensure_key(state, alg).await?;
        let key = new_key(state, alg, signs_from)?;
        store::add_key(&state.pool, &key, false).await?;
        kids.push(format!("{alg} {}", key.kid));
    }
    Ok(kids)
}

fn open(state: &AppState, key: &store::SigningKeyRow) -> Result<Signer, AppError> {
    if let Some(signer) = opened().lock().expect("not poisoned").get(&key.kid) {
        return Ok(signer.clone());
    }
    let der = state
        .secrets
        .open(&key.sealed_key, &key_context(&key.kid))?;
    let signer = match key.alg.as_str() {
        ES256 => Signer::Es256(Arc::new(
            JwsEs256Signer::from_es256_der(&der).map_err(crypto_error)?,
        )),
        _ => Signer::Rs256(Arc::new(
            JwsRs256Signer::from_rs256_der(&der).map_err(crypto_error)?,
        )),
    };
    opened()
        .lock()
        .expect("not poisoned")
        .insert(key.kid.clone(), signer.clone());
    Ok(signer)
}

/// `claims` signed as a JWT with the current key of `alg` (its kid in the header).
pub async fn sign(
    state: &AppState,
    alg: &str,
    claims: &serde_json::Value,
    typ: &str,
) -> Result<String, AppError> {
    ensure_key(state, alg).await?;
    let key = store::signing_key(&state.pool, alg, state.clock.now())
        .await?
        .ok_or_else(|| AppError::internal("no signing key"))?;
    let signer = open(state, &key)?;
    let jws = compact_jwt::jws::JwsBuilder::into_json(claims)
        .map_err(AppError::internal)?
        .set_typ(Some(typ))
        .build();
    let signed: JwsCompact = match &signer {
        Signer::Rs256(signer) => signer.sign(&jws),
        Signer::Es256(signer) => signer.sign(&jws),
    }
    .map_err(crypto_error)?;
    Ok(signed.to_string())
}

/// The published keys (JWKS).
pub async fn key_set(state: &AppState) -> Result<JwkKeySet, AppError> {
    // Both algorithms, before any app needs them: a key made at an ES256 app's first sign-in
    // would sign a token no key set an app had fetched could check.
    for alg in [RS256, ES256] {
        ensure_key(state, alg).await?;
    }
    let retired_before = state.clock.now() - ID_TOKEN_SECONDS;
    let keys = store::published_keys(&state.pool, retired_before).await?;
    Ok(JwkKeySet {
        keys: keys
            .iter()
            .filter_map(|key| serde_json::from_str(&key.public_jwk).ok())
            .collect(),
    })
}

/// The claims of a token Portal signed with one of its published keys (its expiry not checked:
/// an `id_token_hint` may have expired).
pub async fn verified_claims(
    state: &AppState,
    token: &str,
) -> Result<Option<serde_json::Value>, AppError> {
    let Ok(compact) = token.parse::<JwsCompact>() else {
        return Ok(None);
    };
    let Some(kid) = compact.header().kid.clone() else {
        return Ok(None);
    };
    let set = key_set(state).await?;
    let Some(jwk) = set.keys.iter().find(|jwk| match jwk {
        compact_jwt::Jwk::RSA { kid: known, .. } | compact_jwt::Jwk::EC { kid: known, .. } => {
            known.as_deref() == Some(kid.as_str())
        }
    }) else {
        return Ok(None);
    };
    let verified = match JwsRs256Verifier::try_from(jwk) {
        Ok(verifier) => verifier.verify(&compact).ok(),
        Err(_) => compact_jwt::JwsEs256Verifier::try_from(jwk)
            .ok()
            .and_then(|verifier| verifier.verify(&compact).ok()),
    };
    Ok(verified.and_then(|jws| jws.from_json::<serde_json::Value>().ok()))
}
