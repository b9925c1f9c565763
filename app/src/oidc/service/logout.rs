//! Signing out from an app (RP-initiated logout) and telling apps that a sign-in ended
//! (back-channel logout: a signed logout token posted to the URI the app registered).

use serde::Deserialize;
use serde_json::json;
use tower_sessions::Session;

use super::{issuer, keys};
use crate::{
    auth::AuthSession,
    error::AppError,
    paths,
    security::token,
    state::AppState,
    store::{self, ClientRow, SignInId, UserId},
};

/// The end-session endpoint's parameters.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LogoutParams {
    pub id_token_hint: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    pub client_id: Option<String>,
}

/// Where the browser goes after an app asked to sign it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterLogout {
    /// A post-logout URI the app registered.
    App(String),
    /// Portal's own page.
    Portal(String),
}

/// RP-initiated logout. An `id_token_hint` Portal signed, for the account signed in here (or
/// for no one signed in), signs the browser out and, with a `post_logout_redirect_uri` its app
/// registered exactly, goes back there. Without a valid hint no one is signed out by a link:
/// the browser is sent to Portal, whose every page has Sign out.
#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn end_session(
    state: &AppState,
    session: Session,
    params: &LogoutParams,
) -> Result<AfterLogout, AppError> {
    let claims = match &params.id_token_hint {
        Some(hint) => keys::verified_claims(state, hint).await?,
        None => None,
    };
    // An ID token of this issuer (a logout token is not one), for the app that names itself.
    let claims = claims.filter(|claims| {
        claims["iss"] == json!(issuer(state))
            && claims.get("events").is_none()
            && params
                .client_id
                .as_ref()
                .is_none_or(|client_id| claims["aud"] == json!(client_id))
    });
    let Some(claims) = claims else {
        return Ok(AfterLogout::Portal(paths::PORTAL.to_owned()));
    };
    let audience = claims["aud"].as_str().unwrap_or_default().to_owned();
    let client = store::client(&state.pool, &audience).await?;
    let auth = AuthSession::new(session);
    if let Some(user_id) = auth.signed_in_user(state).await? {
        let subject = store::subject_of(&state.pool, user_id, &token::new_token()).await?;
        if claims["sub"] != json!(subject) {
            // A hint for someone else: this browser's sign-in is not the app's to end.
            return Ok(AfterLogout::Portal(paths::PORTAL.to_owned()));
        }
        tracing::Span::current().record("user_id", user_id.0);
        let sign_in = auth.sign_in_id().await?;
        auth.sign_out(state).await?;
        if let Some(sign_in) = sign_in {
            tell_apps_of_sign_in(state, &sign_in).await;
        }
    }
    let back = params.post_logout_redirect_uri.as_deref().filter(|uri| {
        client.as_ref().is_some_and(|client| {
            client
                .post_logout_redirect_uris()
                .any(|known| known == *uri)
        })
    });
    Ok(match (back, url::Url::parse(back.unwrap_or_default())) {
        (Some(_), Ok(mut url)) => {
            if let Some(app_state) = &params.state {
                url.query_pairs_mut().append_pair("state", app_state);
            }
            AfterLogout::App(url.into())
        }
        _ => AfterLogout::Portal(crate::notice::Notice::SignedOut.at(paths::LOGIN)),
    })
}

/// Every app that holds tokens from this sign-in, and registered a back-channel URI, is told.
pub async fn tell_apps_of_sign_in(state: &AppState, sign_in: &SignInId) {
    let apps = match store::backchannel_clients_of_sign_in(&state.pool, sign_in).await {
        Ok(apps) => apps,
        Err(error) => {
            tracing::warn!(%error, "back-channel logout: the apps could not be read");
            return;
        }
    };
    for (client_id, uri, user_id) in apps {
        send_logout_token(state, &client_id, &uri, user_id).await;
    }
}

/// Tells the app (if it registered a back-channel URI) that the person's sessions with it end.
pub async fn tell_app(state: &AppState, client: &ClientRow, user_id: UserId) {
    if let Some(uri) = &client.backchannel_logout_uri {
        send_logout_token(state, &client.id, uri, user_id).await;
    }
}

/// A logout token (OpenID Connect Back-Channel Logout 1.0 §2.4), posted in the background: an
/// app that does not answer delays nothing.
async fn send_logout_token(state: &AppState, client_id: &str, uri: &str, user_id: UserId) {
    let Ok(subject) = store::subject_of(&state.pool, user_id, &token::new_token()).await else {
        return;
    };
    let alg = match store::client(&state.pool, client_id).await {
        Ok(Some(client)) => client.id_token_alg,
        _ => return,
    };
    let now = state.clock.now();
    let claims = json!({
        "iss": issuer(state),
        "aud": client_id,
        "iat": now.0,
        "exp": now.0 + 120,
        "jti": token::new_token(),
        "sub": subject,
        "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
    });
    let logout_token = match keys::sign(state, &alg, &claims, "logout+jwt").await {
        Ok(token) => token,
        Err(error) => {
            tracing::warn!(%error, "back-channel logout: the token could not be signed");
            return;
        }
    };
    let (uri, client_id) = (uri.to_owned(), client_id.to_owned());
    tokio::spawn(async move {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build();
        let sent = match client {
            Ok(client) => client
                .post(&uri)
                .form(&[("logout_token", logout_token)])
                .send()
                .await
                .map(|response| response.status()),
            Err(error) => Err(error),
        };
        match sent {
            Ok(status) if status.is_success() => {
                tracing::info!(client_id, "back-channel logout delivered")
            }
            Ok(status) => tracing::warn!(client_id, %status, "back-channel logout refused"),
            Err(error) => tracing::warn!(client_id, %error, "back-channel logout not delivered"),
        }
    });
}
