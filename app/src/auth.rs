//! The signed-in state of a browser, typed over the session with named keys.

use tower_sessions::Session;

use crate::{
    error::AppError,
    state::AppState,
    store::{self, UserId},
};

const USER_ID: &str = "auth.user_id";
const SIGNED_IN_AT: &str = "auth.signed_in_at";
/// The account's session version at sign-in: raising it in the database ends every session that
/// holds an older one.
const VERSION: &str = "auth.version";
const PENDING_USER_ID: &str = "auth.pending_user_id";
const PENDING_SINCE: &str = "auth.pending_since";

/// A sign-in that has passed the password waits this long for its second factor.
pub const PENDING_SECONDS: i64 = 5 * 60;

/// NIST 800-63B §4.2.3 (AAL2): re-authenticate at least once every 12 hours, however active.
pub const MAX_SIGN_IN_AGE_SECONDS: i64 = 12 * 60 * 60;
/// NIST 800-63B §4.2.3 (AAL2): and after 30 minutes without activity.
pub const IDLE_TIMEOUT_SECONDS: i64 = 30 * 60;

pub struct AuthSession {
    session: Session,
}

impl AuthSession {
    pub fn new(session: Session) -> Self {
        Self { session }
    }

    /// The session of the request a server function is answering.
    pub async fn from_request() -> Result<Self, AppError> {
        leptos_axum::extract::<Session>()
            .await
            .map(Self::new)
            .map_err(AppError::internal)
    }

    /// The signed-in account, if any. A sign-in past its absolute age, or older than the account's
    /// last sign-out-everywhere, is ended here: one query per request.
    pub async fn signed_in_user(&self, state: &AppState) -> Result<Option<UserId>, AppError> {
        let user_id: Option<UserId> = self
            .session
            .get(USER_ID)
            .await
            .map_err(AppError::internal)?;
        let signed_in_at: Option<i64> = self
            .session
            .get(SIGNED_IN_AT)
            .await
            .map_err(AppError::internal)?;
        let version: Option<i64> = self
            .session
            .get(VERSION)
            .await
            .map_err(AppError::internal)?;
        let (Some(user_id), Some(at), Some(version)) = (user_id, signed_in_at, version) else {
            if user_id.is_some() {
                self.sign_out().await?;
            }
            return Ok(None);
        };
        let current = store::session_version(&state.pool, user_id)
            .await
            .map_err(AppError::internal)?;
        if state.clock.now() - at < MAX_SIGN_IN_AGE_SECONDS && current == Some(version) {
            return Ok(Some(user_id));
        }
        self.sign_out().await?;
        Ok(None)
    }

    /// A step up: the session id is renewed, so an id planted before sign-in (session fixation)
    /// is worth nothing after it.
    pub async fn sign_in(&self, state: &AppState, user_id: UserId) -> Result<(), AppError> {
        let version = store::session_version(&state.pool, user_id)
            .await
            .map_err(AppError::internal)?
            .ok_or(AppError::Unauthorized)?;
        self.session.cycle_id().await.map_err(AppError::internal)?;
        self.session
            .insert(USER_ID, user_id)
            .await
            .map_err(AppError::internal)?;
        self.session
            .insert(SIGNED_IN_AT, state.clock.now())
            .await
            .map_err(AppError::internal)?;
        self.session
            .insert(VERSION, version)
            .await
            .map_err(AppError::internal)?;
        Ok(())
    }

    /// Ends every other session of the account: its version is raised, and this session alone
    /// takes the new one.
    pub async fn sign_out_others(&self, state: &AppState, user_id: UserId) -> Result<(), AppError> {
        let version = store::raise_session_version(&state.pool, user_id)
            .await
            .map_err(AppError::internal)?;
        self.session
            .insert(VERSION, version)
            .await
            .map_err(AppError::internal)
    }

    /// The password was right and a second factor is asked for: a step up, so the id is renewed;
    /// the session reaches the second step and nothing else.
    pub async fn begin_second_factor(&self, user_id: UserId, now: i64) -> Result<(), AppError> {
        self.session.cycle_id().await.map_err(AppError::internal)?;
        self.session
            .insert(PENDING_USER_ID, user_id)
            .await
            .map_err(AppError::internal)?;
        self.session
            .insert(PENDING_SINCE, now)
            .await
            .map_err(AppError::internal)?;
        Ok(())
    }

    /// The account whose password was accepted within the last 5 minutes, waiting for its second
    /// factor; a pending sign-in older than that is dropped.
    pub async fn pending_second_factor(&self, now: i64) -> Result<Option<UserId>, AppError> {
        let user_id: Option<UserId> = self
            .session
            .get(PENDING_USER_ID)
            .await
            .map_err(AppError::internal)?;
        let since: Option<i64> = self
            .session
            .get(PENDING_SINCE)
            .await
            .map_err(AppError::internal)?;
        match (user_id, since) {
            (Some(user_id), Some(since)) if now - since < PENDING_SECONDS => Ok(Some(user_id)),
            (None, None) => Ok(None),
            _ => {
                self.forget_pending().await?;
                Ok(None)
            }
        }
    }

    pub async fn forget_pending(&self) -> Result<(), AppError> {
        self.session
            .remove_value(PENDING_USER_ID)
            .await
            .map_err(AppError::internal)?;
        self.session
            .remove_value(PENDING_SINCE)
            .await
            .map_err(AppError::internal)?;
        Ok(())
    }

    /// The second factor was right: the pending state becomes a sign-in under a new id.
    pub async fn complete_second_factor(
        &self,
        state: &AppState,
        user_id: UserId,
    ) -> Result<(), AppError> {
        self.forget_pending().await?;
        self.sign_in(state, user_id).await
    }

    /// Deletes the session from the store and empties the cookie.
    pub async fn sign_out(&self) -> Result<(), AppError> {
        self.session.flush().await.map_err(AppError::internal)
    }
}

/// The address and browser of the request being answered, for the audit log.
pub async fn client() -> crate::store::Client {
    use axum::{extract::ConnectInfo, http::HeaderMap};
    let address = leptos_axum::extract::<ConnectInfo<std::net::SocketAddr>>()
        .await
        .ok()
        .map(|ConnectInfo(address)| address.ip().to_string());
    let user_agent = leptos_axum::extract::<HeaderMap>()
        .await
        .ok()
        .and_then(|headers| {
            headers
                .get(axum::http::header::USER_AGENT)
                .and_then(|value| value.to_str().ok())
                .map(|agent| agent.chars().take(256).collect())
        });
    crate::store::Client {
        address,
        user_agent,
    }
}

/// The state and the signed-in account of the request, or `Unauthorized`.
pub async fn signed_in() -> Result<(crate::state::AppState, UserId), AppError> {
    let state = crate::state::app_state()?;
    let user_id = AuthSession::from_request()
        .await?
        .signed_in_user(&state)
        .await?
        .ok_or(AppError::Unauthorized)?;
    Ok((state, user_id))
}
