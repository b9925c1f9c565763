//! Portal as an OpenID Connect provider: registered apps, signing keys, what each person allowed
//! each app, and the codes and tokens issued (kept as hashes). Everything one code issued is a
//! family: a second use of the code, or of a spent refresh token, deletes the family and with it
//! every token it holds.

use sqlx::{AnyPool, FromRow};

use super::{SignInId, UserId, begin_write};
use crate::unix_time::UnixTime;

/// A registered app.
#[derive(Debug, Clone, FromRow)]
pub struct ClientRow {
    pub id: String,
    pub name: String,
    /// SHA-256 of the secret; None for a public client.
    pub secret_hash: Option<Vec<u8>>,
    /// One URI per line.
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub backchannel_logout_uri: Option<String>,
    #[sqlx(try_from = "super::Flag")]
    pub first_party: bool,
    #[sqlx(try_from = "super::Flag")]
    pub require_two_factor: bool,
    pub id_token_alg: String,
    pub created_at: UnixTime,
}

impl ClientRow {
    pub fn redirect_uris(&self) -> impl Iterator<Item = &str> {
        self.redirect_uris.lines()
    }

    pub fn post_logout_redirect_uris(&self) -> impl Iterator<Item = &str> {
        self.post_logout_redirect_uris.lines()
    }
}

const CLIENT_COLUMNS: &str = "id, name, secret_hash, redirect_uris, post_logout_redirect_uris, backchannel_logout_uri, first_party, require_two_factor, id_token_alg, created_at";

pub async fn insert_client(pool: &AnyPool, client: &ClientRow) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO oidc_clients ({CLIENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    ))
    .bind(&client.id)
    .bind(&client.name)
    .bind(client.secret_hash.as_deref())
    .bind(&client.redirect_uris)
    .bind(&client.post_logout_redirect_uris)
    .bind(client.backchannel_logout_uri.as_deref())
    .bind(i64::from(client.first_party))
    .bind(i64::from(client.require_two_factor))
    .bind(&client.id_token_alg)
    .bind(client.created_at)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn client(pool: &AnyPool, id: &str) -> Result<Option<ClientRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {CLIENT_COLUMNS} FROM oidc_clients WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

pub async fn clients(pool: &AnyPool) -> Result<Vec<ClientRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {CLIENT_COLUMNS} FROM oidc_clients ORDER BY name, id"
    ))
    .fetch_all(pool)
    .await
}

/// Removes the app and everything issued to it. False when there was none.
pub async fn remove_client(pool: &AnyPool, id: &str) -> Result<bool, sqlx::Error> {
    let mut tx = begin_write(pool).await?;
    for table in ["oidc_codes", "oidc_tokens", "oidc_families", "oidc_grants"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE client_id = $1"))
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    let removed = sqlx::query("DELETE FROM oidc_clients WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(removed == 1)
}

/// A new secret for a confidential app. False when there is no such app or it is public.
pub async fn set_client_secret(
    pool: &AnyPool,
    id: &str,
    secret_hash: &[u8],
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE oidc_clients SET secret_hash = $1 WHERE id = $2 AND secret_hash IS NOT NULL",
    )
    .bind(secret_hash)
    .bind(id)
    .execute(pool)
    .await?
    .rows_affected()
        == 1)
}

/// A signing key: its private half sealed with the server key.
#[derive(Debug, Clone, FromRow)]
pub struct SigningKeyRow {
    pub kid: String,
    pub alg: String,
    pub sealed_key: Vec<u8>,
    pub public_jwk: String,
    pub created_at: UnixTime,
    pub signs_from: UnixTime,
    pub retired_at: Option<UnixTime>,
}

const KEY_COLUMNS: &str = "kid, alg, sealed_key, public_jwk, created_at, signs_from, retired_at";

/// The keys still published: every key not retired, and each retired one until `retired_before`
/// (the last token it signed has expired by then).
pub async fn published_keys(
    pool: &AnyPool,
    retired_before: UnixTime,
) -> Result<Vec<SigningKeyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {KEY_COLUMNS} FROM oidc_keys WHERE retired_at IS NULL OR retired_at > $1 ORDER BY created_at, kid"
    ))
    .bind(retired_before)
    .fetch_all(pool)
    .await
}

