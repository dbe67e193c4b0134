//! Everything a request handler may need, cheap to clone.

use std::sync::Arc;

use sqlx::PgPool;

use crate::{config::Settings, tenancy::TenantResolver, web::{page_cache::PageCache, render::Renderer}};

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    /// Runtime pool: the role that owns nothing and cannot bypass row-level security.
    pub db: PgPool,
    pub renderer: Arc<Renderer>,
    pub tenants: TenantResolver,
    pub pages: PageCache,
}

impl AppState {
    /// A tenant changed somewhere: forget everything derived from tenant data.
    pub fn invalidate_tenant_caches(&self) {
        self.tenants.invalidate_all();
        self.pages.invalidate_all();
    }
}
