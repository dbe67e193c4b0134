//! The one test harness: a private PostgreSQL cluster per test run, a migrated
//! template database with the demo tenants, one fresh database per test, and the
//! real application on 127.0.0.1:0.

use std::{path::PathBuf, time::Duration};

use reqwest::{header::HOST, redirect::Policy, Response};
use sportello::{
    config::Settings,
    db::{self, embedded::Cluster, DbTargets, APP_ROLE, OWNER_ROLE},
    onboarding,
    startup::Application,
    state::AppState,
    web::render::Renderer,
};
use sqlx::PgPool;
use tokio::sync::OnceCell;

const TEMPLATE_DB: &str = "sportello_template";

pub struct TestCluster {
    cluster: Cluster,
}

static CLUSTER: OnceCell<TestCluster> = OnceCell::const_new();

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Scratch space of this test process, under the system temp dir so that the
/// unprivileged cluster owner can reach it wherever the checkout lives.
pub fn scratch() -> PathBuf {
    std::env::temp_dir().join("sportello-tests").join(std::process::id().to_string())
}

/// Removes the scratch folders of test runs that are no longer running.
fn sweep_old_scratch() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir().join("sportello-tests")) else { return };
    for entry in entries.flatten() {
        let pid = entry.file_name().to_string_lossy().to_string();
        if !PathBuf::from("/proc").join(&pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Settings as production would have them, pointed at this checkout.
pub fn test_settings() -> Settings {
    let root = root();
    Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        tenants_dir: root.join("tenants"),
        themes_dir: root.join("themes"),
        locales_dir: root.join("locales"),
        design_system_dir: root.join(Settings::default().design_system_dir),
        data_dir: scratch(),
        // Background jobs: a dead worker's job is retaken after 2 s, retries
        // start after 1 s, idle workers look every second.
        jobs_lease_secs: 2,
        jobs_backoff_secs: 1,
        jobs_poll_secs: 1,
        ..Settings::default()
    }
}

async fn cluster() -> &'static TestCluster {
    CLUSTER
        .get_or_init(|| async {
            sportello::telemetry::init_with_default("warn");
            sweep_old_scratch();
            let dir = scratch().join("pg");
            std::fs::create_dir_all(&dir).unwrap();
            let cluster = Cluster::start(&dir, true).await.expect("starting the test PostgreSQL cluster");
            db::bootstrap_roles(&cluster.superuser()).await.unwrap();
            db::create_database(&cluster.superuser(), TEMPLATE_DB, None).await.unwrap();
            let admin = db::connect(&cluster.options(OWNER_ROLE, TEMPLATE_DB), 2).await.unwrap();
            sportello::startup::migrate(&admin).await.unwrap();
            let settings = test_settings();
            let renderer = Renderer::load(&settings.themes_dir, &settings.locales_dir).unwrap();
            for dir in onboarding::tenant_dirs(&settings.tenants_dir).unwrap() {
                let recipe = onboarding::TenantRecipe::load(&dir, renderer.themes(), &renderer.languages()).unwrap();
                onboarding::apply(&admin, &recipe, &settings.base_domain).await.unwrap();
            }
            admin.close().await;
            TestCluster { cluster }
        })
        .await
}

/// A database of its own for one test, copied from the migrated template.
pub struct TestDb {
    pub name: String,
    pub targets: DbTargets,
    /// Owner role: for onboarding and for setting up fixtures.
    pub admin: PgPool,
    /// Runtime role: what the application itself connects as.
    pub app: PgPool,
    pub socket_dir_url: String,
}

pub async fn test_db() -> TestDb {
    let cluster = &cluster().await.cluster;
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    db::create_database(&cluster.superuser(), &name, Some(TEMPLATE_DB)).await.unwrap();
    open_test_db(cluster, name).await
}

/// A migrated database with no tenant at all: where a recipe is onboarded
/// for the first time (the template already holds the repository's tenants).
pub async fn empty_db() -> TestDb {
    let cluster = &cluster().await.cluster;
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    db::create_database(&cluster.superuser(), &name, None).await.unwrap();
    let db = open_test_db(cluster, name).await;
    sportello::startup::migrate(&db.admin).await.unwrap();
    db
}

