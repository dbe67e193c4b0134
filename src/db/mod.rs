//! Database access: pools for the two roles, the embedded cluster, migrations and
//! the one way to do tenant work (`TenantTx`).

pub mod embedded;

use std::str::FromStr;

use anyhow::Context;
use sqlx::{
    postgres::{PgConnectOptions, PgPoolOptions},
    Connection, Executor, PgConnection, PgPool, Postgres, Transaction,
};
use uuid::Uuid;

use crate::config::Settings;

/// Role that owns the schema and runs migrations and onboarding.
pub const OWNER_ROLE: &str = "sportello_owner";
/// Group role holding the runtime grants; login roles are its members.
pub const RUNTIME_GROUP: &str = "sportello_runtime";
/// Login role that serves requests: no superuser, owns nothing, no BYPASSRLS.
pub const APP_ROLE: &str = "sportello_app";
pub const DATABASE: &str = "sportello";

/// Where the runtime and owner connections go.
#[derive(Clone, Debug)]
pub struct DbTargets {
    pub app: PgConnectOptions,
    pub admin: PgConnectOptions,
}

/// A database: either the embedded cluster (kept alive as long as this lives) or
/// the servers named by the settings.
pub struct Database {
    pub targets: DbTargets,
    pub cluster: Option<embedded::Cluster>,
}

impl Database {
    /// `DATABASE_URL` when set; otherwise the embedded cluster in `data_dir/pg`,
    /// created and bootstrapped on first use.
    pub async fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        if let Some(url) = &settings.database_url {
            let app = PgConnectOptions::from_str(url.expose()).context("DATABASE_URL")?;
            let admin = match &settings.database_admin_url {
                Some(url) => PgConnectOptions::from_str(url.expose()).context("DATABASE_ADMIN_URL")?,
                None => app.clone(),
            };
            return Ok(Self { targets: DbTargets { app, admin }, cluster: None });
        }
        let cluster = embedded::Cluster::start(&settings.data_dir.join("pg"), false).await?;
        bootstrap_roles(&cluster.superuser()).await?;
        create_database(&cluster.superuser(), DATABASE, None).await?;
        let targets =
            DbTargets { app: cluster.options(APP_ROLE, DATABASE), admin: cluster.options(OWNER_ROLE, DATABASE) };
        Ok(Self { targets, cluster: Some(cluster) })
    }
}

/// Creates the three roles if missing. Production runs the same statements once
/// (see `infra/postgres/roles.sql`).
pub async fn bootstrap_roles(superuser: &PgConnectOptions) -> anyhow::Result<()> {
    let mut conn = PgConnection::connect_with(superuser).await?;
    conn.execute(
        format!(
            "do $$ begin
               if not exists (select from pg_roles where rolname = '{OWNER_ROLE}') then
                 create role {OWNER_ROLE} login nosuperuser nobypassrls;
               end if;
               if not exists (select from pg_roles where rolname = '{RUNTIME_GROUP}') then
                 create role {RUNTIME_GROUP} nologin nosuperuser nobypassrls;
               end if;
               if not exists (select from pg_roles where rolname = '{APP_ROLE}') then
                 create role {APP_ROLE} login nosuperuser nobypassrls nocreatedb nocreaterole in role {RUNTIME_GROUP};
               end if;
             end $$"
        )
        .as_str(),
    )
    .await?;
    conn.close().await?;
    Ok(())
}

/// Creates `name` owned by the owner role (optionally as a copy of `template`).
pub async fn create_database(superuser: &PgConnectOptions, name: &str, template: Option<&str>) -> anyhow::Result<()> {
    let mut conn = PgConnection::connect_with(superuser).await?;
    let exists: bool = sqlx::query_scalar("select exists(select from pg_database where datname = $1)")
        .bind(name)
        .fetch_one(&mut conn)
        .await?;
    if !exists {
        let template = template.map(|t| format!(" template \"{t}\"")).unwrap_or_default();
        conn.execute(format!("create database \"{name}\" owner {OWNER_ROLE}{template}").as_str()).await?;
    }
    conn.close().await?;
    Ok(())
}

pub async fn connect(options: &PgConnectOptions, max_connections: u32) -> anyhow::Result<PgPool> {
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect_with(options.clone())
        .await?)
}

/// Refuses a runtime connection that row-level security would not bind: a
/// superuser, a role with BYPASSRLS, or one that owns (or inherits the
/// ownership of) any table of the schema — every policy would be skipped and
/// each ente would see every other. Serving processes call it before anything.
pub async fn ensure_bound_by_row_level_security(pool: &PgPool) -> anyhow::Result<()> {
    let (role, superuser, bypass, owner_of): (String, bool, bool, Option<String>) = sqlx::query_as(
        "select r.rolname::text, r.rolsuper, r.rolbypassrls,
                (select c.relname::text from pg_class c
                 where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p')
                   and pg_has_role(r.oid, c.relowner, 'USAGE')
                 limit 1)
         from pg_roles r where r.rolname = current_user",
    )
    .fetch_one(pool)
    .await
    .context("checking the runtime role")?;
    let reason = if superuser {
        Some("is a superuser".to_string())
    } else if bypass {
        Some("has BYPASSRLS".to_string())
    } else {
        owner_of.map(|table| format!("owns the schema's tables (e.g. {table}) or is a member of their owner"))
    };
    if let Some(reason) = reason {
        anyhow::bail!(
            "refusing to serve: the runtime connection (DATABASE_URL) logs in as role {role:?}, which {reason}, so \
             row-level security would not separate the enti. Connect as the runtime role ({APP_ROLE}: not \
             superuser, no BYPASSRLS, owns nothing; see infra/postgres/roles.sql) and give the owner role \
             ({OWNER_ROLE}) in DATABASE_ADMIN_URL."
        );
    }
    Ok(())
}

/// Our migrations, as the owner role (`startup::migrate` runs the job queue's too).
pub async fn migrate(admin: &PgPool) -> anyhow::Result<()> {
    sqlx::migrate!("./migrations").run(admin).await.context("running migrations")
}

/// A transaction scoped to one ente: `app.tenant_id` is set before anything else,
/// so row-level security shows this tenant's rows and nobody else's.
pub struct TenantTx {
    tx: Transaction<'static, Postgres>,
    pub tenant_id: Uuid,
}

impl TenantTx {
    pub async fn begin(pool: &PgPool, tenant_id: Uuid) -> sqlx::Result<Self> {
        Self::scoped(pool.begin().await?, tenant_id).await
    }

    /// A read-only transaction that sees one snapshot of the database from its
    /// first query to its last (REPEATABLE READ): what an export reads is the
    /// ente as it was at one instant, even while the console saves.
    pub async fn begin_snapshot(pool: &PgPool, tenant_id: Uuid) -> sqlx::Result<Self> {
        Self::scoped(pool.begin_with("begin isolation level repeatable read read only").await?, tenant_id).await
    }

    /// Puts `tx` in the ente's scope (`app.tenant_id`, for this transaction only).
    async fn scoped(mut tx: Transaction<'static, Postgres>, tenant_id: Uuid) -> sqlx::Result<Self> {
        sqlx::query("select set_config('app.tenant_id', $1, true)")
            .bind(tenant_id.to_string())
            .execute(&mut *tx)
            .await?;
        Ok(Self { tx, tenant_id })
    }

    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    pub async fn commit(self) -> sqlx::Result<()> {
        self.tx.commit().await
    }

    pub async fn rollback(self) -> sqlx::Result<()> {
        self.tx.rollback().await
    }
}
