use crate::unix_time::UnixTime;
use sqlx::AnyPool;

/// A member's role in an organization, stored as its lower-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Owner,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Member => "member",
        }
    }
}

// Stored as its name, on either backend (sqlx's derive knows only the concrete drivers).
impl sqlx::Type<sqlx::Any> for Role {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <String as sqlx::Type<sqlx::Any>>::type_info()
    }
}

impl<'q> sqlx::Encode<'q, sqlx::Any> for Role {
    fn encode_by_ref(
        &self,
        buf: &mut <sqlx::Any as sqlx::Database>::ArgumentBuffer<'q>,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <&str as sqlx::Encode<sqlx::Any>>::encode(self.as_str(), buf)
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Any> for Role {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        match <String as sqlx::Decode<sqlx::Any>>::decode(value)?.as_str() {
            "owner" => Ok(Self::Owner),
            "member" => Ok(Self::Member),
            other => Err(format!("not a role: {other}").into()),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

use super::{OrgId, UserId};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrgRow {
    pub id: OrgId,
    pub slug: String,
    pub name: String,
    pub require_two_factor_since: Option<UnixTime>,
    pub grace_days: i64,
    /// Whether members may have browsers remembered (skip the second step).
    #[sqlx(try_from = "super::Flag")]
    pub remembered_browsers_allowed: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    pub user_id: UserId,
    pub username: String,
    pub email: String,
    pub role: Role,
    pub joined_at: UnixTime,
    #[sqlx(try_from = "super::Flag")]
    pub has_two_factor: bool,
    /// Only a verified address is mailed about an organization.
    #[sqlx(try_from = "super::Flag")]
    pub email_verified: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MembershipRow {
    pub slug: String,
    pub name: String,
    pub role: Role,
}

/// An organization's requirement of two-factor authentication as it applies to one member: when
/// it was turned on, when the member joined, and the grace period (`org::service::grace_deadline`
/// makes the deadline of them).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Requirement {
    pub org_name: String,
    pub org_slug: String,
    pub since: UnixTime,
    pub joined_at: UnixTime,
    pub grace_days: i64,
}

const ORG_COLUMNS: &str =
    "id, slug, name, require_two_factor_since, grace_days, remembered_browsers_allowed";

/// What asking for a new organization did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgCreation {
    Created,
    SlugTaken,
    /// The account owns `max_owned` organizations already.
    TooMany,
}

/// A new organization with its creator as owner, unless the slug is taken or the creator owns
/// `max_owned` already: counted and created under the write lock, so requests at once cannot
/// pass the cap together.
pub async fn create_org(
    pool: &AnyPool,
    slug: &str,
    name: &str,
    owner: UserId,
    max_owned: i64,
    now: UnixTime,
) -> Result<OrgCreation, sqlx::Error> {
    let mut tx = super::begin_write(pool).await?;
    let owned: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM memberships WHERE user_id = $1 AND role = 'owner'",
    )
    .bind(owner)
    .fetch_one(&mut *tx)
    .await?;
    if owned >= max_owned {
        return Ok(OrgCreation::TooMany);
    }
    let inserted: Result<i64, sqlx::Error> = sqlx::query_scalar(
        "INSERT INTO organizations (slug, name, created_at) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(slug)
    .bind(name)
    .bind(now)
    .fetch_one(&mut *tx)
    .await;
    let org_id = match inserted {
        Ok(id) => id,
        Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
            return Ok(OrgCreation::SlugTaken);
        }
        Err(error) => return Err(error),
    };
    sqlx::query(
        "INSERT INTO memberships (org_id, user_id, role, joined_at) VALUES ($1, $2, 'owner', $3)",
    )
    .bind(org_id)
    .bind(owner)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(OrgCreation::Created)
}

pub async fn org_by_slug(pool: &AnyPool, slug: &str) -> Result<Option<OrgRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ORG_COLUMNS} FROM organizations WHERE slug = $1"
    ))
    .bind(slug)
    .fetch_optional(pool)
    .await
}

pub async fn all_orgs(pool: &AnyPool) -> Result<Vec<OrgRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ORG_COLUMNS} FROM organizations ORDER BY slug"
    ))
    .fetch_all(pool)
    .await
}

pub async fn role_in(
    pool: &AnyPool,
    org_id: OrgId,
    user_id: UserId,
) -> Result<Option<Role>, sqlx::Error> {
    sqlx::query_scalar("SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2")
        .bind(org_id)
        .bind(user_id)
        .fetch_optional(pool)
        .await
}

pub async fn members_of(pool: &AnyPool, org_id: OrgId) -> Result<Vec<MemberRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT u.id AS user_id, u.username, u.email, m.role, m.joined_at,
                EXISTS (SELECT 1 FROM two_factor t WHERE t.user_id = u.id) AS has_two_factor,
                u.email_verified_at IS NOT NULL AS email_verified
         FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.org_id = $1 ORDER BY m.role DESC, u.username",
    )
    .bind(org_id)
    .fetch_all(pool)
    .await
}

