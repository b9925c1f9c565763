//! The signed-in state of a browser, typed over the session with named keys. A session is signed
//! in only while its sign-in row stands, so deleting rows signs browsers out.

use crate::unix_time::UnixTime;
mod cookie;
pub mod device;
pub mod remembered;

use tower_sessions::Session;

use crate::{
    audit::SignInMethod,
    error::AppError,
    security::crypto::random_bytes,
    state::AppState,
    store::{self, Client, PasswordGeneration, SignInId, UserId},
};

const USER_ID: &str = "auth.user_id";
const SIGN_IN_ID: &str = "auth.sign_in_id";
const SIGNED_IN_AT: &str = "auth.signed_in_at";
/// When the password was last entered: changing a factor asks for it again after a while.
const PASSWORD_AT: &str = "auth.password_at";
const PENDING_USER_ID: &str = "auth.pending_user_id";
const PENDING_SINCE: &str = "auth.pending_since";
/// Which password the pending sign-in passed: after a change or reset it cannot finish.
const PENDING_PASSWORD: &str = "auth.pending_password";
/// The password the pending sign-in passed is on a breach list: said once the sign-in is whole.
const PENDING_BREACHED: &str = "auth.pending_breached";
/// This sign-in's password is on a breach list: the portal asks to change it.
const PASSWORD_BREACHED: &str = "auth.password_breached";
/// How this sign-in was made (`SignInMethod`): what an app signed in through Portal is told.
const METHOD: &str = "auth.method";
/// Where to go once the enrollment wizard is done (an app that asks for a second factor).
const AFTER_WIZARD: &str = "auth.after_wizard";
/// Whether the security key or passkey of this sign-in is synced between devices (its backup
/// flag) rather than bound to one.
const SYNCED_KEY: &str = "auth.synced_key";

/// How and when this browser signed in: what an app signed in through Portal is told (`amr`,
/// `auth_time`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authentication {
    pub at: UnixTime,
    pub method: SignInMethod,
    /// The key used (a security key or passkey) is synced, not bound to one device.
    pub synced_key: bool,
}

