//! `server admin copy-to --database postgres://…`: moves a SQLite data folder's database to an
//! empty PostgreSQL database, for a portal that grows past one machine.
//!
//! The target gets its own migrations first, so its tables are Portal's; then every table is
//! copied in one PostgreSQL transaction from one SQLite read transaction (one snapshot, even if
//! the portal is still running), each value read as the target column's type. The identity
//! counters continue after the copied ids, and the row counts of both sides are compared.

use anyhow::{Context, bail};
use app::store::Backend;
use sqlx::{AnyPool, Row as _, any::AnyRow};

/// Every table of Portal, parents before the tables that refer to them. A table the target has
/// that this list lacks stops the copy: nothing is left behind unnoticed.
const TABLES: &[&str] = &[
    "users",
    "organizations",
    "two_factor",
    "two_factor_enrollments",
    "recovery_code_reveals",
    "failure_counters",
    "audit_events",
    "sign_ins",
    "email_tokens",
    "password_failures",
    "memberships",
    "invitations",
    "retired_usernames",
    "security_keys",
    "remembered_browsers",
    "webauthn_ceremonies",
    "authenticator_apps",
    "authenticator_app_additions",
    "sessions",
    "oidc_clients",
    "oidc_keys",
    "oidc_subjects",
    "oidc_grants",
    "oidc_families",
    "oidc_codes",
    "oidc_tokens",
    "sign_in_apps",
];

/// A column of the target, and how its values are read from the source.
struct Column {
    name: String,
    kind: Kind,
    identity: bool,
}

#[derive(Clone, Copy)]
enum Kind {
    Integer,
    Text,
    Bytes,
}

/// What was copied: each table with its row count on both sides.
pub struct Copied {
    pub tables: Vec<(&'static str, i64, i64)>,
}

pub async fn copy_to(source: &AnyPool, target_url: &str) -> anyhow::Result<Copied> {
    if Backend::of(source) != Backend::Sqlite {
        bail!("PORTAL_DATABASE_URL: copy-to copies a SQLite database; this one is not");
    }
    if Backend::of_url(target_url) != Some(Backend::Postgres) {
        bail!("--database: a PostgreSQL URL (postgres://user:password@host/database)");
    }
    let target = crate::connect(target_url)
        .await
        .context("--database: the target")?;
    check_every_table_listed(&target).await?;
    for table in TABLES {
        if count(&target, table).await? > 0 {
            bail!(
                "--database: the target is not empty ({table} has rows); copy-to fills only an empty database"
            );
        }
    }

    let mut reading = source.begin().await?;
    let mut writing = target.begin().await?;
    for table in TABLES {
        let columns = columns_of(&target, table).await?;
        let names = columns
            .iter()
            .map(|column| column.name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let placeholders = (1..=columns.len())
            .map(|at| format!("${at}"))
            .collect::<Vec<_>>()
            .join(", ");
        let insert = format!("INSERT INTO {table} ({names}) VALUES ({placeholders})");
        let rows: Vec<AnyRow> = sqlx::query(&format!("SELECT {names} FROM {table}"))
            .fetch_all(&mut *reading)
            .await
            .with_context(|| format!("reading {table}"))?;
        for row in &rows {
            let mut query = sqlx::query(&insert);
            for (at, column) in columns.iter().enumerate() {
                query = match column.kind {
                    Kind::Integer => query.bind(row.try_get::<Option<i64>, _>(at)?),
                    Kind::Text => query.bind(row.try_get::<Option<String>, _>(at)?),
                    Kind::Bytes => query.bind(row.try_get::<Option<Vec<u8>>, _>(at)?),
                };
            }
            query
                .execute(&mut *writing)
                .await
                .with_context(|| format!("writing {table}"))?;
        }
        // New rows continue after the copied ids.
        for column in columns.iter().filter(|column| column.identity) {
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', '{name}'), \
                 COALESCE((SELECT MAX({name}) FROM {table}), 0) + 1, false)",
                name = column.name
            ))
            .execute(&mut *writing)
            .await?;
        }
    }
    writing.commit().await?;
    drop(reading);

    let mut tables = Vec::new();
    for table in TABLES {
        tables.push((
            *table,
            count(source, table).await?,
            count(&target, table).await?,
        ));
    }
    if let Some((table, from, to)) = tables.iter().find(|(_, from, to)| from != to) {
        bail!("{table}: {from} rows in the source but {to} in the target");
    }
    Ok(Copied { tables })
}

async fn count(pool: &AnyPool, table: &str) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(pool)
        .await?)
}

async fn check_every_table_listed(target: &AnyPool) -> anyhow::Result<()> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(target)
    .await?;
    if let Some(unlisted) = names.iter().find(|name| !TABLES.contains(&name.as_str())) {
        bail!("the target has a table copy-to does not know: {unlisted}");
    }
    Ok(())
}

async fn columns_of(target: &AnyPool, table: &str) -> anyhow::Result<Vec<Column>> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text, is_identity::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(target)
    .await?;
    rows.into_iter()
        .map(|(name, data_type, identity)| {
            let kind = match data_type.as_str() {
                "bigint" | "integer" | "smallint" => Kind::Integer,
                "text" | "character varying" => Kind::Text,
                "bytea" => Kind::Bytes,
                other => bail!("{table}.{name}: a column type copy-to does not know: {other}"),
            };
            Ok(Column {
                name,
                kind,
                identity: identity == "YES",
            })
        })
        .collect()
}
