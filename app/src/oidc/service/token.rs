//! The token endpoint (a code or a refresh token for an ID token, an access token and perhaps a
//! refresh token), UserInfo, and revocation (RFC 7009). Access and refresh tokens are random and
//! kept as hashes, so revoking one takes effect at its next use, on every instance.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{
    ACCESS_TOKEN_SECONDS, REFRESH_TOKEN_SECONDS,
    clients::{ClientRefused, authenticate},
    issuer,
    keys::{self, ID_TOKEN_SECONDS},
};
use crate::{
    error::AppError,
    oidc::{Scope, scopes_from},
    security::token,
    state::AppState,
    store::{self, ClientRow, NewAppToken, Redeemed, TokenRow},
};

/// The token endpoint's form (RFC 6749 §4.1.3, §6).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenParams {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// RFC 7009's form.
    pub token: Option<String>,
}

/// An OAuth error answer: the code, its description and the HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub error: &'static str,
    pub description: String,
    pub status: u16,
    /// Seconds to wait, with 429.
    pub retry_after: Option<i64>,
}

impl OAuthError {
    fn new(error: &'static str, description: &str) -> Self {
        Self {
            error,
            description: description.to_owned(),
            status: 400,
            retry_after: None,
        }
    }

    fn invalid_grant() -> Self {
        Self::new("invalid_grant", "The code or refresh token is not valid.")
    }
}

/// The app, from HTTP Basic (`client_secret_basic`) or the form (`client_secret_post`, or a
/// public client's id alone).
pub async fn client_of(
    state: &AppState,
    basic: Option<(String, String)>,
    params: &TokenParams,
) -> Result<Result<ClientRow, OAuthError>, AppError> {
    let (client_id, secret) = match basic {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (params.client_id.clone(), params.client_secret.clone()),
    };
    let Some(client_id) = client_id else {
        return Ok(Err(invalid_client()));
    };
    Ok(
        match authenticate(state, &client_id, secret.as_deref()).await? {
            Ok(client) => Ok(client),
            Err(ClientRefused::Invalid) => Err(invalid_client()),
            Err(ClientRefused::Wait(seconds)) => Err(OAuthError {
                error: "invalid_client",
                description: "Too many failed attempts: try again later.".into(),
                status: 429,
                retry_after: Some(seconds),
            }),
        },
    )
}

fn invalid_client() -> OAuthError {
    OAuthError {
        error: "invalid_client",
        description: "The app could not be authenticated.".into(),
        status: 401,
        retry_after: None,
    }
}

/// RFC 7636 S256: the challenge is BASE64URL(SHA-256(verifier)).
fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let valid = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-._~".contains(&byte));
    valid && URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == challenge
}

/// The token endpoint, for an authenticated app.
#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty, client_id = client.id), err(level = "info", Display))]
pub async fn exchange(
    state: &AppState,
    client: &ClientRow,
    params: &TokenParams,
) -> Result<Result<Value, OAuthError>, AppError> {
    match params.grant_type.as_deref() {
        Some("authorization_code") => by_code(state, client, params).await,
        Some("refresh_token") => by_refresh_token(state, client, params).await,
        _ => Ok(Err(OAuthError::new(
            "unsupported_grant_type",
            "Use authorization_code or refresh_token.",
        ))),
    }
}

/// Fresh access and (with offline access) refresh tokens.
struct Issued {
    access: String,
    refresh: Option<String>,
}

impl Issued {
    fn new(scopes: &str) -> Self {
        Self {
            access: token::new_token(),
            refresh: scopes_from(scopes)
                .contains(&Scope::OfflineAccess)
                .then(token::new_token),
        }
    }
}

async fn by_code(
    state: &AppState,
    client: &ClientRow,
    params: &TokenParams,
) -> Result<Result<Value, OAuthError>, AppError> {
    let (Some(code), Some(verifier)) = (&params.code, &params.code_verifier) else {
        return Ok(Err(OAuthError::new(
            "invalid_request",
            "code and code_verifier are required.",
        )));
    };
    let now = state.clock.now();
    let hash = token::hash(code);
    // Which tokens to make depends on the code's scopes: read them first (a code that is not
    // there fails the same way below).
    let scopes = store::code_scopes(&state.pool, &hash)
        .await?
        .unwrap_or_default();
    let issued = Issued::new(&scopes);
    let (access_hash, refresh_hash) = (
        token::hash(&issued.access),
        issued.refresh.as_deref().map(token::hash),
    );
    let mut tokens = vec![NewAppToken {
        hash: &access_hash,
        kind: "access",
        expires_at: now + ACCESS_TOKEN_SECONDS,
    }];
    if let Some(refresh_hash) = &refresh_hash {
        tokens.push(NewAppToken {
            hash: refresh_hash,
            kind: "refresh",
            expires_at: now + REFRESH_TOKEN_SECONDS,
        });
    }
    let check = |row: &store::CodeRow| {
        row.client_id == client.id
            && params.redirect_uri.as_deref() == Some(row.redirect_uri.as_str())
            && pkce_matches(verifier, &row.code_challenge)
            && row.scopes == scopes
    };
    let code = match store::redeem_code(&state.pool, &hash, now, check, &tokens).await? {
        Redeemed::Issued(code) => code,
        Redeemed::Refused => return Ok(Err(OAuthError::invalid_grant())),
        Redeemed::Reused => {
            tracing::warn!(
                client_id = client.id,
                "a code was used twice: its tokens are revoked"
            );
            return Ok(Err(OAuthError::invalid_grant()));
        }
    };
    tracing::Span::current().record("user_id", code.user_id.0);
    let grant = TokenRow {
        family: code.family,
        user_id: code.user_id,
        client_id: code.client_id,
        scopes: code.scopes,
        auth_time: code.auth_time,
        amr: code.amr,
        expires_at: code.expires_at,
        used_at: None,
    };
    answer(state, client, &grant, code.nonce.as_deref(), issued)
        .await
        .map(Ok)
}

