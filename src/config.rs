//! Typed settings: an optional TOML file overlaid by environment variables.
//! Unknown keys are refused so a typo never silently falls back to a default.

use std::{net::SocketAddr, path::PathBuf};

use anyhow::Context;
use ipnet::IpNet;
use serde::Deserialize;

/// Default SPID/CIE/staff sign-in starts per client address per 10 minutes
/// (`sign_in_start_limit`).
pub const DEFAULT_SIGN_IN_STARTS: u32 = 60;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Address `serve` listens on.
    pub listen: SocketAddr,
    /// Every tenant answers at `<slug>.<base_domain>`.
    pub base_domain: String,
    /// Hosts that show the platform's own pages rather than an ente's.
    pub platform_hosts: Vec<String>,
    /// Peers whose `X-Forwarded-Host` is believed; everyone else's is ignored.
    /// The client address is the right-most `X-Forwarded-For` entry not in this list.
    pub trusted_proxies: Vec<IpNet>,
    /// Runtime connection (a role that owns nothing and cannot bypass RLS).
    /// Absent: the embedded PostgreSQL cluster under `data_dir/pg` is used.
    pub database_url: Option<Secret>,
    /// Owner connection used for migrations and tenant onboarding.
    pub database_admin_url: Option<Secret>,
    pub data_dir: PathBuf,
    pub tenants_dir: PathBuf,
    pub themes_dir: PathBuf,
    pub locales_dir: PathBuf,
    /// Where the setup step built Sportello's reduction of Bootstrap Italia
    /// (design-system/build.mjs; the full distribution, `node_modules/bootstrap-italia/dist`,
    /// has the same layout and serves too).
    pub design_system_dir: PathBuf,
    /// Seconds an anonymous public page stays in the page cache.
    pub page_cache_ttl_secs: u64,
    /// Apply every `tenants/*/` at start (the embedded default does).
    pub apply_tenants_on_start: bool,
    /// `outbox` (nothing leaves; see /sviluppo/sms) or `skebby`.
    pub sms_gateway: String,
    pub skebby_url: String,
    pub skebby_username: String,
    pub skebby_password: Option<Secret>,
    /// SMTP server for e-mail (`smtp://host:port`, `smtps://user:pass@host`);
    /// absent: e-mail stays in the outbox (see /sviluppo/posta).
    pub smtp_url: Option<Secret>,
    pub mail_from: String,
    /// Development pages (the SMS and e-mail outboxes, with live codes). Off
    /// unless set explicitly: never implied by the base domain, since a
    /// deployment served only on custom domains may leave it at `localhost`.
    pub dev_pages: bool,
    /// SAML metadata files of the SPID identity providers (the federation).
    pub spid_idp_metadata: Vec<PathBuf>,
    /// SAML metadata files of the CIE identity provider.
    pub cie_idp_metadata: Vec<PathBuf>,
    /// Test deployments only: accept the expired certificate of AgID's
    /// spid-sp-test IdP. Never in production.
    pub saml_trust_test_idp_cert: bool,
    /// PEM files of the certification authorities whose CNS/CRS smart cards are
    /// accepted for sign-in. Empty: card sign-in is unavailable.
    pub crs_ca_files: Vec<PathBuf>,
    /// Header in which a trusted proxy forwards the client certificate
    /// (URL-encoded PEM, as nginx's `$ssl_client_escaped_cert`).
    pub crs_header: String,
    /// Optional second listener speaking TLS itself, asking for (not requiring)
    /// a client certificate; needs `tls_cert_file` and `tls_key_file`.
    pub tls_listen: Option<SocketAddr>,
    /// Server certificate chain (PEM) and private key (PEM) of `tls_listen`.
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    /// Where requests for technical assistance are e-mailed (the platform's
    /// support desk); empty: they wait in the ente's list only.
    pub support_email: String,
    /// How old an unreferenced stored object must be before the sweep removes
    /// it: longer than any upload or submission can take.
    pub orphan_grace_secs: u64,
    /// Where case file documents live: `local` (a directory) or `s3`.
    pub storage_backend: String,
    /// The `local` backend's directory. Absent: `<data_dir>/files`.
    pub storage_dir: Option<PathBuf>,
    /// S3 endpoint (`https://s3.example.it`, `http://127.0.0.1:9000`). Absent: AWS itself.
    pub s3_endpoint: Option<String>,
    pub s3_region: String,
    pub s3_bucket: Option<String>,
    pub s3_access_key: Option<String>,
    pub s3_secret_key: Option<Secret>,
    /// The platform's cap on one uploaded file, whatever a procedure allows.
    pub upload_max_bytes: u64,
    /// Run the background job workers inside `serve` (`sportello worker` runs
    /// them alone, on other nodes).
    pub jobs_in_process: bool,
    /// A running job's worker records a heartbeat this often; a job whose worker
    /// missed it (crashed, killed, cut off) is picked up again by another.
    pub jobs_lease_secs: u64,
    /// Attempts of one job before it is left as failed.
    pub jobs_max_attempts: u32,
    /// First retry delay; each next one doubles, up to `jobs_backoff_max_secs`.
    pub jobs_backoff_secs: u64,
    pub jobs_backoff_max_secs: u64,
    /// How often idle workers look for due jobs (retries, scheduled jobs, jobs of
    /// dead workers); new jobs wake them at once through `NOTIFY`.
    pub jobs_poll_secs: u64,
    /// Hosts that outgoing calls configured by an ente (workflow webhooks) may
    /// reach even at a non-public address, and over plain http. Empty: only
    /// public addresses over https (see docs/JOBS.md).
    pub outbound_allowed_hosts: Vec<String>,
    /// IPA's "Unità Organizzative" open-data file (CSV or JSON), fetched daily
    /// through the job queue for every ente with an IPA code, each reading its
    /// own rows (docs/ORGANISATION.md). None: no automatic synchronisation.
    pub ipa_offices_url: Option<String>,
    /// Connections of the runtime pool (every request's transactions share it).
    pub database_pool_size: u32,
    /// A client gets this long to send a request's headers (slow clients are cut off).
    pub header_read_timeout_secs: u64,
    /// A request body that sends nothing for this long is cut off (408)…
    pub body_idle_timeout_secs: u64,
    /// …and one still arriving after this long, however it trickles.
    pub body_total_timeout_secs: u64,
    /// Uploads (forms with files) one citizen may have in progress at once, per node.
    pub uploads_per_citizen: usize,
    /// Uploads one ente may have in progress at once, per node.
    pub uploads_per_ente: usize,
    /// SPID, CIE and staff sign-in starts allowed per client address per 10
    /// minutes (each one stores a pending request and signs one).
    pub sign_in_start_limit: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".parse().expect("valid default address"),
            base_domain: "localhost".into(),
            platform_hosts: vec!["localhost".into(), "127.0.0.1".into(), "admin.localhost".into()],
            trusted_proxies: Vec::new(),
            database_url: None,
            database_admin_url: None,
            data_dir: "var".into(),
            tenants_dir: "tenants".into(),
            themes_dir: "themes".into(),
            locales_dir: "locales".into(),
            design_system_dir: "node_modules/.sportello-design-system".into(),
            page_cache_ttl_secs: 60,
            apply_tenants_on_start: true,
            sms_gateway: "outbox".into(),
            skebby_url: "https://api.skebby.it/API/v1.0/REST/".into(),
            skebby_username: String::new(),
            skebby_password: None,
            smtp_url: None,
            mail_from: "noreply@sportello.localhost".into(),
            dev_pages: false,
            spid_idp_metadata: Vec::new(),
            cie_idp_metadata: Vec::new(),
            saml_trust_test_idp_cert: false,
            crs_ca_files: Vec::new(),
            crs_header: "X-SSL-Client-Cert".into(),
            tls_listen: None,
            tls_cert_file: None,
            tls_key_file: None,
            support_email: String::new(),
            orphan_grace_secs: 6 * 3600,
            storage_backend: "local".into(),
            storage_dir: None,
            s3_endpoint: None,
            s3_region: "us-east-1".into(),
            s3_bucket: None,
            s3_access_key: None,
            s3_secret_key: None,
            upload_max_bytes: 100 * 1024 * 1024,
            jobs_in_process: true,
            jobs_lease_secs: 30,
            jobs_max_attempts: 10,
            jobs_backoff_secs: 5,
            jobs_backoff_max_secs: 3600,
            jobs_poll_secs: 5,
            outbound_allowed_hosts: Vec::new(),
            ipa_offices_url: None,
            database_pool_size: 32,
            header_read_timeout_secs: 30,
            body_idle_timeout_secs: 60,
            body_total_timeout_secs: 3600,
            uploads_per_citizen: 3,
            uploads_per_ente: 20,
            sign_in_start_limit: DEFAULT_SIGN_IN_STARTS,
        }
    }
}

