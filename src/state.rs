//! Everything a request handler may need, cheap to clone.

use std::sync::Arc;

use sqlx::PgPool;

use crate::{
    auth::{authz::Authz, crs::CardVerifier, ratelimit::RateLimits},
    config::Settings,
    fascicolo::Store,
    notify::{mail::Mailer, sms::SmsGateway},
    tenancy::TenantResolver,
    web::{page_cache::PageCache, render::Renderer},
};

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    /// Runtime pool: the role that owns nothing and cannot bypass row-level security.
    pub db: PgPool,
    pub renderer: Arc<Renderer>,
    /// The static files and their content-hashed URLs.
    pub assets: Arc<crate::web::assets::Assets>,
    pub tenants: TenantResolver,
    pub pages: PageCache,
    pub authz: Authz,
    pub limits: RateLimits,
    pub sms: Arc<SmsGateway>,
    pub mailer: Arc<Mailer>,
    pub saml_idps: crate::auth::spid::SharedIdps,
    pub oidc: crate::auth::oidc::Providers,
    /// The CA list for CRS/CNS card sign-in.
    pub crs: Arc<CardVerifier>,
    /// Case file documents (S3 or a local directory).
    pub store: Store,
    /// Uploads in progress on this node, bounded per citizen and per ente.
    pub uploads: crate::cases::uploads::UploadSlots,
}

impl AppState {
    /// What the domain (`crate::procedure`) needs of the platform.
    pub fn env(&self) -> crate::procedure::Env<'_> {
        crate::procedure::Env {
            settings: &self.settings,
            store: &self.store,
            catalogues: self.renderer.catalogues(),
            as_of: None,
        }
    }

    /// A tenant changed somewhere: forget everything derived from tenant data.
    pub fn invalidate_tenant_caches(&self) {
        self.tenants.invalidate_all();
        self.pages.invalidate_all();
        self.authz.invalidate_all();
    }
}