/// A WebAuthn ceremony waits this long for its answer (the browser's own timeout is shorter).
pub const CEREMONY_SECONDS: i64 = 5 * 60;
/// A sign-in that has passed the password waits this long for its second factor.
pub const PENDING_SECONDS: i64 = 5 * 60;
/// NIST 800-63B §4.2.3 (AAL2): re-authenticate at least once every 12 hours, however active.
pub const MAX_SIGN_IN_AGE_SECONDS: i64 = 12 * 60 * 60;
/// NIST 800-63B §4.2.3 (AAL2): and after 30 minutes without activity.
pub const IDLE_TIMEOUT_SECONDS: i64 = 30 * 60;
/// Changing a factor with a sign-in older than this asks for the password again (ASVS 3.7.1).
pub const REAUTH_SECONDS: i64 = 15 * 60;
/// "Last seen" is written at most this often, not on every request.
const LAST_SEEN_RESOLUTION_SECONDS: i64 = 60;

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

    async fn get<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>, AppError> {
        Ok(self.session.get(key).await?)
    }

    async fn set(&self, key: &str, value: impl serde::Serialize) -> Result<(), AppError> {
        Ok(self.session.insert(key, value).await?)
    }

    /// The signed-in account, if any. A sign-in past its absolute age, or whose row was deleted
    /// (signed out from elsewhere, or a reset), is ended here: one query per request.
    pub async fn signed_in_user(&self, state: &AppState) -> Result<Option<UserId>, AppError> {
        let user_id: Option<UserId> = self.get(USER_ID).await?;
        let sign_in_id: Option<SignInId> = self.get(SIGN_IN_ID).await?;
        let signed_in_at: Option<UnixTime> = self.get(SIGNED_IN_AT).await?;
        let (Some(user_id), Some(sign_in_id), Some(at)) = (user_id, sign_in_id, signed_in_at)
        else {
            if user_id.is_some() {
                self.sign_out(state).await?;
            }
            return Ok(None);
        };
        let now = state.clock.now();
        let last_seen = store::sign_in_last_seen(&state.pool, &sign_in_id, user_id).await?;
        match last_seen {
            Some(last_seen) if now - at < MAX_SIGN_IN_AGE_SECONDS => {
                if now - last_seen >= LAST_SEEN_RESOLUTION_SECONDS {
                    store::touch_sign_in(&state.pool, &sign_in_id, now).await?;
                }
                Ok(Some(user_id))
            }
            _ => {
                self.sign_out(state).await?;
                Ok(None)
            }
        }
    }

    /// The id of this browser's sign-in, as the session list shows it.
    pub async fn sign_in_id(&self) -> Result<Option<SignInId>, AppError> {
        self.get(SIGN_IN_ID).await
    }

    /// A step up: the session id is renewed, so an id planted before sign-in (session fixation)
    /// is worth nothing after it. `recorded` says how the account signed in, for the audit log;
    /// without it (a new account) no event is written. `password`: the password this sign-in
    /// passed; when it has changed since, `SignInExpired` and nothing is signed in.
    pub async fn sign_in(
        &self,
        state: &AppState,
        user_id: UserId,
        password: Option<PasswordGeneration>,
        client: &Client,
        recorded: Option<SignInMethod>,
    ) -> Result<(), AppError> {
        let now = state.clock.now();
        let sign_in_id = SignInId(hex::encode(random_bytes::<16>()));
        let new_device = match recorded {
            None | Some(SignInMethod::PasswordOnRememberedBrowser) => false,
            Some(_) => device::is_new_for(state, user_id).await?,
        };
        let sign_in = store::NewSignIn {
            id: &sign_in_id,
            user_id,
            now,
            client,
            password,
            new_device,
        };
        let Some(username) = store::create_sign_in(
            &state.pool,
            sign_in,
            crate::audit::EventKind::SignedIn.as_str(),
            recorded.map(SignInMethod::as_str),
        )
        .await?
        else {
            return Err(AppError::SignInExpired);
        };
        if let Some(how) = recorded {
            let event = crate::audit::EventKind::SignedIn.as_str();
            tracing::info!(user_id = user_id.0, event, "security event");
            crate::audit::count(crate::audit::EventKind::SignedIn);
            metrics::counter!("portal_sign_ins_total", "method" => how.as_str()).increment(1);
        }
        // Signing in again in a signed-in browser (an app asked for a fresh sign-in) replaces
        // the sign-in: the session list does not keep the old one as a second browser.
        if let (Some(old_user), Some(old)) =
            (self.get::<UserId>(USER_ID).await?, self.sign_in_id().await?)
        {
            store::delete_sign_in(&state.pool, old_user, &old).await?;
        }
        self.session.cycle_id().await?;
        self.set(USER_ID, user_id).await?;
        self.set(SIGN_IN_ID, sign_in_id).await?;
        self.set(SIGNED_IN_AT, now).await?;
        self.set(PASSWORD_AT, now).await?;
        self.set(METHOD, recorded.unwrap_or(SignInMethod::Password))
            .await?;
        // A warning about an earlier sign-in's password (perhaps another account's) is not this
        // one's: the caller flags this one's.
        self.session.remove_value(PASSWORD_BREACHED).await?;
        // This browser is now known to the account: its wrong passwords count on their own.
        device::remember(state, &username);
        if let (Some(how), true) = (recorded, new_device) {
            crate::notify::send_new_device_alert(state, user_id, how, client).await;
        }
        Ok(())
    }

    /// This sign-in's password is on a breach list.
    pub async fn flag_breached_password(&self) -> Result<(), AppError> {
        self.set(PASSWORD_BREACHED, true).await
    }

    /// The pending sign-in's password is on a breach list: kept until the second factor makes
    /// the sign-in whole (`complete_second_factor`), so a password alone learns nothing from it.
    pub async fn flag_pending_breached_password(&self) -> Result<(), AppError> {
        self.set(PENDING_BREACHED, true).await
    }

    /// Whether this sign-in's password was found on a breach list.
    pub async fn password_breached(&self) -> Result<bool, AppError> {
        Ok(self.get::<bool>(PASSWORD_BREACHED).await?.unwrap_or(false))
    }

    /// The password was changed to one that passed the breach lists.
    pub async fn password_not_breached(&self) -> Result<(), AppError> {
        self.session.remove_value(PASSWORD_BREACHED).await?;
        Ok(())
    }

    /// When this browser signed in, and how.
    pub async fn authentication(&self) -> Result<Option<Authentication>, AppError> {
        let at: Option<UnixTime> = self.get(SIGNED_IN_AT).await?;
        let method: Option<SignInMethod> = self.get(METHOD).await?;
        let synced_key: Option<bool> = self.get(SYNCED_KEY).await?;
        Ok(at.map(|at| Authentication {
            at,
            method: method.unwrap_or(SignInMethod::Password),
            synced_key: synced_key.unwrap_or(false),
        }))
    }

    /// The key this sign-in was made with is synced between devices (`synced`) or bound to one.
    pub async fn note_key(&self, synced: bool) -> Result<(), AppError> {
        self.set(SYNCED_KEY, synced).await
    }

    /// A code from a newly enrolled app was just checked: this sign-in has now shown a second
    /// factor as well as the password.
    pub async fn second_factor_shown(&self) -> Result<(), AppError> {
        let method: Option<SignInMethod> = self.get(METHOD).await?;
        if matches!(method, None | Some(SignInMethod::Password)) {
            self.set(METHOD, SignInMethod::PasswordAndCode).await?;
        }
        Ok(())
    }

    /// Where the enrollment wizard sends the browser when it is done: a path on this site.
    pub async fn after_wizard(&self, path: &str) -> Result<(), AppError> {
        self.set(AFTER_WIZARD, path).await
    }

    /// The place `after_wizard` kept, taken once.
    pub async fn take_after_wizard(&self) -> Result<Option<String>, AppError> {
        Ok(self.session.remove::<String>(AFTER_WIZARD).await?)
    }

    /// Whether the password was entered in this session within the last 15 minutes.
    pub async fn password_is_recent(&self, now: UnixTime) -> Result<bool, AppError> {
        let at: Option<UnixTime> = self.get(PASSWORD_AT).await?;
        Ok(at.is_some_and(|at| now - at <= REAUTH_SECONDS))
    }

    /// The password entered again: a step up, so the session gets a new id.
    pub async fn password_confirmed(&self, now: UnixTime) -> Result<(), AppError> {
        self.session.cycle_id().await?;
        self.set(PASSWORD_AT, now).await
    }

    /// Ends every other sign-in of the account (this one stays) and forgets every remembered
    /// browser: it is called when a factor changes and by "Sign out of all other sessions".
    pub async fn sign_out_others(
        &self,
        state: &AppState,
        user_id: UserId,
    ) -> Result<u64, AppError> {
        let keep = self.sign_in_id().await?;
        store::forget_browsers(&state.pool, user_id).await?;
        store::revoke_all_app_tokens(&state.pool, user_id).await?;
        Ok(store::delete_sign_ins(&state.pool, user_id, keep.as_ref()).await?)
    }

    /// The password was right and a second factor is asked for: a step up, so the id is renewed;
    /// the session reaches the second step and nothing else.
    pub async fn begin_second_factor(
        &self,
        user_id: UserId,
        password: PasswordGeneration,
        now: UnixTime,
    ) -> Result<(), AppError> {
        self.session.cycle_id().await?;
        self.set(PENDING_USER_ID, user_id).await?;
        self.set(PENDING_PASSWORD, password).await?;
        self.set(PENDING_SINCE, now).await
    }

    /// The account whose password was accepted within the last 5 minutes, waiting for its second
    /// factor; a pending sign-in older than that is dropped.
    pub async fn pending_second_factor(&self, now: UnixTime) -> Result<Option<UserId>, AppError> {
        let user_id: Option<UserId> = self.get(PENDING_USER_ID).await?;
        let since: Option<UnixTime> = self.get(PENDING_SINCE).await?;
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
        self.session.remove_value(PENDING_USER_ID).await?;
        self.session.remove_value(PENDING_PASSWORD).await?;
        self.session.remove_value(PENDING_SINCE).await?;
        self.session.remove_value(PENDING_BREACHED).await?;
        Ok(())
    }

    /// The second factor was right: the pending state becomes a sign-in under a new id, unless
    /// the password it passed has changed since (`SignInExpired`).
    pub async fn complete_second_factor(
        &self,
        state: &AppState,
        user_id: UserId,
        client: &Client,
        recorded: SignInMethod,
    ) -> Result<(), AppError> {
        let password: Option<PasswordGeneration> = self.get(PENDING_PASSWORD).await?;
        let breached: Option<bool> = self.get(PENDING_BREACHED).await?;
        self.forget_pending().await?;
        let password = password.ok_or(AppError::SignInExpired)?;
        self.sign_in(state, user_id, Some(password), client, Some(recorded))
            .await?;
        if breached == Some(true) {
            self.set(PASSWORD_BREACHED, true).await?;
        }
        Ok(())
    }

    /// Keeps a WebAuthn ceremony's state for the one answer it expects (`kind` names the
    /// ceremony); a newer start of the same kind replaces it. The state is a row of its own and
    /// the session holds its id, so answers sent at once cannot each take it (see `take_ceremony`).
    pub async fn keep_ceremony(
        &self,
        state: &AppState,
        kind: &str,
        ceremony: impl serde::Serialize,
    ) -> Result<(), AppError> {
        let key = format!("webauthn.{kind}");
        let replaces: Option<String> = self.get(&key).await?;
        let id = crate::security::token::new_token();
        let ceremony = serde_json::to_string(&ceremony).map_err(AppError::internal)?;
        store::keep_ceremony(
            &state.pool,
            &id,
            replaces.as_deref(),
            kind,
            &ceremony,
            state.clock.now(),
        )
        .await?;
        self.set(&key, id).await
    }

    /// The ceremony's state, taken: an answer is checked against it once, however many are sent
    /// at once, and not after `CEREMONY_SECONDS`.
    pub async fn take_ceremony<T: serde::de::DeserializeOwned>(
        &self,
        state: &AppState,
        kind: &str,
    ) -> Result<Option<T>, AppError> {
        let Some(id) = self
            .session
            .remove::<String>(&format!("webauthn.{kind}"))
            .await?
        else {
            return Ok(None);
        };
        let not_before = state.clock.now() - CEREMONY_SECONDS;
        match store::take_ceremony(&state.pool, &id, kind, not_before).await? {
            Some(ceremony) => Ok(Some(
                serde_json::from_str(&ceremony).map_err(AppError::internal)?,
            )),
            None => Ok(None),
        }
    }

    /// Deletes this sign-in and the session, and empties the cookie.
    pub async fn sign_out(&self, state: &AppState) -> Result<(), AppError> {
        if let (Some(user_id), Some(sign_in_id)) =
            (self.get::<UserId>(USER_ID).await?, self.sign_in_id().await?)
        {
            store::delete_sign_in(&state.pool, user_id, &sign_in_id).await?;
        }
        Ok(self.session.flush().await?)
    }
}