async fn by_refresh_token(
    state: &AppState,
    client: &ClientRow,
    params: &TokenParams,
) -> Result<Result<Value, OAuthError>, AppError> {
    let Some(refresh) = &params.refresh_token else {
        return Ok(Err(OAuthError::new(
            "invalid_request",
            "refresh_token is required.",
        )));
    };
    let now = state.clock.now();
    let issued = Issued {
        access: token::new_token(),
        refresh: Some(token::new_token()),
    };
    let (access_hash, refresh_hash) = (
        token::hash(&issued.access),
        token::hash(issued.refresh.as_deref().unwrap_or_default()),
    );
    let tokens = [
        NewAppToken {
            hash: &access_hash,
            kind: "access",
            expires_at: now + ACCESS_TOKEN_SECONDS,
        },
        NewAppToken {
            hash: &refresh_hash,
            kind: "refresh",
            expires_at: now + REFRESH_TOKEN_SECONDS,
        },
    ];
    let check = |row: &TokenRow| row.client_id == client.id;
    let hash = token::hash(refresh);
    match store::rotate_refresh_token(&state.pool, &hash, now, check, &tokens).await? {
        Redeemed::Issued(grant) => {
            tracing::Span::current().record("user_id", grant.user_id.0);
            answer(state, client, &grant, None, issued).await.map(Ok)
        }
        Redeemed::Refused => Ok(Err(OAuthError::invalid_grant())),
        Redeemed::Reused => {
            tracing::warn!(
                client_id = client.id,
                "a spent refresh token was used again: its family is revoked"
            );
            Ok(Err(OAuthError::invalid_grant()))
        }
    }
}

/// The claims about the person that the granted scopes allow.
async fn person_claims(
    state: &AppState,
    grant: &TokenRow,
) -> Result<serde_json::Map<String, Value>, AppError> {
    let scopes = scopes_from(&grant.scopes);
    let account = store::account(&state.pool, grant.user_id)
        .await?
        .ok_or(AppError::Unauthorized)?;
    let mut claims = serde_json::Map::new();
    let subject = store::subject_of(&state.pool, grant.user_id, &token::new_token()).await?;
    claims.insert("sub".into(), json!(subject));
    if scopes.contains(&Scope::Profile) {
        claims.insert("preferred_username".into(), json!(account.username));
    }
    if scopes.contains(&Scope::Email) {
        claims.insert("email".into(), json!(account.email));
        claims.insert(
            "email_verified".into(),
            json!(account.email_verified_at.is_some()),
        );
    }
    if scopes.contains(&Scope::Groups) {
        let groups: Vec<String> = store::memberships_of(&state.pool, grant.user_id)
            .await?
            .into_iter()
            .map(|membership| membership.slug)
            .collect();
        claims.insert("groups".into(), json!(groups));
    }
    Ok(claims)
}

async fn answer(
    state: &AppState,
    client: &ClientRow,
    grant: &TokenRow,
    nonce: Option<&str>,
    issued: Issued,
) -> Result<Value, AppError> {
    let now = state.clock.now();
    let mut claims = person_claims(state, grant).await?;
    claims.insert("iss".into(), json!(issuer(state)));
    claims.insert("aud".into(), json!(client.id));
    claims.insert("azp".into(), json!(client.id));
    claims.insert("iat".into(), json!(now.0));
    claims.insert("exp".into(), json!(now.0 + ID_TOKEN_SECONDS));
    claims.insert("auth_time".into(), json!(grant.auth_time.0));
    claims.insert(
        "amr".into(),
        json!(grant.amr.split(' ').collect::<Vec<_>>()),
    );
    if let Some(nonce) = nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    let id_token = keys::sign(state, &client.id_token_alg, &Value::Object(claims), "JWT").await?;
    let mut body = json!({
        "access_token": issued.access,
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_SECONDS,
        "id_token": id_token,
        "scope": grant.scopes,
    });
    if let Some(refresh) = issued.refresh {
        body["refresh_token"] = json!(refresh);
    }
    Ok(body)
}

/// UserInfo: the claims an access token's scopes allow, or None for a token that is unknown,
/// expired or revoked.
#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn userinfo(state: &AppState, access_token: &str) -> Result<Option<Value>, AppError> {
    let now = state.clock.now();
    let Some(grant) = store::access_token(&state.pool, &token::hash(access_token), now).await?
    else {
        return Ok(None);
    };
    tracing::Span::current().record("user_id", grant.user_id.0);
    Ok(Some(Value::Object(person_claims(state, &grant).await?)))
}

/// RFC 7009: the token dies if it is the app's; the answer is the same whether it was or not.
#[tracing::instrument(skip_all, fields(client_id = client.id), err(level = "info", Display))]
pub async fn revoke(state: &AppState, client: &ClientRow, token: &str) -> Result<(), AppError> {
    store::revoke_token(&state.pool, &token::hash(token), &client.id).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc_7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(verifier, challenge));
        assert!(!pkce_matches(&verifier.replace('d', "e"), challenge));
        // `plain` would send the verifier itself as the challenge: refused.
        assert!(!pkce_matches(verifier, verifier));
        assert!(!pkce_matches("short", "short"));
    }
}
