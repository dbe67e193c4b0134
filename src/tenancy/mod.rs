//! Which ente a request is for: `Host` -> tenant, cached, invalidated across nodes
//! with PostgreSQL LISTEN/NOTIFY.

pub mod db;
pub mod host;
pub mod model;
pub mod sign_in;

use std::{sync::Arc, time::Duration};

use moka::future::Cache;
use sqlx::{postgres::PgListener, PgPool};
use uuid::Uuid;

pub use model::{is_valid_slug, Tenant, TenantStatus};
pub use sign_in::{AuthSettings, Level, Method};

use crate::error::AppError;

/// Channel every node listens on; the payload is the changed tenant's id.
pub const NOTIFY_CHANNEL: &str = "sportello_tenants";

/// Tells every node (at commit) that the ente changed: each drops what it
/// cached of it — the tenant, its pages, its policy.
pub async fn notify_changed(conn: &mut sqlx::PgConnection, tenant_id: uuid::Uuid) -> sqlx::Result<()> {
    sqlx::query("select pg_notify($1, $2)").bind(NOTIFY_CHANNEL).bind(tenant_id.to_string()).execute(conn).await?;
    Ok(())
}

/// What a request's host resolved to.
#[derive(Clone, Debug)]
pub enum Site {
    /// The platform's own pages (127.0.0.1, localhost, admin.<base>).
    Platform,
    Tenant(Arc<Tenant>),
}

#[derive(Clone)]
pub struct TenantResolver {
    pool: PgPool,
    /// `None` is cached too, so a flood of unknown hosts does not reach the database.
    by_host: Cache<String, Option<Arc<Tenant>>>,
    platform_hosts: Arc<[String]>,
}

impl TenantResolver {
    pub fn new(pool: PgPool, platform_hosts: &[String]) -> Self {
        Self {
            pool,
            by_host: Cache::builder().max_capacity(100_000).time_to_live(Duration::from_secs(300)).build(),
            platform_hosts: platform_hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
        }
    }

    pub async fn resolve(&self, host: &str) -> Result<Option<Site>, AppError> {
        if self.platform_hosts.iter().any(|h| h == host) {
            return Ok(Some(Site::Platform));
        }
        let pool = self.pool.clone();
        let tenant = self
            .by_host
            .try_get_with(host.to_string(), async move { load_tenant(&pool, host).await.map(|t| t.map(Arc::new)) })
            .await
            .map_err(|e| AppError::Internal(anyhow::anyhow!("resolving tenant: {e}")))?;
        Ok(tenant.map(Site::Tenant))
    }

    pub fn invalidate_all(&self) {
        self.by_host.invalidate_all();
    }

    /// The tenant by id (background work carries ids, not hosts), via its primary host.
    pub async fn by_id(&self, id: Uuid) -> Result<Option<Arc<Tenant>>, AppError> {
        let host: Option<String> =
            sqlx::query_scalar("select host from tenant_domains where tenant_id = $1 and is_primary")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        let Some(host) = host else { return Ok(None) };
        Ok(match self.resolve(&host).await? {
            Some(Site::Tenant(tenant)) => Some(tenant),
            _ => None,
        })
    }
}

async fn load_tenant(pool: &PgPool, host: &str) -> sqlx::Result<Option<Tenant>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: Uuid,
        slug: String,
        name: String,
        status: String,
        theme: String,
        profile: serde_json::Value,
        auth: serde_json::Value,
        primary_host: String,
        suspension_reason: String,
    }
    let row: Option<Row> = sqlx::query_as(
        "select t.id, t.slug, t.name, t.status, t.theme, t.profile, t.auth, t.suspension_reason,
                (select p.host from tenant_domains p where p.tenant_id = t.id and p.is_primary) as primary_host
         from tenant_domains d join tenants t on t.id = d.tenant_id
         where d.host = $1",
    )
    .bind(host)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|Row { id, slug, name, status, theme, profile, auth, primary_host, suspension_reason }| Tenant {
        id,
        slug,
        name,
        status: TenantStatus::parse(&status),
        theme,
        primary_host,
        profile: serde_json::from_value(profile).unwrap_or_default(),
        auth: serde_json::from_value(auth).unwrap_or_default(),
        suspension_reason,
    }))
}

/// Listens for tenant changes and drops every cache that may hold stale data.
/// A lost connection may have lost notifications, so it drops them too.
pub fn spawn_invalidation_listener(
    pool: PgPool,
    drop_caches: impl Fn() + Send + Sync + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match PgListener::connect_with(&pool).await {
                Ok(mut listener) => {
                    if listener.listen(NOTIFY_CHANNEL).await.is_err() {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                    drop_caches();
                    loop {
                        match listener.try_recv().await {
                            Ok(Some(notification)) => {
                                tracing::info!(tenant = notification.payload(), "tenant changed, caches dropped");
                                drop_caches();
                            }
                            Ok(None) => {
                                tracing::warn!("tenant change listener reconnected; caches dropped");
                                drop_caches();
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "tenant change listener failed");
                                break;
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot listen for tenant changes"),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
}