pub async fn memberships_of(
    pool: &AnyPool,
    user_id: UserId,
) -> Result<Vec<MembershipRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT o.slug, o.name, m.role FROM memberships m JOIN organizations o ON o.id = m.org_id
         WHERE m.user_id = $1 ORDER BY o.name",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await
}

/// Support's direct add: a new member, or nothing when the account is already in, whatever its
/// role (an add never changes a role, so it can never demote the last owner). Any invitation it
/// had is spent. Returns whether the account was new.
pub async fn add_member(
    pool: &AnyPool,
    org_id: OrgId,
    user_id: UserId,
    now: UnixTime,
) -> Result<bool, sqlx::Error> {
    let mut tx = super::begin_write(pool).await?;
    let added = sqlx::query(
        "INSERT INTO memberships (org_id, user_id, role, joined_at) VALUES ($1, $2, 'member', $3)
         ON CONFLICT (org_id, user_id) DO NOTHING",
    )
    .bind(org_id)
    .bind(user_id)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    forget_invitation(&mut tx, org_id, user_id).await?;
    tx.commit().await?;
    Ok(added)
}

/// Makes an account owner, adding it if it was not in: a promotion only, so it never leaves an
/// organization without an owner.
pub async fn make_owner(
    pool: &AnyPool,
    org_id: OrgId,
    user_id: UserId,
    now: UnixTime,
) -> Result<(), sqlx::Error> {
    let mut tx = super::begin_write(pool).await?;
    sqlx::query(
        "INSERT INTO memberships (org_id, user_id, role, joined_at) VALUES ($1, $2, 'owner', $3)
         ON CONFLICT (org_id, user_id) DO UPDATE SET role = 'owner'",
    )
    .bind(org_id)
    .bind(user_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    forget_invitation(&mut tx, org_id, user_id).await?;
    tx.commit().await
}

/// Invitations name a username: the account's is the one under its name.
const FORGET_INVITATION: &str = "DELETE FROM invitations WHERE org_id = $1 AND username = (SELECT username FROM users WHERE id = $2)";

async fn forget_invitation(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    org_id: OrgId,
    user_id: UserId,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(FORGET_INVITATION)
        .bind(org_id)
        .bind(user_id)
        .execute(&mut **tx)
        .await?
        .rows_affected()
        == 1)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteOutcome {
    Invited,
    /// Invited before, or already a member: nothing changes.
    AlreadyIn,
    /// The organization has as many invitations waiting as it may.
    Full,
}

/// An invitation for `username` (normalised), whether or not an account holds that name, unless
/// that account is already in, the name is invited, or the organization has `max_pending`
/// waiting. The same statements run either way, so neither the answer nor the work tells which
/// names are taken. Counted and written in one transaction, so parallel invitations cannot pass
/// the limit together.
pub async fn invite(
    pool: &AnyPool,
    org_id: OrgId,
    username: &str,
    invited_by: UserId,
    now: UnixTime,
    max_pending: i64,
) -> Result<InviteOutcome, sqlx::Error> {
    let mut tx = super::begin_write(pool).await?;
    let member: Option<String> = sqlx::query_scalar(
        "SELECT m.role FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.org_id = $1 AND u.username = $2",
    )
    .bind(org_id)
    .bind(username)
    .fetch_optional(&mut *tx)
    .await?;
    if member.is_some() {
        return Ok(InviteOutcome::AlreadyIn);
    }
    let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM invitations WHERE org_id = $1")
        .bind(org_id)
        .fetch_one(&mut *tx)
        .await?;
    if pending >= max_pending {
        return Ok(InviteOutcome::Full);
    }
    let inserted = sqlx::query(
        "INSERT INTO invitations (org_id, username, invited_by, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (org_id, username) DO NOTHING",
    )
    .bind(org_id)
    .bind(username)
    .bind(invited_by)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(if inserted == 1 {
        InviteOutcome::Invited
    } else {
        InviteOutcome::AlreadyIn
    })
}

/// The usernames an organization has invited that have not answered yet, whether or not an
/// account holds them.
pub async fn pending_invitations_of(
    pool: &AnyPool,
    org_id: OrgId,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT username FROM invitations WHERE org_id = $1 ORDER BY username")
        .bind(org_id)
        .fetch_all(pool)
        .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InvitationRow {
    pub slug: String,
    pub org_name: String,
    #[sqlx(try_from = "super::Flag")]
    pub requires_two_factor: bool,
    pub invited_by: Option<String>,
}

/// The invitations waiting for this account's answer, oldest first.
pub async fn invitations_for(
    pool: &AnyPool,
    user_id: UserId,
) -> Result<Vec<InvitationRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT o.slug, o.name AS org_name,
                o.require_two_factor_since IS NOT NULL AS requires_two_factor,
                u.username AS invited_by
         FROM invitations i JOIN organizations o ON o.id = i.org_id
              LEFT JOIN users u ON u.id = i.invited_by
         WHERE i.username = (SELECT username FROM users WHERE id = $1)
         ORDER BY i.created_at, o.name",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await
}

/// Spends the account's invitation and makes it a member; false when there was none.
pub async fn accept_invitation(
    pool: &AnyPool,
    org_id: OrgId,
    user_id: UserId,
    now: UnixTime,
) -> Result<bool, sqlx::Error> {
    let mut tx = super::begin_write(pool).await?;
    if !forget_invitation(&mut tx, org_id, user_id).await? {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO memberships (org_id, user_id, role, joined_at) VALUES ($1, $2, 'member', $3)
         ON CONFLICT (org_id, user_id) DO NOTHING",
    )
    .bind(org_id)
    .bind(user_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// A declined invitation leaves nothing behind; false when there was none.
pub async fn delete_invitation(
    pool: &AnyPool,
    org_id: OrgId,
    user_id: UserId,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(FORGET_INVITATION)
        .bind(org_id)
        .bind(user_id)
        .execute(pool)
        .await?
        .rows_affected()
        == 1)
}

/// A withdrawn invitation leaves nothing behind; false when there was none.
pub async fn withdraw_invitation(
    pool: &AnyPool,
    org_id: OrgId,
    username: &str,
) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM invitations WHERE org_id = $1 AND username = $2")
            .bind(org_id)
            .bind(username)
            .execute(pool)
            .await?
            .rows_affected()
            == 1,
    )
}