/// The key that signs with `alg` now: the newest whose time has come.
pub async fn signing_key(
    pool: &AnyPool,
    alg: &str,
    now: UnixTime,
) -> Result<Option<SigningKeyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {KEY_COLUMNS} FROM oidc_keys WHERE alg = $1 AND signs_from <= $2 ORDER BY signs_from DESC, kid LIMIT 1"
    ))
    .bind(alg)
    .bind(now)
    .fetch_optional(pool)
    .await
}

/// Adds `key` unless a key of its algorithm exists already (`only_if_none`), in one write
/// transaction: instances starting together make one key. Keys of the algorithm that sign until
/// the new one takes over are marked retired from then.
pub async fn add_key(
    pool: &AnyPool,
    key: &SigningKeyRow,
    only_if_none: bool,
) -> Result<bool, sqlx::Error> {
    let mut tx = begin_write(pool).await?;
    // Keys waiting for their turn (a rotation) do not count: only one that signs by then.
    let existing: i64 =
        sqlx::query_scalar("SELECT count(*) FROM oidc_keys WHERE alg = $1 AND signs_from <= $2")
            .bind(&key.alg)
            .bind(key.signs_from)
            .fetch_one(&mut *tx)
            .await?;
    if only_if_none && existing > 0 {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE oidc_keys SET retired_at = $1 WHERE alg = $2 AND retired_at IS NULL AND signs_from < $3",
    )
    .bind(key.signs_from)
    .bind(&key.alg)
    .bind(key.signs_from)
    .execute(&mut *tx)
    .await?;
    sqlx::query(&format!(
        "INSERT INTO oidc_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, NULL)"
    ))
    .bind(&key.kid)
    .bind(&key.alg)
    .bind(&key.sealed_key)
    .bind(&key.public_jwk)
    .bind(key.created_at)
    .bind(key.signs_from)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// The account's subject for every app: random, made on first use, never given to another.
pub async fn subject_of(
    pool: &AnyPool,
    user_id: UserId,
    fresh: &str,
) -> Result<String, sqlx::Error> {
    let known: Option<String> =
        sqlx::query_scalar("SELECT subject FROM oidc_subjects WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(pool)
            .await?;
    if let Some(subject) = known {
        return Ok(subject);
    }
    sqlx::query(
        "INSERT INTO oidc_subjects (user_id, subject) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(user_id)
    .bind(fresh)
    .execute(pool)
    .await?;
    sqlx::query_scalar("SELECT subject FROM oidc_subjects WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(pool)
        .await
}

/// What a person allowed an app.
#[derive(Debug, Clone, FromRow)]
pub struct GrantRow {
    pub client_id: String,
    pub client_name: String,
    /// Space-separated.
    pub scopes: String,
    pub granted_at: UnixTime,
    pub last_used_at: Option<UnixTime>,
}

const GRANT_SELECT: &str = "SELECT g.client_id, c.name AS client_name, g.scopes, g.granted_at, g.last_used_at FROM oidc_grants g JOIN oidc_clients c ON c.id = g.client_id";

pub async fn grant(
    pool: &AnyPool,
    user_id: UserId,
    client_id: &str,
) -> Result<Option<GrantRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{GRANT_SELECT} WHERE g.user_id = $1 AND g.client_id = $2"
    ))
    .bind(user_id)
    .bind(client_id)
    .fetch_optional(pool)
    .await
}

pub async fn grants_of(pool: &AnyPool, user_id: UserId) -> Result<Vec<GrantRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{GRANT_SELECT} WHERE g.user_id = $1 ORDER BY c.name, g.client_id"
    ))
    .bind(user_id)
    .fetch_all(pool)
    .await
}

