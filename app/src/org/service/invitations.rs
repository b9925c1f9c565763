use crate::org::invitations::{InvitationView, MAX_PENDING_INVITATIONS};
use crate::validation::Username;
use crate::{
    audit::EventKind,
    audit::record,
    auth::{client, signed_in},
    error::{AppError, Missing},
    org::service::organization::{notify_members, ownership},
    state::AppState,
    store::{self, InviteOutcome, OrgRow, UserId},
    validation,
};

fn full() -> AppError {
    AppError::TooManyInvitations {
        limit: MAX_PENDING_INVITATIONS,
    }
}

fn no_invitation() -> AppError {
    AppError::NotFound {
        what: Missing::Invitation,
    }
}

async fn note(state: &AppState, user_id: UserId, detail: &str) -> Result<(), AppError> {
    record(
        state,
        user_id,
        EventKind::OrgChanged,
        &client().await,
        Some(detail),
    )
    .await
}

/// An invitation names a username and waits whether or not an account holds it (one made
/// later under that name may accept it): the answer, the owner's list, the limit and the
/// database's work are the same either way, so none of them tells which names are taken.
#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn invite(slug: &str, username: &str) -> Result<String, AppError> {
    let (state, owner, org) = ownership(slug).await?;
    let username = validation::normalize_username(username)
        .map_err(|message| AppError::validation("username", message))?;
    let outcome = store::invite(
        &state.pool,
        org.id,
        &username,
        owner,
        state.clock.now(),
        MAX_PENDING_INVITATIONS,
    )
    .await?;
    if outcome == InviteOutcome::Full {
        return Err(full());
    }
    note(
        &state,
        owner,
        &format!("invited {username} to {}", org.slug),
    )
    .await?;
    Ok(org.slug)
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn withdraw(slug: &str, username: &str) -> Result<String, AppError> {
    let (state, owner, org) = ownership(slug).await?;
    let username = Username::canonical(username);
    if !store::withdraw_invitation(&state.pool, org.id, username.as_str()).await? {
        return Err(no_invitation());
    }
    note(
        &state,
        owner,
        &format!("withdrew the invitation of {username} to {}", org.slug),
    )
    .await?;
    Ok(org.slug)
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn mine() -> Result<Vec<InvitationView>, AppError> {
    let (state, user_id) = signed_in().await?;
    Ok(store::invitations_for(&state.pool, user_id)
        .await?
        .into_iter()
        .map(|row| InvitationView {
            slug: row.slug,
            org_name: row.org_name,
            requires_two_factor: row.requires_two_factor,
            invited_by: row.invited_by,
        })
        .collect())
}

async fn invited_to(slug: &str) -> Result<(AppState, UserId, OrgRow), AppError> {
    let (state, user_id) = signed_in().await?;
    let org = store::org_by_slug(&state.pool, slug)
        .await?
        .ok_or_else(no_invitation)?;
    Ok((state, user_id, org))
}

/// Joins, and from now on the organization's requirement applies: its notice is mailed.
#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn accept(slug: &str) -> Result<String, AppError> {
    let (state, user_id, org) = invited_to(slug).await?;
    if !store::accept_invitation(&state.pool, org.id, user_id, state.clock.now()).await? {
        return Err(no_invitation());
    }
    note(&state, user_id, &format!("joined {}", org.slug)).await?;
    if org.require_two_factor_since.is_some() {
        notify_members(&state, &org, Some(user_id)).await;
    }
    Ok(org.slug)
}

#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info", Display))]
pub async fn decline(slug: &str) -> Result<(), AppError> {
    let (state, user_id, org) = invited_to(slug).await?;
    if !store::delete_invitation(&state.pool, org.id, user_id).await? {
        return Err(no_invitation());
    }
    note(
        &state,
        user_id,
        &format!("declined the invitation to {}", org.slug),
    )
    .await
}
