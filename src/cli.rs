//! `sportello serve | migrate | tenant ... | audit ...`

use std::{net::SocketAddr, path::PathBuf};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use sqlx::PgPool;

use crate::{
    audit,
    config::Settings,
    db::{self, Database},
    demo, onboarding,
    startup::{self, Application},
    tenancy::TenantStatus,
    web::render::Renderer,
};

#[derive(Parser)]
#[command(name = "sportello", version, about = "Multi-ente portal and online counter")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP (starts the embedded PostgreSQL when DATABASE_URL is not set).
    Serve {
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Run background job workers only (no HTTP), e.g. on nodes of their own.
    Worker,
    /// Apply pending database migrations.
    Migrate,
    /// Onboard and manage tenants (enti).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Check and seal the audit trail (docs/AUDIT.md).
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Demo data for development (dev_pages only; docs/DEMO.md).
    #[command(subcommand)]
    Demo(DemoCommand),
    /// The platform's own operators (docs/PLATFORM.md).
    #[command(subcommand)]
    Platform(PlatformCommand),
}

#[derive(Subcommand)]
enum PlatformCommand {
    /// Platform operators of the console at admin.<base-domain>.
    #[command(subcommand)]
    Admin(PlatformAdminCommand),
}

#[derive(Subcommand)]
enum PlatformAdminCommand {
    /// Creates a platform operator (or gives an existing one a new link) and
    /// prints their one-time enrolment link (7 days): password and authenticator.
    Create {
        email: String,
        /// `platform-admin` or `platform-support`.
        #[arg(long, default_value = "platform-admin")]
        role: String,
    },
}