/// A connection string that never prints its content (it may hold a password).
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(****)")
    }
}

impl Settings {
    /// How visitors reach us: plain http only for local development.
    pub fn public_scheme(&self) -> &'static str {
        if self.base_domain == "localhost" {
            "http"
        } else {
            "https"
        }
    }

    /// The `local` storage backend's directory.
    pub fn storage_dir(&self) -> PathBuf {
        self.storage_dir.clone().unwrap_or_else(|| self.data_dir.join("files"))
    }

    /// Reads `SPORTELLO_CONFIG` (or `sportello.toml` when present), then the environment.
    pub fn load() -> anyhow::Result<Self> {
        let path = std::env::var_os("SPORTELLO_CONFIG")
            .map(PathBuf::from)
            .or_else(|| Some(PathBuf::from("sportello.toml")).filter(|p| p.exists()));
        let mut settings = match path {
            Some(path) => {
                let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
            }
            None => Settings::default(),
        };
        settings.overlay_env(|key| std::env::var(key).ok())?;
        Ok(settings)
    }

    fn overlay_env(&mut self, var: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        if let Some(v) = var("DATABASE_URL") {
            self.database_url = Some(Secret(v));
        }
        if let Some(v) = var("DATABASE_ADMIN_URL") {
            self.database_admin_url = Some(Secret(v));
        }
        if let Some(v) = var("SPORTELLO_LISTEN") {
            self.listen = v.parse().context("SPORTELLO_LISTEN")?;
        }
        if let Some(v) = var("SPORTELLO_BASE_DOMAIN") {
            self.base_domain = v.trim().to_ascii_lowercase();
        }
        if let Some(v) = var("SPORTELLO_TRUSTED_PROXIES") {
            self.trusted_proxies = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| s.parse::<IpNet>().or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from)))
                .collect::<Result<_, _>>()
                .context("SPORTELLO_TRUSTED_PROXIES")?;
        }
        if let Some(v) = var("SPORTELLO_CRS_CA") {
            self.crs_ca_files = v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(PathBuf::from).collect();
        }
        if let Some(v) = var("SPORTELLO_CRS_HEADER") {
            self.crs_header = v.trim().to_string();
        }
        if let Some(v) = var("SPORTELLO_TLS_LISTEN") {
            self.tls_listen = Some(v.parse().context("SPORTELLO_TLS_LISTEN")?);
        }
        if let Some(v) = var("SPORTELLO_TLS_CERT") {
            self.tls_cert_file = Some(v.into());
        }
        if let Some(v) = var("SPORTELLO_TLS_KEY") {
            self.tls_key_file = Some(v.into());
        }
        if let Some(v) = var("SPORTELLO_DEV_PAGES") {
            self.dev_pages = v.trim().parse().context("SPORTELLO_DEV_PAGES (true or false)")?;
        }
        if let Some(v) = var("SPORTELLO_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(v) = var("SPORTELLO_DESIGN_SYSTEM_DIR") {
            self.design_system_dir = v.into();
        }
        if let Some(v) = var("SMTP_URL") {
            self.smtp_url = Some(Secret(v));
        }
        if let Some(v) = var("SPORTELLO_SMS_GATEWAY") {
            self.sms_gateway = v;
        }
        if let Some(v) = var("SKEBBY_URL") {
            self.skebby_url = v;
        }
        if let Some(v) = var("SKEBBY_USERNAME") {
            self.skebby_username = v;
        }
        if let Some(v) = var("SPORTELLO_SPID_IDP_METADATA") {
            self.spid_idp_metadata = v.split(',').filter(|s| !s.is_empty()).map(PathBuf::from).collect();
        }
        if let Some(v) = var("SPORTELLO_CIE_IDP_METADATA") {
            self.cie_idp_metadata = v.split(',').filter(|s| !s.is_empty()).map(PathBuf::from).collect();
        }
        if let Some(v) = var("SKEBBY_PASSWORD") {
            self.skebby_password = Some(Secret(v));
        }
        if let Some(v) = var("SPORTELLO_STORAGE_BACKEND") {
            self.storage_backend = v.trim().to_ascii_lowercase();
        }
        if let Some(v) = var("SPORTELLO_STORAGE_DIR") {
            self.storage_dir = Some(v.into());
        }
        if let Some(v) = var("SPORTELLO_S3_ENDPOINT") {
            self.s3_endpoint = Some(v.trim().to_string());
        }
        if let Some(v) = var("SPORTELLO_S3_REGION") {
            self.s3_region = v.trim().to_string();
        }
        if let Some(v) = var("SPORTELLO_S3_BUCKET") {
            self.s3_bucket = Some(v.trim().to_string());
        }
        if let Some(v) = var("SPORTELLO_S3_ACCESS_KEY") {
            self.s3_access_key = Some(v.trim().to_string());
        }
        if let Some(v) = var("SPORTELLO_S3_SECRET_KEY") {
            self.s3_secret_key = Some(Secret(v));
        }
        if let Some(v) = var("SPORTELLO_UPLOAD_MAX_BYTES") {
            self.upload_max_bytes = v.trim().parse().context("SPORTELLO_UPLOAD_MAX_BYTES")?;
        }
        if let Some(v) = var("SPORTELLO_JOBS_IN_PROCESS") {
            self.jobs_in_process = v.trim().parse().context("SPORTELLO_JOBS_IN_PROCESS (true or false)")?;
        }
        if let Some(v) = var("SPORTELLO_JOBS_LEASE_SECS") {
            self.jobs_lease_secs = v.trim().parse().context("SPORTELLO_JOBS_LEASE_SECS")?;
        }
        if let Some(v) = var("SPORTELLO_JOBS_MAX_ATTEMPTS") {
            self.jobs_max_attempts = v.trim().parse().context("SPORTELLO_JOBS_MAX_ATTEMPTS")?;
        }
        if let Some(v) = var("SPORTELLO_JOBS_BACKOFF_SECS") {
            self.jobs_backoff_secs = v.trim().parse().context("SPORTELLO_JOBS_BACKOFF_SECS")?;
        }
        if let Some(v) = var("SPORTELLO_JOBS_BACKOFF_MAX_SECS") {
            self.jobs_backoff_max_secs = v.trim().parse().context("SPORTELLO_JOBS_BACKOFF_MAX_SECS")?;
        }
        if let Some(v) = var("SPORTELLO_JOBS_POLL_SECS") {
            self.jobs_poll_secs = v.trim().parse().context("SPORTELLO_JOBS_POLL_SECS")?;
        }
        if let Some(v) = var("SPORTELLO_OUTBOUND_ALLOWED_HOSTS") {
            self.outbound_allowed_hosts =
                v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect();
        }
        if let Some(v) = var("SPORTELLO_IPA_OFFICES_URL") {
            self.ipa_offices_url = Some(v.trim().to_string()).filter(|v| !v.is_empty());
        }
        if let Some(v) = var("SPORTELLO_DATABASE_POOL_SIZE") {
            self.database_pool_size = v.trim().parse().context("SPORTELLO_DATABASE_POOL_SIZE")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("postgres://app:hunter2@db/x");
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<Settings>("base_domian = \"x\"").is_err());
    }

    #[test]
    fn env_overlays_file() {
        let mut s = Settings::default();
        s.overlay_env(|k| match k {
            "SPORTELLO_TRUSTED_PROXIES" => Some("10.0.0.0/8, 127.0.0.1".into()),
            "SPORTELLO_BASE_DOMAIN" => Some("Sportello.Example.IT".into()),
            "SPORTELLO_CRS_CA" => Some("/etc/crs/a.pem, /etc/crs/b.pem".into()),
            "SPORTELLO_TLS_LISTEN" => Some("0.0.0.0:8443".into()),
            "SPORTELLO_STORAGE_BACKEND" => Some("S3".into()),
            "SPORTELLO_S3_SECRET_KEY" => Some("sk-hunter2".into()),
            "SPORTELLO_UPLOAD_MAX_BYTES" => Some("1048576".into()),
            "SPORTELLO_JOBS_IN_PROCESS" => Some("false".into()),
            "SPORTELLO_JOBS_LEASE_SECS" => Some("2".into()),
            "SPORTELLO_OUTBOUND_ALLOWED_HOSTS" => Some("hooks.comune.local, 10.0.0.7".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(s.crs_ca_files, [PathBuf::from("/etc/crs/a.pem"), PathBuf::from("/etc/crs/b.pem")]);
        assert_eq!(s.tls_listen, Some("0.0.0.0:8443".parse().unwrap()));
        assert_eq!(s.trusted_proxies.len(), 2);
        assert_eq!(s.base_domain, "sportello.example.it");
        assert_eq!(s.storage_backend, "s3");
        assert_eq!(s.upload_max_bytes, 1 << 20);
        assert!(!s.jobs_in_process);
        assert_eq!(s.jobs_lease_secs, 2);
        assert_eq!(s.outbound_allowed_hosts, ["hooks.comune.local", "10.0.0.7"]);
        assert!(!format!("{s:?}").contains("hunter2"));
        assert_eq!(s.storage_dir(), PathBuf::from("var/files"));
    }
}