/// The client's address, found once per request by the server's first layers: the TCP peer, or
/// what a trusted proxy reports (SPEC §4). The per-address limit, the audit log and the session
/// list all read it from the request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub std::net::IpAddr);

/// The address and browser of the request being answered, for the audit log.
pub async fn client() -> Client {
    use axum::http::HeaderMap;
    let address = leptos::prelude::use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<ClientAddr>().copied())
        .map(|ClientAddr(address)| address.to_string());
    let user_agent = leptos_axum::extract::<HeaderMap>()
        .await
        .ok()
        .and_then(|headers| {
            headers
                .get(axum::http::header::USER_AGENT)
                .and_then(|value| value.to_str().ok())
                .map(|agent| agent.chars().take(256).collect())
        });
    Client {
        address,
        user_agent,
    }
}

/// Put in the request's extensions by the layer that already checked the sign-in, so server
/// functions and the page they render do not check it again.
#[derive(Debug, Clone, Copy)]
pub struct SignedInUser(pub UserId);

/// The state and the signed-in account of the request, or `Unauthorized`.
/// The account is also recorded as `user_id` on the caller's span, which every service declares
/// (`#[tracing::instrument(…, fields(user_id = Empty))]`), so each service's span says whose it was.
pub async fn signed_in() -> Result<(AppState, UserId), AppError> {
    let state = crate::state::app_state()?;
    let checked = leptos::prelude::use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<SignedInUser>().copied());
    let user_id = match checked {
        Some(SignedInUser(user_id)) => user_id,
        None => AuthSession::from_request()
            .await?
            .signed_in_user(&state)
            .await?
            .ok_or(AppError::Unauthorized)?,
    };
    tracing::Span::current().record("user_id", user_id.0);
    Ok((state, user_id))
}