/// Removes a member, unless that would leave the organization without an owner.
pub async fn remove_member(
    pool: &AnyPool,
    org_id: OrgId,
    user_id: UserId,
) -> Result<RemoveOutcome, sqlx::Error> {
    let mut tx = super::begin_write(pool).await?;
    let role: Option<Role> =
        sqlx::query_scalar("SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2")
            .bind(org_id)
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(role) = role else {
        return Ok(RemoveOutcome::NotAMember);
    };
    if role == Role::Owner {
        let owners: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM memberships WHERE org_id = $1 AND role = 'owner'",
        )
        .bind(org_id)
        .fetch_one(&mut *tx)
        .await?;
        if owners <= 1 {
            return Ok(RemoveOutcome::LastOwner);
        }
    }
    sqlx::query("DELETE FROM memberships WHERE org_id = $1 AND user_id = $2")
        .bind(org_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(RemoveOutcome::Removed)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoveOutcome {
    Removed,
    NotAMember,
    LastOwner,
}

pub async fn set_requirement(
    pool: &AnyPool,
    org_id: OrgId,
    since: Option<UnixTime>,
    grace_days: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE organizations SET require_two_factor_since = $1, grace_days = $2 WHERE id = $3",
    )
    .bind(since)
    .bind(grace_days)
    .bind(org_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Allows or forbids the organization's members to have browsers remembered; forbidding also
/// forgets the browsers its members have remembered.
pub async fn set_remembered_browsers(
    pool: &AnyPool,
    org_id: OrgId,
    allowed: bool,
) -> Result<(), sqlx::Error> {
    let mut tx = super::begin_write(pool).await?;
    sqlx::query("UPDATE organizations SET remembered_browsers_allowed = $1 WHERE id = $2")
        .bind(i64::from(allowed))
        .bind(org_id)
        .execute(&mut *tx)
        .await?;
    if !allowed {
        sqlx::query(
            "DELETE FROM remembered_browsers WHERE user_id IN (SELECT user_id FROM memberships WHERE org_id = $1)",
        )
        .bind(org_id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// The requirements of the account's organizations, when it has no second factor yet (none
/// applies once it has one).
pub async fn two_factor_requirements(
    pool: &AnyPool,
    user_id: UserId,
) -> Result<Vec<Requirement>, sqlx::Error> {
    sqlx::query_as(
        "SELECT o.name AS org_name, o.slug AS org_slug, o.require_two_factor_since AS since,
                m.joined_at, o.grace_days
         FROM memberships m JOIN organizations o ON o.id = m.org_id
         WHERE m.user_id = $1 AND o.require_two_factor_since IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM two_factor t WHERE t.user_id = m.user_id)
         ORDER BY o.name",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await
}

/// The organization requiring two-factor authentication of this account, whether or not it has
/// it: such an account cannot turn it off.
pub async fn requiring_org(pool: &AnyPool, user_id: UserId) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT o.name FROM memberships m JOIN organizations o ON o.id = m.org_id
         WHERE m.user_id = $1 AND o.require_two_factor_since IS NOT NULL ORDER BY o.name LIMIT 1",
    )
    .bind(user_id)
    .fetch_optional(pool)
    .await
}

/// Takes the day's one mailing of an organization's requirement: true for the first caller since
/// `since`, false while one went out after it (one statement, so racing owners mail once).
pub async fn claim_requirement_mail(
    pool: &AnyPool,
    org_id: OrgId,
    now: UnixTime,
    since: UnixTime,
) -> Result<bool, sqlx::Error> {
    let claimed = sqlx::query(
        "UPDATE organizations SET requirement_mailed_at = $1
         WHERE id = $2 AND (requirement_mailed_at IS NULL OR requirement_mailed_at < $3)",
    )
    .bind(now)
    .bind(org_id)
    .bind(since)
    .execute(pool)
    .await?;
    Ok(claimed.rows_affected() == 1)
}