#[derive(Subcommand)]
enum DemoCommand {
    /// Citizens and about 60 cases in every status for each ente not seeded yet
    /// (or one); a second run changes nothing.
    Seed {
        #[arg(long)]
        tenant: Option<String>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute every ente's hash chain (or one's); fails if any is broken.
    Verify {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Record each ente's chain head for a day (default: yesterday, Italian time).
    Seal {
        #[arg(long)]
        day: Option<chrono::NaiveDate>,
    },
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create or update tenants from their folders (idempotent).
    Apply { dirs: Vec<PathBuf> },
    /// Write the recipe of an ente as its database holds it to <dir>/<slug>/
    /// (no secrets, no keys; docs/TENANTS.md).
    Export { slug: String, dir: PathBuf },
    /// List tenants with their status and hosts.
    List,
    /// Suspend a tenant: its hosts show a notice and no data.
    Suspend { slug: String },
    /// Reactivate a suspended tenant.
    Resume { slug: String },
    /// Attach or detach custom domains.
    #[command(subcommand)]
    Domain(DomainCommand),
    /// API tokens of an ente's own systems (see docs/BACKOFFICE.md).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Local staff accounts (`[auth.staff] methods = ["local"]`, docs/AUTH.md).
    #[command(subcommand)]
    Staff(StaffCommand),
}

#[derive(Subcommand)]
enum StaffCommand {
    /// Prints a one-time link (7 days) with which a staff member listed in the
    /// recipe sets their password and authenticator app.
    Enrol { slug: String, email: String },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Creates a token and prints its secret (shown only this once).
    Create {
        slug: String,
        #[arg(long)]
        name: String,
        /// The role it acts with (as a staff role: operator, admin, ...).
        #[arg(long)]
        role: String,
        /// An office it works for (repeat); none: those the role's policy allows.
        #[arg(long = "office")]
        offices: Vec<String>,
        /// cases:read, cases:transition, cases:message, cases:document (repeat).
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
    },
    /// Revokes a token by name.
    Revoke { slug: String, name: String },
}

#[derive(Subcommand)]
enum DomainCommand {
    Add { slug: String, host: String },
    Remove { host: String },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut settings = Settings::load()?;
    match cli.command {
        Command::Serve { listen } => {
            if let Some(listen) = listen {
                settings.listen = listen;
            }
            serve(settings).await
        }
        Command::Worker => worker(settings).await,
        Command::Migrate => {
            let (_db, _admin) = open_admin(&settings).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Tenant(command) => {
            let (_db, admin) = open_admin(&settings).await?;
            tenant_command(&settings, &admin, command).await
        }
        Command::Audit(command) => {
            // As the owner: verification reads every ente.
            let (_db, admin) = open_admin(&settings).await?;
            audit_command(&admin, command).await
        }
        Command::Platform(PlatformCommand::Admin(PlatformAdminCommand::Create { email, role })) => {
            let email = crate::input::normalize_email(&email)
                .ok_or_else(|| anyhow::anyhow!("{email:?}: not an e-mail address"))?;
            if !crate::platform::operators::ROLES.contains(&role.as_str()) {
                bail!("{role:?}: the role is platform-admin or platform-support");
            }
            let (_db, admin) = open_admin(&settings).await?;
            let token = crate::platform::operators::create_enrolment(&admin, &email, &role).await?;
            let port = if settings.base_domain == "localhost" {
                format!(":{}", settings.listen.port())
            } else {
                String::new()
            };
            eprintln!("platform operator {email} ({role}): enrolment link (valid 7 days, once):");
            println!("{}://admin.{}{port}/console/attiva?t={token}", settings.public_scheme(), settings.base_domain);
            Ok(())
        }
        Command::Demo(DemoCommand::Seed { tenant }) => {
            if !settings.dev_pages {
                bail!(
                    "demo data is for development only: set SPORTELLO_DEV_PAGES=true (dev_pages = true), \
                     as scripts/run.sh does"
                );
            }
            let (database, admin) = open_admin(&settings).await?;
            // As the runtime role, through the same functions as the citizens and the office.
            let state = startup::build_state(settings, &database.targets).await?;
            for report in Box::pin(demo::seed(&state, &admin, tenant.as_deref())).await? {
                println!("{}", report.line());
            }
            admin.close().await;
            Ok(())
        }
    }
}

async fn audit_command(admin: &PgPool, command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify { tenant } => {
            let results = match tenant {
                Some(slug) => {
                    let id: uuid::Uuid = sqlx::query_scalar("select id from tenants where slug = $1")
                        .bind(&slug)
                        .fetch_optional(admin)
                        .await?
                        .with_context(|| format!("no ente with slug {slug}"))?;
                    vec![audit::verify(admin, id).await?]
                }
                None => audit::verify_all(admin).await?,
            };
            for result in &results {
                println!("{}", result.line());
            }
            let broken = results.iter().filter(|r| !r.is_intact()).count();
            if broken > 0 {
                bail!("audit trail altered in {broken} enti");
            }
            Ok(())
        }
        AuditCommand::Seal { day } => {
            let day = match day {
                Some(day) => day,
                None => {
                    sqlx::query_scalar("select (now() at time zone 'Europe/Rome')::date - 1").fetch_one(admin).await?
                }
            };
            for (slug, digest) in audit::seal_all(admin, day).await? {
                match digest {
                    Some(d) => {
                        println!("{slug}: {day} sealed at entry {} ({})", d.last_seq, hex::encode(d.head_hash))
                    }
                    None => println!("{slug}: {day} no entry to seal"),
                }
            }
            Ok(())
        }
    }
}

/// Opens the owner connection and brings the schema up to date.
async fn open_admin(settings: &Settings) -> anyhow::Result<(Database, PgPool)> {
    let database = Database::from_settings(settings).await?;
    let admin = db::connect(&database.targets.admin, 4).await?;
    startup::migrate(&admin).await?;
    Ok((database, admin))
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let (database, admin) = open_admin(&settings).await?;
    if settings.apply_tenants_on_start {
        // Onboarding only: once an ente exists, its database is the source of
        // truth (the admin console edits it); a restart must not put the recipe
        // back over the console's work. `tenant apply` does that, deliberately,
        // through the revision mechanism.
        let mut new = Vec::new();
        for dir in onboarding::tenant_dirs(&settings.tenants_dir)? {
            let slug = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
            let exists: bool = sqlx::query_scalar("select exists (select from tenants where slug = $1)")
                .bind(&slug)
                .fetch_one(&admin)
                .await?;
            if exists {
                println!("{slug}: exists (edit it in its console, or `sportello tenant apply {}`)", dir.display());
            } else {
                new.push(dir);
            }
        }
        apply_dirs(&settings, &admin, &new).await?;
    }
    let embedded = database.cluster.is_some();
    let app = Application::build(settings, &database.targets).await?;
    // The embedded default with the development pages on: each ente not
    // seeded yet gets its demo data, once (docs/DEMO.md).
    if embedded && app.state().settings.dev_pages {
        match Box::pin(demo::seed(app.state(), &admin, None)).await {
            Ok(reports) => {
                for report in reports.iter().filter(|r| r.seeded) {
                    tracing::info!(tenant = report.slug, cases = report.cases, "{}", report.line());
                }
            }
            Err(e) => tracing::warn!(error = ?e, "demo data not seeded"),
        }
    }
    admin.close().await;
    app.run_until(shutdown_signal()).await?;
    drop(database); // stops the embedded cluster, if we started it
    Ok(())
}

/// `sportello worker`: the job workers of `serve`, without its listeners; stops
/// on SIGTERM or Ctrl-C after the jobs being run are done.
async fn worker(settings: Settings) -> anyhow::Result<()> {
    let (database, admin) = open_admin(&settings).await?;
    admin.close().await;
    let state = startup::build_state(settings, &database.targets).await?;
    let workers = startup::start_workers(state).await?;
    shutdown_signal().await;
    workers.shutdown().await;
    drop(database);
    Ok(())
}

async fn apply_dirs(settings: &Settings, admin: &PgPool, dirs: &[PathBuf]) -> anyhow::Result<()> {
    let renderer = Renderer::load(&settings.themes_dir, &settings.locales_dir)?;
    for dir in dirs {
        let recipe = onboarding::TenantRecipe::load(dir, renderer.themes(), &renderer.languages())?;
        let report = onboarding::apply(admin, &recipe, &settings.base_domain).await?;
        let what = match (report.created, report.changes) {
            (true, _) => "created".to_string(),
            (false, 0) => "unchanged".to_string(),
            (false, n) => format!("updated ({n} changes)"),
        };
        println!("{}: {what}", report.slug);
        if report.branding_replaced {
            println!(
                "  branding: the recipe's look (theme, colours, texts, quick links, images) replaced the published one"
            );
        }
        let words = renderer.catalogues();
        for published in &report.published {
            println!("  {}: revision {} published", published.slug, published.number);
            for change in &published.changes {
                println!("    - {}", words.text("it", &change.text()));
            }
            if published.drafts_moved + published.drafts_kept > 0 {
                println!(
                    "    open drafts: {} moved to it, {} kept on their revision",
                    published.drafts_moved, published.drafts_kept
                );
            }
        }
        tracing::info!(tenant = report.slug, created = report.created, changes = report.changes, "tenant applied");
    }
    Ok(())
}

async fn tenant_command(settings: &Settings, admin: &PgPool, command: TenantCommand) -> anyhow::Result<()> {
    match command {
        TenantCommand::Apply { dirs } => {
            if dirs.is_empty() {
                bail!("name at least one folder, e.g. tenants/valmora");
            }
            apply_dirs(settings, admin, &dirs).await
        }
        TenantCommand::Export { slug, dir } => {
            let exported = onboarding::export(admin, &slug, &dir).await?;
            println!(
                "{slug}: exported to {} ({} files, {} procedures)",
                exported.dir.display(),
                exported.files.len(),
                exported.procedures
            );
            Ok(())
        }
        TenantCommand::List => {
            println!("{:<20} {:<10} {:<8} {:<40} HOST", "SLUG", "STATUS", "THEME", "NAME");
            for t in onboarding::list(admin).await? {
                println!("{:<20} {:<10} {:<8} {:<40} {}", t.slug, t.status, t.theme, t.name, t.hosts.join(", "));
            }
            Ok(())
        }
        TenantCommand::Suspend { slug } => set_status(admin, &slug, TenantStatus::Suspended, "suspended").await,
        TenantCommand::Resume { slug } => set_status(admin, &slug, TenantStatus::Active, "reactivated").await,
        TenantCommand::Domain(DomainCommand::Add { slug, host }) => {
            onboarding::add_domain(admin, &slug, &host).await?;
            println!("{host}: attached to {slug}");
            Ok(())
        }
        TenantCommand::Token(TokenCommand::Create { slug, name, role, offices, scopes }) => {
            let tenant_id = tenant_id(admin, &slug).await?;
            let secret =
                crate::backoffice::api::create_token(admin, tenant_id, &name, &role, &offices, &scopes).await?;
            eprintln!("{slug}: token {name} created; keep it now, it will not be shown again:");
            println!("{secret}");
            Ok(())
        }
        TenantCommand::Token(TokenCommand::Revoke { slug, name }) => {
            let tenant_id = tenant_id(admin, &slug).await?;
            if !crate::backoffice::api::revoke_token(admin, tenant_id, &name).await? {
                bail!("{slug}: no active token named {name}");
            }
            println!("{slug}: token {name} revoked");
            Ok(())
        }
        TenantCommand::Staff(StaffCommand::Enrol { slug, email }) => {
            let tenant_id = tenant_id(admin, &slug).await?;
            let email = crate::input::normalize_email(&email)
                .ok_or_else(|| anyhow::anyhow!("{email:?}: not an e-mail address"))?;
            let mut tx = crate::db::TenantTx::begin(admin, tenant_id).await?;
            let token = crate::auth::staff_local::store::create_enrolment(&mut tx, &email).await?;
            tx.commit().await?;
            let Some(token) = token else { bail!("{slug}: {email} is not in the ente's [[staff]]") };
            let port = if settings.base_domain == "localhost" {
                format!(":{}", settings.listen.port())
            } else {
                String::new()
            };
            eprintln!("{slug}: enrolment link for {email} (valid 7 days, once):");
            println!(
                "{}://{slug}.{}{port}/backoffice/accesso/attiva?t={token}",
                settings.public_scheme(),
                settings.base_domain
            );
            Ok(())
        }
        TenantCommand::Domain(DomainCommand::Remove { host }) => {
            if !onboarding::remove_domain(admin, &host).await? {
                bail!("{host}: no custom domain with this name");
            }
            println!("{host}: detached");
            Ok(())
        }
    }
}

async fn tenant_id(admin: &PgPool, slug: &str) -> anyhow::Result<uuid::Uuid> {
    let id: Option<uuid::Uuid> =
        sqlx::query_scalar("select id from tenants where slug = $1").bind(slug).fetch_optional(admin).await?;
    id.ok_or_else(|| anyhow::anyhow!("no ente with slug {slug}"))
}

async fn set_status(admin: &PgPool, slug: &str, status: TenantStatus, done: &str) -> anyhow::Result<()> {
    if !onboarding::set_status(admin, slug, status).await? {
        bail!("no ente with slug {slug}");
    }
    println!("{slug}: {done}");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
    tracing::info!("shutting down");
}