async fn open_test_db(cluster: &Cluster, name: String) -> TestDb {
    let targets = DbTargets { app: cluster.options(APP_ROLE, &name), admin: cluster.options(OWNER_ROLE, &name) };
    let socket = scratch().join("pg").join("run");
    TestDb {
        admin: db::connect(&targets.admin, 4).await.unwrap(),
        app: db::connect(&targets.app, 4).await.unwrap(),
        socket_dir_url: format!("host={}", socket.display()),
        name,
        targets,
    }
}

impl TestDb {
    /// `postgres://` URL for `role` (used to drive the CLI binary).
    pub fn url(&self, role: &str) -> String {
        format!("postgres://{role}@localhost/{}?{}", self.name, self.socket_dir_url)
    }
}

pub struct TestApp {
    pub port: u16,
    /// Port of the built-in TLS listener, when the settings ask for one.
    pub tls_port: Option<u16>,
    pub db: TestDb,
    /// The running application's state: for domain functions other features
    /// will drive over HTTP (the office's side, until the back office lands).
    pub state: AppState,
    pub client: reqwest::Client,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(test_settings()).await
}

pub async fn spawn_app_with(settings: Settings) -> TestApp {
    let db = test_db().await;
    let (port, tls_port, state, shutdown) = start(settings, &db.targets).await;
    TestApp { port, tls_port, db, state, client: client(), _shutdown: shutdown }
}

/// A second node on the same database, as in a scaled-out deployment.
pub async fn spawn_node(db: &TestDb) -> (u16, tokio::sync::oneshot::Sender<()>) {
    let (port, _, _, shutdown) = start(test_settings(), &db.targets).await;
    (port, shutdown)
}

async fn start(
    settings: Settings,
    targets: &DbTargets,
) -> (u16, Option<u16>, AppState, tokio::sync::oneshot::Sender<()>) {
    let app = Application::build(settings, targets).await.expect("building the application");
    let (port, tls_port, state) = (app.port(), app.tls_port(), app.state().clone());
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(app.run_until(async move {
        let _ = rx.await;
    }));
    (port, tls_port, state, tx)
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .cookie_store(true)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

impl TestApp {
    /// GET `path` as a browser asking for `host` would.
    pub async fn get(&self, host: &str, path: &str) -> Response {
        get_on(&self.client, self.port, host, path).await
    }

    pub async fn get_with(&self, host: &str, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = self.client.get(format!("http://127.0.0.1:{}{path}", self.port)).header(HOST, host);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }
}

impl TestApp {
    pub async fn tenant_id_of(&self, slug: &str) -> uuid::Uuid {
        sqlx::query_scalar("select id from tenants where slug = $1").bind(slug).fetch_one(&self.db.admin).await.unwrap()
    }
}

pub async fn get_on(client: &reqwest::Client, port: u16, host: &str, path: &str) -> Response {
    client.get(format!("http://127.0.0.1:{port}{path}")).header(HOST, host).send().await.unwrap()
}

/// Every page must have rendered all its messages.
pub fn assert_translated(html: &str) {
    assert!(!html.contains(sportello::web::render::MISSING_MARK), "a message is missing from locales/it.toml");
}

/// A browser on one host: keeps its cookies (including `Secure` ones, which
/// browsers keep on `localhost` hosts too), sends `Origin` on POST like browsers
/// do, and never follows redirects.
#[derive(Clone)]
pub struct Browser {
    pub host: String,
    pub port: u16,
    client: reqwest::Client,
    pub cookies: std::collections::BTreeMap<String, String>,
}

impl Browser {
    pub fn new(app: &TestApp, host: &str) -> Self {
        Self::on_port(app.port, host)
    }

    pub fn on_port(port: u16, host: &str) -> Self {
        Self { host: host.to_string(), port, client: client(), cookies: Default::default() }
    }

    /// The same browser with a client that waits up to `secs` for an answer
    /// (for tests that queue many requests on purpose; not a speed check).
    pub fn patient(mut self, secs: u64) -> Self {
        self.client = reqwest::Client::builder()
            .redirect(Policy::none())
            .cookie_store(true)
            .timeout(Duration::from_secs(secs))
            .build()
            .unwrap();
        self
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn keep_cookies(&mut self, response: &Response) {
        for value in response.headers().get_all(reqwest::header::SET_COOKIE) {
            let value = value.to_str().unwrap();
            let (pair, attributes) = value.split_once(';').unwrap_or((value, ""));
            let (name, val) = pair.split_once('=').unwrap();
            // The pending-SAML cookie cannot be Secure on plain-http development hosts.
            let secure_expected = !name.starts_with("sportello_saml");
            assert!(
                attributes.contains("HttpOnly")
                    && (attributes.contains("Secure") || !secure_expected)
                    && attributes.contains("SameSite"),
                "{value}"
            );
            assert!(!attributes.to_lowercase().contains("domain="), "cookies are host-only: {value}");
            if val.is_empty() || attributes.contains("Max-Age=0") {
                self.cookies.remove(name.trim());
            } else {
                self.cookies.insert(name.trim().to_string(), val.to_string());
            }
        }
    }

    pub async fn get(&mut self, path: &str) -> Response {
        self.get_with(path, &[]).await
    }

    /// GET with extra headers (what a reverse proxy would add).
    pub async fn get_with(&mut self, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = self
            .client
            .get(format!("http://127.0.0.1:{}{path}", self.port))
            .header(HOST, &self.host)
            .header(reqwest::header::COOKIE, self.cookie_header());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        self.keep_cookies(&response);
        response
    }

    pub async fn get_text(&mut self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.text().await.unwrap()
    }

    /// POSTs a form with the CSRF token this browser holds.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let token = self.cookies.get("sportello_csrf").cloned().unwrap_or_default();
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf_token", &token));
        self.post_raw(path, &form, true).await
    }

    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)], with_origin: bool) -> Response {
        let mut request = self
            .client
            .post(format!("http://127.0.0.1:{}{path}", self.port))
            .header(HOST, &self.host)
            .header(reqwest::header::COOKIE, self.cookie_header())
            .form(fields);
        if with_origin {
            request = request.header(reqwest::header::ORIGIN, format!("http://{}", self.host));
        }
        let response = request.send().await.unwrap();
        self.keep_cookies(&response);
        response
    }
}

