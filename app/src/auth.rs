//! The signed-in state of a browser, typed over the session with named keys.

use tower_sessions::Session;

use crate::{error::AppError, store::UserId};

const USER_ID: &str = "auth.user_id";
const SIGNED_IN_AT: &str = "auth.signed_in_at";

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

    /// The signed-in account, if any; a sign-in past its absolute age is ended here.
    pub async fn signed_in_user(&self, now: i64) -> Result<Option<UserId>, AppError> {
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
        match (user_id, signed_in_at) {
            (Some(user_id), Some(at)) if now - at < MAX_SIGN_IN_AGE_SECONDS => Ok(Some(user_id)),
            (None, None) => Ok(None),
            _ => {
                self.sign_out().await?;
                Ok(None)
            }
        }
    }

    /// A step up: the session id is renewed, so an id planted before sign-in (session fixation)
    /// is worth nothing after it.
    pub async fn sign_in(&self, user_id: UserId, now: i64) -> Result<(), AppError> {
        self.session.cycle_id().await.map_err(AppError::internal)?;
        self.session
            .insert(USER_ID, user_id)
            .await
            .map_err(AppError::internal)?;
        self.session
            .insert(SIGNED_IN_AT, now)
            .await
            .map_err(AppError::internal)?;
        Ok(())
    }

    /// Deletes the session from the store and empties the cookie.
    pub async fn sign_out(&self) -> Result<(), AppError> {
        self.session.flush().await.map_err(AppError::internal)
    }
}
