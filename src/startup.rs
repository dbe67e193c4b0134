//! Builds the application from settings: state, routers, layers, listener.

use std::{future::Future, sync::Arc, time::Duration};

use anyhow::Context;
use axum::{
    extract::{Request, State},
    http::{header, StatusCode},
    middleware::{from_fn, from_fn_with_state},
    response::IntoResponse,
    routing::get,
    Json, Router,
};
use tokio::net::TcpListener;
use tower_http::{
    request_id::{PropagateRequestIdLayer, SetRequestIdLayer},
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;

use crate::{
    auth::{self, authz, crs::CardVerifier, csrf, session},
    backoffice, cases, catalog,
    config::Settings,
    db::{self, DbTargets},
    error::AppError,
    fascicolo::Store,
    jobs,
    notify::{
        self,
        mail::Mailer,
        sms::{Skebby, SmsGateway},
    },
    platform, portal,
    state::AppState,
    tenancy::{self, TenantResolver},
    web::{
        self, assets,
        errors::render_error_pages,
        headers::security_headers,
        page_cache::{self, EdgeCache},
        render::Renderer,
    },
};

pub struct Application {
    listener: TcpListener,
    /// The optional built-in TLS listener (`tls_listen`), for CRS/CNS cards.
    tls: Option<(TcpListener, tokio_rustls::TlsAcceptor)>,
    router: Router,
    state: AppState,
}

impl Application {
    /// Connects, loads the themes and binds `settings.listen` (port 0 picks one).
    pub async fn build(settings: Settings, targets: &DbTargets) -> anyhow::Result<Self> {
        let listener =
            TcpListener::bind(settings.listen).await.with_context(|| format!("binding {}", settings.listen))?;
        let tls = match settings.tls_listen {
            Some(address) => {
                let cards = CardVerifier::load(&settings.crs_ca_files)?;
                let acceptor = web::tls::acceptor(&settings, auth::crs::crypto_provider(), cards.handshake_verifier())?;
                let listener = TcpListener::bind(address).await.with_context(|| format!("binding {address}"))?;
                Some((listener, acceptor))
            }
            None => None,
        };
        let state = build_state(settings, targets).await?;
        let router = app_router(state.clone());
        Ok(Self { listener, tls, router, state })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Port of the built-in TLS listener, when configured.
    pub fn tls_port(&self) -> Option<u16> {
        self.tls.as_ref().and_then(|(l, _)| l.local_addr().ok()).map(|a| a.port())
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then drains in-flight requests.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let listener_task = {
            let state = self.state.clone();
            tenancy::spawn_invalidation_listener(state.db.clone(), move || state.invalidate_tenant_caches())
        };
        // Background jobs, unless dedicated `sportello worker` nodes run them.
        let workers = match self.state.settings.jobs_in_process {
            true => Some(start_workers(self.state.clone()).await?),
            false => None,
        };
        // Rate-limit keys that recovered their whole budget are dropped every minute.
        let limits = self.state.limits.clone();
        let sweeper = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                limits.sweep();
            }
        });
        // Stored objects no document refers to any more go, hourly.
        let state = self.state.clone();
        let orphans = tokio::spawn(async move {
            let grace = Duration::from_secs(state.settings.orphan_grace_secs);
            let mut tick = tokio::time::interval(Duration::from_secs(3600));
            loop {
                tick.tick().await;
                if let Err(e) = cases::sweep::sweep(&state, grace).await {
                    tracing::warn!(error = ?e, "orphan sweep failed");
                }
            }
        });
        tracing::info!(address = %self.listener.local_addr()?, "serving");
        if self.state.settings.dev_pages {
            tracing::warn!(
                "DEVELOPMENT PAGES ARE ON (dev_pages = true): /sviluppo/sms and /sviluppo/posta publish every \
                 ente's outgoing codes and messages. Never set this on a deployment citizens use."
            );
        }
        let edge = EdgeCache::new(self.router, self.state.pages.clone(), &self.state.settings.trusted_proxies);
        // One server loop for both listeners: header and body read timeouts, peer address.
        let timeouts = web::server::ReadTimeouts::from_settings(&self.state.settings);
        // One shutdown signal for both listeners.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let until_stopped = move || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            }
        };
        let tls_task = self.tls.map(|(listener, acceptor)| {
            if let Ok(address) = listener.local_addr() {
                tracing::info!(%address, "serving TLS");
            }
            tokio::spawn(web::server::serve(listener, Some(acceptor), edge.clone(), timeouts, until_stopped()))
        });
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop.send(true);
        });
        web::server::serve(self.listener, None, edge, timeouts, until_stopped()).await;
        if let Some(task) = tls_task {
            let _ = task.await;
        }
        sweeper.abort();
        orphans.abort();
        listener_task.abort();
        // Jobs being run finish (or time out) before the process goes.
        if let Some(workers) = workers {
            workers.shutdown().await;
        }
        Ok(())
    }
}