impl Browser {
    /// POSTs a multipart form (files) the way our pages do: the CSRF token in
    /// the action's query, since the body streams past the CSRF check.
    pub async fn post_multipart(&mut self, path: &str, form: reqwest::multipart::Form) -> Response {
        let token = self.cookies.get("sportello_csrf").cloned().unwrap_or_default();
        let response = self
            .client
            .post(format!("http://127.0.0.1:{}{path}?csrf_token={token}", self.port))
            .header(HOST, &self.host)
            .header(reqwest::header::COOKIE, self.cookie_header())
            .header(reqwest::header::ORIGIN, format!("http://{}", self.host))
            .multipart(form)
            .send()
            .await
            .unwrap();
        self.keep_cookies(&response);
        response
    }
}

pub fn location(response: &Response) -> String {
    response.headers().get(reqwest::header::LOCATION).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
}

/// Copies a tenant recipe (or any folder) to edit it in a test.
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------
// S3: s3s-fs (installed by `scripts/setup.sh --test`), a real S3 API that checks
// SigV4 signatures, so the tests run the same aws-sdk-s3 code as production.

pub const S3_ACCESS_KEY: &str = "sportello-test";
pub const S3_SECRET_KEY: &str = "sportello-test-secret";

/// The s3s-fs binary: `$S3S_FS`, cargo's bin folder, or the PATH.
fn s3s_fs_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("S3S_FS") {
        return path.into();
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    match cargo_home.map(|c| c.join("bin/s3s-fs")).filter(|p| p.exists()) {
        Some(path) => path,
        None => "s3s-fs".into(),
    }
}

