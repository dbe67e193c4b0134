//! Tenant data read outside host resolution: the branding assets a portal
//! serves, and the list of enti the platform's home links to.

use serde::Serialize;
use sqlx::PgPool;

use crate::db::TenantTx;

/// An image or stylesheet of the ente's branding, as onboarding stored it.
#[derive(Debug, sqlx::FromRow)]
pub struct BrandingAsset {
    pub content_type: String,
    pub body: Vec<u8>,
}

pub async fn branding_asset(tx: &mut TenantTx, name: &str) -> sqlx::Result<Option<BrandingAsset>> {
    sqlx::query_as("select content_type, body from tenant_assets where name = $1")
        .bind(name)
        .fetch_optional(tx.conn())
        .await
}

/// An active ente and its primary host.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct TenantLink {
    pub name: String,
    pub host: String,
}

/// Every active ente, by name.
pub async fn active_tenants(pool: &PgPool) -> sqlx::Result<Vec<TenantLink>> {
    sqlx::query_as(
        "select t.name, d.host from tenants t join tenant_domains d on d.tenant_id = t.id and d.is_primary
         where t.status = 'active' order by t.name",
    )
    .fetch_all(pool)
    .await
}