/// Like `signed_in`, for changes to a factor: the password must have been entered within the last
/// 15 minutes, else `PasswordRequired`.
pub async fn signed_in_recently() -> Result<(AppState, UserId), AppError> {
    let (state, user_id) = signed_in().await?;
    if !AuthSession::from_request()
        .await?
        .password_is_recent(state.clock.now())
        .await?
    {
        return Err(AppError::PasswordRequired);
    }
    Ok((state, user_id))
}

/// The id of this browser's sign-in: what an enrollment or a recovery-code reveal belongs to.
pub async fn this_sign_in_id() -> Result<SignInId, AppError> {
    AuthSession::from_request()
        .await?
        .sign_in_id()
        .await?
        .ok_or(AppError::Unauthorized)
}

/// Who is looking at a page of their own account, worked out once for every section on it.
pub struct Viewer {
    pub state: AppState,
    pub account: store::Account,
    /// This browser's sign-in.
    pub sign_in_id: SignInId,
    /// Whether the password was entered in the last 15 minutes: changes need it.
    pub password_recent: bool,
}

impl Viewer {
    /// The signed-in account of this request, or `Unauthorized`.
    pub async fn current() -> Result<Self, AppError> {
        let (state, user_id) = signed_in().await?;
        let account = store::account(&state.pool, user_id)
            .await?
            .ok_or(AppError::Unauthorized)?;
        let auth = AuthSession::from_request().await?;
        let password_recent = auth.password_is_recent(state.clock.now()).await?;
        let sign_in_id = auth.sign_in_id().await?.ok_or(AppError::Unauthorized)?;
        Ok(Self {
            state,
            account,
            sign_in_id,
            password_recent,
        })
    }

    pub fn user_id(&self) -> UserId {
        self.account.id
    }

    /// The sign-in that may read secrets (a new key, a new recovery code): this one, only while
    /// its password is recent, so a stolen or stale session reads neither.
    pub fn reveal_to(&self) -> Option<&SignInId> {
        self.password_recent.then_some(&self.sign_in_id)
    }
}