/// Everything but the listeners: what `serve` and `sportello worker` share.
pub async fn build_state(settings: Settings, targets: &DbTargets) -> anyhow::Result<AppState> {
    let assets = Arc::new(web::assets::Assets::scan(&settings.design_system_dir, &settings.themes_dir)?);
    let renderer = Renderer::load(&settings.themes_dir, &settings.locales_dir)?.with_assets(assets.clone());
    let pool =
        db::connect(&targets.app, settings.database_pool_size.max(1)).await.context("connecting to PostgreSQL")?;
    db::ensure_bound_by_row_level_security(&pool).await?;
    let sms = match settings.sms_gateway.as_str() {
        "outbox" => SmsGateway::Outbox,
        "skebby" => SmsGateway::Skebby(Skebby {
            base_url: settings.skebby_url.clone(),
            username: settings.skebby_username.clone(),
            password: settings.skebby_password.clone().context("SKEBBY_PASSWORD is required for the skebby gateway")?,
            client: reqwest::Client::builder().timeout(Duration::from_secs(15)).build()?,
        }),
        other => anyhow::bail!("sms_gateway: unknown gateway {other:?} (outbox, skebby)"),
    };
    let mailer = Mailer::new(settings.smtp_url.as_ref().map(|s| s.expose()), &settings.mail_from)?;
    let cards = CardVerifier::load(&settings.crs_ca_files)?;
    let store = Store::from_settings(&settings).await.context("opening the case file storage")?;
    let state = AppState {
        tenants: TenantResolver::new(pool.clone(), &settings.platform_hosts),
        authz: Default::default(),
        limits: auth::ratelimit::RateLimits::new(settings.sign_in_start_limit),
        sms: Arc::new(sms),
        mailer: Arc::new(mailer),
        saml_idps: Arc::new(auth::spid::IdentityProviders::load(&settings)?),
        oidc: Default::default(),
        crs: Arc::new(cards),
        store,
        uploads: cases::uploads::UploadSlots::new(settings.uploads_per_citizen, settings.uploads_per_ente),
        pages: page_cache::PageCache::new(Duration::from_secs(settings.page_cache_ttl_secs)),
        db: pool,
        renderer: Arc::new(renderer),
        assets,
        settings: Arc::new(settings),
    };
    jobs::configure(&state.db, &state.settings).await?;
    Ok(state)
}

/// Every route of an ente's site, with what it needs: the one route table.
/// Every route of an ente's site. `upload_max_bytes` bounds the bodies of the
/// forms that carry files.
pub fn tenant_routes(upload_max_bytes: u64) -> Vec<authz::RouteSpec> {
    [
        portal::routes(),
        catalog::routes(),
        crate::admin::routes(),
        auth::login::routes(),
        auth::crs::routes(),
        auth::registration::routes(),
        auth::recovery::routes(),
        auth::spid::routes(),
        auth::oidc::routes(),
        auth::staff_access::routes(),
        auth::staff_local::routes(),
        auth::dev_idp::routes(),
        auth::account::routes(),
        cases::routes(upload_max_bytes),
        backoffice::routes(),
        portal::dev_outbox::routes(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn app_router(state: AppState) -> Router {
    let tenant = authz::router_from(tenant_routes(state.settings.upload_max_bytes), &state)
        .fallback(not_found)
        .layer(from_fn_with_state(state.clone(), session::load_session))
        .layer(from_fn(csrf::protect))
        .layer(web::errors::catch_panics())
        .layer(from_fn_with_state(state.clone(), render_error_pages))
        .with_state(state.clone());
    let platform = platform::router()
        .fallback(not_found)
        .layer(from_fn(csrf::protect))
        .layer(web::errors::catch_panics())
        .layer(from_fn_with_state(state.clone(), render_error_pages))
        .with_state(state.clone());
    let sites =
        Router::new().fallback(web::dispatch).with_state(web::SiteRouters { state: state.clone(), platform, tenant });

    let router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readiness))
        .with_state(state.clone())
        .nest_service("/static", Router::new().route("/{*path}", get(assets::serve)).with_state(state.assets.clone()));
    router
        .fallback_service(sites)
        // Panics outside a site router (dispatch itself): a 500 with the request id header.
        .layer(web::errors::catch_panics())
        .layer(from_fn(security_headers))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let id = request
                        .headers()
                        .get(web::REQUEST_ID_HEADER)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    let host = request.headers().get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("-");
                    tracing::info_span!("request", request_id = %id, method = %request.method(), host, path = %request.uri().path())
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(web::request_id::MakeId))
}

async fn not_found() -> AppError {
    AppError::NotFound
}

/// Ready when PostgreSQL and the document storage answer within two seconds.
async fn readiness(State(state): State<AppState>) -> impl IntoResponse {
    let probe = platform::health::probe(&state).await;
    let (db_ok, store_ok) = (probe.database_ms.is_some(), probe.storage_ok);
    let ready = db_ok && store_ok;
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = serde_json::json!({
        "status": if ready { "ready" } else { "unavailable" },
        "database": if db_ok { "ok" } else { "unreachable" },
        "storage": if store_ok { "ok" } else { "unreachable" },
    });
    (status, Json(body))
}

/// Every kind of background work, from what each feature contributes (as
/// routes are): the one place where a feature's jobs are registered.
pub fn job_registry() -> jobs::Registry {
    jobs::Registry::new()
        .with(notify::jobs())
        .with(jobs::webhook::jobs())
        .with(auth::prune::jobs())
        .with(backoffice::timers::jobs())
        .with(crate::admin::offices::jobs())
}

/// The job workers of this process, with the hourly prune scheduled beside them.
pub async fn start_workers(state: AppState) -> anyhow::Result<jobs::Workers> {
    let workers = jobs::start_workers(state.clone(), job_registry()).await?;
    let ipa_state = state.clone();
    Ok(workers
        .with_scheduler(|stop| auth::prune::schedule_until(state, stop))
        .with_scheduler(|stop| crate::admin::offices::schedule_until(ipa_state, stop)))
}

/// Our migrations, then the job queue's (the `underway` schema) and what the
/// runtime group needs of it. All as the owner role.
pub async fn migrate(admin: &sqlx::PgPool) -> anyhow::Result<()> {
    db::migrate(admin).await?;
    jobs::migrate(admin).await.context("running the job queue's migrations")
}