/// Children are forked from one thread that lives as long as the process: the
/// parent-death signal fires when the *thread* that forked exits, and each test's
/// runtime threads end with the test.
fn spawn_from_long_lived_thread(command: std::process::Command) -> std::io::Result<std::process::Child> {
    type Request = (std::process::Command, std::sync::mpsc::Sender<std::io::Result<std::process::Child>>);
    static SPAWNER: std::sync::OnceLock<std::sync::Mutex<std::sync::mpsc::Sender<Request>>> =
        std::sync::OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Request>();
        std::thread::Builder::new()
            .name("test-services-parent".into())
            .spawn(move || {
                for (mut command, reply) in rx {
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("spawning the services thread");
        std::sync::Mutex::new(tx)
    });
    let (reply, answer) = std::sync::mpsc::channel();
    spawner.lock().unwrap().send((command, reply)).map_err(|_| std::io::Error::other("spawner thread gone"))?;
    answer.recv().map_err(|_| std::io::Error::other("spawner thread gone"))?
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One s3s-fs process serving `dir` on a loopback port; killed when dropped (and with
/// the test process, by its parent-death signal).
pub struct S3Server {
    pub port: u16,
    pub dir: PathBuf,
    child: Option<std::process::Child>,
}

impl S3Server {
    /// A server of its own, on a fresh port and directory: for tests that kill it.
    pub async fn start_private() -> S3Server {
        let dir = scratch().join("s3-private").join(uuid::Uuid::new_v4().simple().to_string());
        Self::start(dir, free_port()).await
    }

    pub async fn start(dir: PathBuf, port: u16) -> S3Server {
        std::fs::create_dir_all(&dir).unwrap();
        let mut server = S3Server { port, dir, child: None };
        server.launch().await;
        server
    }

    async fn launch(&mut self) {
        use std::os::unix::process::CommandExt;
        let binary = s3s_fs_binary();
        let mut command = std::process::Command::new(&binary);
        command
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", S3_ACCESS_KEY, "--secret-key", S3_SECRET_KEY])
            .arg(&self.dir)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        unsafe {
            command.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).map_err(std::io::Error::from)
            });
        }
        let mut child = spawn_from_long_lived_thread(command)
            .unwrap_or_else(|e| panic!("starting {} ({e}): run scripts/setup.sh --test", binary.display()));
        for _ in 0..400 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_ok() {
                self.child = Some(child);
                return;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("s3s-fs exited with {status}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("s3s-fs did not listen on port {} within 10 s", self.port);
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SIGKILL, as a crash or a pulled cable would look to the client.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts again on the same port and directory.
    pub async fn restart(&mut self) {
        self.kill();
        self.launch().await;
    }

    /// A raw client, to create buckets and to look behind the store's back.
    pub fn client(&self) -> aws_sdk_s3::Client {
        use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(self.endpoint())
            .force_path_style(true)
            .credentials_provider(Credentials::new(S3_ACCESS_KEY, S3_SECRET_KEY, None, None, "tests"))
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// A fresh bucket, and settings that point the store at it.
    pub async fn bucket_settings(&self) -> Settings {
        let bucket = format!("t-{}", uuid::Uuid::new_v4().simple());
        self.client().create_bucket().bucket(&bucket).send().await.expect("creating a test bucket");
        Settings {
            storage_backend: "s3".into(),
            s3_endpoint: Some(self.endpoint()),
            s3_bucket: Some(bucket),
            s3_access_key: Some(S3_ACCESS_KEY.into()),
            s3_secret_key: Some(sportello::config::Secret::new(S3_SECRET_KEY)),
            ..test_settings()
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.kill();
    }
}

static S3: OnceCell<S3Server> = OnceCell::const_new();

/// The S3 server shared by the whole test process (started on first use).
pub async fn s3_server() -> &'static S3Server {
    S3.get_or_init(|| async {
        sweep_old_scratch();
        S3Server::start(scratch().join("s3"), free_port()).await
    })
    .await
}

/// Settings for the S3 backend on a fresh bucket of the shared server.
pub async fn s3_settings() -> Settings {
    s3_server().await.bucket_settings().await
}

/// Settings for the local backend on a fresh directory.
pub fn local_storage_settings() -> Settings {
    Settings {
        storage_backend: "local".into(),
        storage_dir: Some(scratch().join("files").join(uuid::Uuid::new_v4().simple().to_string())),
        ..test_settings()
    }
}

/// Connection options of the test cluster's superuser on database `name`: for
/// tests that prove what a careless setting would do.
pub async fn superuser_options(name: &str) -> sqlx::postgres::PgConnectOptions {
    cluster().await.cluster.superuser().database(name)
}

/// A message the code returned, in Italian (the repository's locales).
pub fn italian(text: &sportello::i18n::Text) -> String {
    sportello::i18n::Catalogues::load(&root().join("locales")).unwrap().text("it", text)
}

/// Polls `check` every 100 ms for up to `secs` seconds.
pub async fn wait_for<T>(secs: u64, what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..secs * 10 {
        if let Some(value) = check().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: not within {secs} s");
}

/// What a webhook receiver was sent.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// Path and query.
    pub path: String,
    pub idempotency_key: Option<String>,
    /// The JSON body (`null` when it was none).
    pub body: serde_json::Value,
}

/// A webhook receiver on 127.0.0.1 (any path) that counts every TCP connection
/// it accepts (whatever is then said on it) and keeps every request. The first
/// `failures` requests get a 503, the others a 204.
#[derive(Default)]
pub struct WebhookReceiver {
    failures: usize,
    connections: std::sync::atomic::AtomicUsize,
    deliveries: std::sync::Mutex<Vec<Delivery>>,
}

impl WebhookReceiver {
    /// The receiver, listening, and its port.
    pub async fn start(failures: usize) -> (u16, std::sync::Arc<Self>) {
        use axum::serve::ListenerExt;
        let receiver = std::sync::Arc::new(Self { failures, ..Default::default() });
        let app = axum::Router::new().route("/{*path}", axum::routing::post(receive)).with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let counter = receiver.clone();
        let listener = listener.tap_io(move |_| {
            counter.connections.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (port, receiver)
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.deliveries.lock().unwrap().clone()
    }

    pub fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }
}

async fn receive(
    axum::extract::State(receiver): axum::extract::State<std::sync::Arc<WebhookReceiver>>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::http::StatusCode {
    let delivery = Delivery {
        path: uri.path_and_query().map(|p| p.to_string()).unwrap_or_default(),
        idempotency_key: headers.get("idempotency-key").map(|v| v.to_str().unwrap().to_string()),
        body: serde_json::from_slice(&body).unwrap_or_default(),
    };
    let mut deliveries = receiver.deliveries.lock().unwrap();
    deliveries.push(delivery);
    if deliveries.len() <= receiver.failures {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    } else {
        axum::http::StatusCode::NO_CONTENT
    }
}

/// The job queue's task carrying `(kind, key)` of `tenant`, if it was ever enqueued.
pub async fn task_of(app: &TestApp, tenant: uuid::Uuid, kind: &str, key: &str) -> Option<uuid::Uuid> {
    let mut tx = db::TenantTx::begin(&app.db.admin, tenant).await.unwrap();
    let id: Option<Option<uuid::Uuid>> =
        sqlx::query_scalar("select task_id from job_keys where kind = $1 and key = $2")
            .bind(kind)
            .bind(key)
            .fetch_optional(tx.conn())
            .await
            .unwrap();
    tx.commit().await.unwrap();
    id.map(|id| id.expect("the key names its task"))
}

/// The state of a task of the job queue.
pub async fn task_state(app: &TestApp, task: uuid::Uuid) -> String {
    sqlx::query_scalar("select state::text from underway.task where id = $1")
        .bind(task)
        .fetch_one(&app.db.admin)
        .await
        .unwrap()
}

/// Whether `html` carries, in a form's `csrf_token` field, the token of the
/// `cookie` (pages mask it with a fresh pad each time: src/auth/csrf.rs).
pub fn carries_csrf_token(html: &str, cookie: &str) -> bool {
    html.split(r#"name="csrf_token" value=""#)
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .any(|value| sportello::auth::csrf::matches(value, cookie))
}

/// Runs a browser script of `tests/browser/` with node (installed by
/// scripts/setup.sh) off the async threads; its JSON report on stdout, after
/// asserting that it succeeded (the report and stderr are in the message).
pub async fn browser_script(script: &str, args: Vec<String>) -> String {
    let path = root().join("tests/browser").join(script);
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(path)
            .args(&args)
            .current_dir(root())
            .output()
            .expect("node (installed by scripts/setup.sh)")
    })
    .await
    .unwrap();
    let report = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "{script} failed:\n{report}\n{}", String::from_utf8_lossy(&output.stderr));
    report
}

/// Runs the `sportello` command line against `app`'s database, as an operator
/// would; its standard output (the command must succeed).
pub fn sportello_cli(app: &TestApp, args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sportello"))
        .args(args)
        .current_dir(root())
        .env("DATABASE_URL", app.db.url("sportello_app"))
        .env("DATABASE_ADMIN_URL", app.db.url("sportello_owner"))
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "{args:?}: {stdout} {}", String::from_utf8_lossy(&output.stderr));
    stdout
}