pub async fn save_grant(
    pool: &AnyPool,
    user_id: UserId,
    client_id: &str,
    scopes: &str,
    now: UnixTime,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO oidc_grants (user_id, client_id, scopes, granted_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at",
    )
    .bind(user_id)
    .bind(client_id)
    .bind(scopes)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

/// Withdraws what the account allowed the app, and everything issued to it for the account.
/// False when there was nothing.
pub async fn revoke_grant(
    pool: &AnyPool,
    user_id: UserId,
    client_id: &str,
) -> Result<bool, sqlx::Error> {
    let mut tx = begin_write(pool).await?;
    let mut removed = 0;
    for table in ["oidc_codes", "oidc_tokens", "oidc_families", "oidc_grants"] {
        removed += sqlx::query(&format!(
            "DELETE FROM {table} WHERE user_id = $1 AND client_id = $2"
        ))
        .bind(user_id)
        .bind(client_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    tx.commit().await?;
    Ok(removed > 0)
}

/// Every code and token of the account dies (a password change, a factor changed or reset, a
/// changed address undone): apps must sign the person in again. What was allowed stays.
pub async fn revoke_app_tokens(
    connection: &mut sqlx::AnyConnection,
    user_id: UserId,
) -> Result<(), sqlx::Error> {
    for table in ["oidc_codes", "oidc_tokens", "oidc_families"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
            .bind(user_id)
            .execute(&mut *connection)
            .await?;
    }
    Ok(())
}

/// `revoke_app_tokens` on a connection of the pool.
pub async fn revoke_all_app_tokens(pool: &AnyPool, user_id: UserId) -> Result<(), sqlx::Error> {
    revoke_app_tokens(&mut *pool.acquire().await?, user_id).await
}

/// The apps (with a back-channel logout URI) that hold tokens from this sign-in.
pub async fn backchannel_clients_of_sign_in(
    pool: &AnyPool,
    sign_in_id: &SignInId,
) -> Result<Vec<(String, String, UserId)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT DISTINCT c.id, c.backchannel_logout_uri, f.user_id FROM oidc_families f
         JOIN oidc_clients c ON c.id = f.client_id
         WHERE f.sign_in_id = $1 AND c.backchannel_logout_uri IS NOT NULL",
    )
    .bind(sign_in_id)
    .fetch_all(pool)
    .await
}

/// A code, as issued.
#[derive(Debug, Clone, FromRow)]
pub struct CodeRow {
    pub family: String,
    pub user_id: UserId,
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub scopes: String,
    pub nonce: Option<String>,
    pub auth_time: UnixTime,
    pub amr: String,
    pub sign_in_id: Option<SignInId>,
    pub expires_at: UnixTime,
    pub used_at: Option<UnixTime>,
}

/// Issues a code: its family is made with it.
pub async fn insert_code(
    pool: &AnyPool,
    hash: &[u8],
    code: &CodeRow,
    now: UnixTime,
) -> Result<(), sqlx::Error> {
    let mut tx = begin_write(pool).await?;
    sqlx::query(
        "INSERT INTO oidc_families (id, user_id, client_id, sign_in_id, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&code.family)
    .bind(code.user_id)
    .bind(&code.client_id)
    .bind(code.sign_in_id.as_ref())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO oidc_codes (hash, family, user_id, client_id, redirect_uri, code_challenge, scopes, nonce, auth_time, amr, sign_in_id, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(hash)
    .bind(&code.family)
    .bind(code.user_id)
    .bind(&code.client_id)
    .bind(&code.redirect_uri)
    .bind(&code.code_challenge)
    .bind(&code.scopes)
    .bind(code.nonce.as_deref())
    .bind(code.auth_time)
    .bind(&code.amr)
    .bind(code.sign_in_id.as_ref())
    .bind(code.expires_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// An access or refresh token to keep (as its hash).
#[derive(Debug, Clone)]
pub struct NewAppToken<'a> {
    pub hash: &'a [u8],
    pub kind: &'static str,
    pub expires_at: UnixTime,
}

/// What an access or refresh token stands for.
#[derive(Debug, Clone, FromRow)]
pub struct TokenRow {
    pub family: String,
    pub user_id: UserId,
    pub client_id: String,
    pub scopes: String,
    pub auth_time: UnixTime,
    pub amr: String,
    pub expires_at: UnixTime,
    pub used_at: Option<UnixTime>,
}

/// What redeeming a code or a refresh token came to.
#[derive(Debug)]
pub enum Redeemed<T> {
    Issued(T),
    /// Unknown, expired, or refused by the caller's check.
    Refused,
    /// Used before: everything its family issued is revoked.
    Reused,
}

async fn insert_tokens(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    grant: &TokenRow,
    tokens: &[NewAppToken<'_>],
    now: UnixTime,
) -> Result<(), sqlx::Error> {
    for token in tokens {
        sqlx::query(
            "INSERT INTO oidc_tokens (hash, kind, family, user_id, client_id, scopes, auth_time, amr, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(token.hash)
        .bind(token.kind)
        .bind(&grant.family)
        .bind(grant.user_id)
        .bind(&grant.client_id)
        .bind(&grant.scopes)
        .bind(grant.auth_time)
        .bind(&grant.amr)
        .bind(token.expires_at)
        .execute(&mut **tx)
        .await?;
    }
    sqlx::query("UPDATE oidc_grants SET last_used_at = $1 WHERE user_id = $2 AND client_id = $3")
        .bind(now)
        .bind(grant.user_id)
        .bind(&grant.client_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn delete_family(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    family: &str,
) -> Result<(), sqlx::Error> {
    for table in ["oidc_tokens", "oidc_families"] {
        let column = if table == "oidc_tokens" {
            "family"
        } else {
            "id"
        };
        sqlx::query(&format!("DELETE FROM {table} WHERE {column} = $1"))
            .bind(family)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Takes the code once, in one write transaction across every instance: `check` judges it (the
/// client, the redirect URI, the PKCE verifier) and the tokens are kept with it. A code used
/// before revokes its family; a code that fails `check` is spent all the same.
pub async fn redeem_code(
    pool: &AnyPool,
    hash: &[u8],
    now: UnixTime,
    check: impl FnOnce(&CodeRow) -> bool,
    tokens: &[NewAppToken<'_>],
) -> Result<Redeemed<CodeRow>, sqlx::Error> {
    let mut tx = begin_write(pool).await?;
    let code: Option<CodeRow> = sqlx::query_as(
        "SELECT family, user_id, client_id, redirect_uri, code_challenge, scopes, nonce, auth_time, amr, sign_in_id, expires_at, used_at
         FROM oidc_codes WHERE hash = $1",
    )
    .bind(hash)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(code) = code else {
        return Ok(Redeemed::Refused);
    };
    if code.used_at.is_some() {
        delete_family(&mut tx, &code.family).await?;
        tx.commit().await?;
        return Ok(Redeemed::Reused);
    }
    sqlx::query("UPDATE oidc_codes SET used_at = $1 WHERE hash = $2")
        .bind(now)
        .bind(hash)
        .execute(&mut *tx)
        .await?;
    if code.expires_at <= now || !check(&code) {
        tx.commit().await?;
        return Ok(Redeemed::Refused);
    }
    let grant = TokenRow {
        family: code.family.clone(),
        user_id: code.user_id,
        client_id: code.client_id.clone(),
        scopes: code.scopes.clone(),
        auth_time: code.auth_time,
        amr: code.amr.clone(),
        expires_at: code.expires_at,
        used_at: None,
    };
    insert_tokens(&mut tx, &grant, tokens, now).await?;
    tx.commit().await?;
    Ok(Redeemed::Issued(code))
}

const TOKEN_SELECT: &str = "SELECT family, user_id, client_id, scopes, auth_time, amr, expires_at, used_at FROM oidc_tokens";

/// Spends a refresh token once and keeps its successors in the same family. A spent one used
/// again revokes the family (it was stolen, or its successor was).
pub async fn rotate_refresh_token(
    pool: &AnyPool,
    hash: &[u8],
    now: UnixTime,
    check: impl FnOnce(&TokenRow) -> bool,
    tokens: &[NewAppToken<'_>],
) -> Result<Redeemed<TokenRow>, sqlx::Error> {
    let mut tx = begin_write(pool).await?;
    let token: Option<TokenRow> = sqlx::query_as(&format!(
        "{TOKEN_SELECT} WHERE hash = $1 AND kind = 'refresh'"
    ))
    .bind(hash)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(token) = token else {
        return Ok(Redeemed::Refused);
    };
    if token.used_at.is_some() {
        delete_family(&mut tx, &token.family).await?;
        tx.commit().await?;
        return Ok(Redeemed::Reused);
    }
    if token.expires_at <= now || !check(&token) {
        return Ok(Redeemed::Refused);
    }
    sqlx::query("UPDATE oidc_tokens SET used_at = $1 WHERE hash = $2")
        .bind(now)
        .bind(hash)
        .execute(&mut *tx)
        .await?;
    insert_tokens(&mut tx, &token, tokens, now).await?;
    tx.commit().await?;
    Ok(Redeemed::Issued(token))
}

/// What a live access token stands for.
pub async fn access_token(
    pool: &AnyPool,
    hash: &[u8],
    now: UnixTime,
) -> Result<Option<TokenRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{TOKEN_SELECT} WHERE hash = $1 AND kind = 'access' AND expires_at > $2"
    ))
    .bind(hash)
    .bind(now)
    .fetch_optional(pool)
    .await
}

/// RFC 7009: the token dies if it is this app's; a refresh token takes its family with it.
pub async fn revoke_token(pool: &AnyPool, hash: &[u8], client_id: &str) -> Result<(), sqlx::Error> {
    let mut tx = begin_write(pool).await?;
    let found: Option<(String, String)> =
        sqlx::query_as("SELECT kind, family FROM oidc_tokens WHERE hash = $1 AND client_id = $2")
            .bind(hash)
            .bind(client_id)
            .fetch_optional(&mut *tx)
            .await?;
    match found {
        Some((kind, family)) if kind == "refresh" => delete_family(&mut tx, &family).await?,
        Some(_) => {
            sqlx::query("DELETE FROM oidc_tokens WHERE hash = $1")
                .bind(hash)
                .execute(&mut *tx)
                .await?;
        }
        None => {}
    }
    tx.commit().await
}

/// Expired codes and tokens, and families with nothing left in them, go.
pub async fn delete_expired_app_tokens(pool: &AnyPool, now: UnixTime) -> Result<u64, sqlx::Error> {
    let mut deleted = 0;
    for query in [
        "DELETE FROM oidc_codes WHERE expires_at < $1",
        "DELETE FROM oidc_tokens WHERE expires_at < $1",
    ] {
        deleted += sqlx::query(query)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected();
    }
    deleted += sqlx::query(
        "DELETE FROM oidc_families WHERE created_at < $1
           AND NOT EXISTS (SELECT 1 FROM oidc_tokens t WHERE t.family = oidc_families.id)
           AND NOT EXISTS (SELECT 1 FROM oidc_codes c WHERE c.family = oidc_families.id)",
    )
    .bind(now)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(deleted)
}

/// The scopes a code was issued for, if it exists.
pub async fn code_scopes(pool: &AnyPool, hash: &[u8]) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT scopes FROM oidc_codes WHERE hash = $1")
        .bind(hash)
        .fetch_optional(pool)
        .await
}

/// Settles an app's attempt at its secret, checked already (a SHA-256 comparison: no lock needs
/// to be held across it), on the secret's failure counter (`password_failures`, keyed
/// `client:<id>`): in one write transaction `allowed` judges the counter, and only an allowed
/// attempt counts, clearing it when `right` and adding a failure when not. Unlike a password's
/// reservation, a right secret is never counted as a failure first, so an app's parallel calls
/// with its right secret do not make each other wait; wrong ones are still counted one by one.
pub async fn settle_client_secret_attempt<E>(
    pool: &AnyPool,
    key: &str,
    now: UnixTime,
    right: bool,
    allowed: impl FnOnce(super::Failures) -> Result<(), E>,
) -> Result<Result<(), E>, sqlx::Error> {
    let mut tx = begin_write(pool).await?;
    let earlier: Option<super::Failures> = sqlx::query_as(
        "SELECT failures, last_failure_at FROM password_failures WHERE username = $1 AND device = ''",
    )
    .bind(key)
    .fetch_optional(&mut *tx)
    .await?;
    if let Err(refused) = allowed(earlier.unwrap_or_default()) {
        return Ok(Err(refused));
    }
    if !right {
        sqlx::query(
            "INSERT INTO password_failures (username, device, failures, last_failure_at) VALUES ($1, '', 1, $2)
             ON CONFLICT (username, device) DO UPDATE SET failures = password_failures.failures + 1, last_failure_at = excluded.last_failure_at",
        )
        .bind(key)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    } else if earlier.is_some() {
        sqlx::query("DELETE FROM password_failures WHERE username = $1 AND device = ''")
            .bind(key)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(Ok(()))
}
