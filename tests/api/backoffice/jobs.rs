//! Background jobs on PostgreSQL, with real parts: the `sportello worker` binary
//! as worker processes, an aiosmtpd SMTP server writing a Maildir, a local HTTP
//! server as the webhook receiver. Waits poll with generous bounds; nothing here
//! measures speed.

use std::{
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use sportello::{
    config::{Secret, Settings},
    db::TenantTx,
    jobs::{self, webhook},
    notify,
};
use uuid::Uuid;

use crate::helpers::{
    root, scratch, spawn_app_with, task_of, task_state, test_settings, wait_for, TestApp, WebhookReceiver,
};

/// Settings of an app with short job timings (the same for every test app: they
/// are written on each job row by whichever app enqueues it), whose webhooks may
/// reach the loopback receiver.
fn job_settings() -> Settings {
    let settings = Settings { outbound_allowed_hosts: vec!["127.0.0.1".into()], ..test_settings() };
    assert_eq!((settings.jobs_lease_secs, settings.jobs_backoff_secs, settings.jobs_poll_secs), (2, 1, 1));
    settings
}

// ---------------------------------------------------------------------------
// The SMTP sink that stalls the first RCPT (infra/test/smtp/stalling_sink.py).

struct StallingSmtp {
    child: Child,
    port: u16,
    maildir: PathBuf,
    marker: PathBuf,
}

impl Drop for StallingSmtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_stalling_smtp() -> StallingSmtp {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = scratch().join(format!("stalling-smtp-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let (maildir, marker) = (dir.join("maildir"), dir.join("stalling"));
    let mut child = Command::new(root().join(".venv-test/bin/python"))
        .arg(root().join("infra/test/smtp/stalling_sink.py"))
        .args(["--port", &port.to_string(), "--stall", "30"])
        .arg("--maildir")
        .arg(&maildir)
        .arg("--marker")
        .arg(&marker)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the aiosmtpd venv (scripts/setup.sh --test installs it)");
    for _ in 0..300 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return StallingSmtp { child, port, maildir, marker };
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the stalling SMTP sink exited: {status}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the stalling SMTP sink did not listen within 30 s");
}

fn maildir_messages(maildir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(maildir.join("new")) else { return Vec::new() };
    entries.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok()).collect()
}

// ---------------------------------------------------------------------------
// `sportello worker` processes.

struct WorkerProcess(Child);

impl WorkerProcess {
    fn start(app: &TestApp, smtp_port: u16, name: &str) -> Self {
        let log =
            std::fs::File::create(scratch().join(format!("worker-{name}-{}.log", Uuid::new_v4().simple()))).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_sportello"));
        command
            .arg("worker")
            .current_dir(root())
            .env("DATABASE_URL", app.db.url("sportello_app"))
            .env("DATABASE_ADMIN_URL", app.db.url("sportello_owner"))
            .env("SPORTELLO_DATA_DIR", scratch())
            .env("SMTP_URL", format!("smtp://127.0.0.1:{smtp_port}"))
            .env("SPORTELLO_JOBS_LEASE_SECS", "2")
            .env("SPORTELLO_JOBS_BACKOFF_SECS", "1")
            .env("SPORTELLO_JOBS_POLL_SECS", "1")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        // Never outlive the test.
        unsafe {
            command.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).map_err(std::io::Error::from)
            });
        }
        Self(command.spawn().expect("starting sportello worker"))
    }

    /// SIGKILL: the process dies wherever it is, as in a crash or an OOM kill.
    fn kill(&mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }

    /// SIGTERM, then waits: a graceful stop exits with success.
    async fn stop(mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        wait_for(60, "the worker stops on SIGTERM", async || self.0.try_wait().unwrap()).await
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// ---------------------------------------------------------------------------
// Looking at the queue (as the owner, inside the tenant's scope for our tables).

/// Tasks whose input carries this key, whatever our key table says.
async fn tasks_with_key(app: &TestApp, key: &str) -> i64 {
    sqlx::query_scalar("select count(*) from underway.task where input->>'key' = $1")
        .bind(key)
        .fetch_one(&app.db.admin)
        .await
        .unwrap()
}

/// Attempts of a task: (attempt number, state, started, completed).
async fn attempts(
    app: &TestApp,
    task: Uuid,
) -> Vec<(i32, String, chrono::DateTime<chrono::Utc>, Option<chrono::DateTime<chrono::Utc>>)> {
    sqlx::query_as(
        "select attempt_number, state::text, started_at, completed_at from underway.task_attempt
         where task_id = $1 order by attempt_number",
    )
    .bind(task)
    .fetch_all(&app.db.admin)
    .await
    .unwrap()
}

/// The loopback receiver and the URL of its hook.
async fn hook_receiver(failures: usize) -> (String, std::sync::Arc<WebhookReceiver>) {
    let (port, receiver) = WebhookReceiver::start(failures).await;
    (format!("http://127.0.0.1:{port}/hook"), receiver)
}

async fn enqueue_committed(app: &TestApp, tenant: Uuid, job: jobs::NewJob) -> bool {
    let mut tx = TenantTx::begin(&app.state.db, tenant).await.unwrap();
    let fresh = jobs::enqueue(&mut tx, job).await.unwrap();
    tx.commit().await.unwrap();
    fresh
}

// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_worker_killed_mid_smtp_exchange_is_replaced_and_the_mail_is_sent_exactly_once() {
    let smtp = start_stalling_smtp();
    // The app only enqueues: the workers are separate `sportello worker` processes.
    let settings = Settings {
        jobs_in_process: false,
        smtp_url: Some(Secret::new(format!("smtp://127.0.0.1:{}", smtp.port))),
        ..job_settings()
    };
    let app = spawn_app_with(settings).await;
    let tenant = app.tenant_id_of("valmora").await;
    let mut tx = TenantTx::begin(&app.state.db, tenant).await.unwrap();
    let outbox_id = notify::queue_mail(&mut tx, "mario.bianchi@example.it", "Ricevuta", "La sua pratica è arrivata.")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let task = task_of(&app, tenant, notify::MAIL_JOB, &outbox_id.to_string()).await.expect("the delivery job");

    // Worker A takes the job and is killed while the SMTP server holds its RCPT.
    let mut first = WorkerProcess::start(&app, smtp.port, "a");
    wait_for(120, "worker A inside the SMTP exchange", async || smtp.marker.exists().then_some(())).await;
    first.kill();
    assert!(maildir_messages(&smtp.maildir).is_empty(), "nothing was transmitted before the kill");
    assert_eq!(task_state(&app, task).await, "in_progress", "the job is still held by the dead worker");

    // Worker B finds the job abandoned once its lease runs out, and delivers it.
    let second = WorkerProcess::start(&app, smtp.port, "b");
    wait_for(120, "the job done by worker B", async || (task_state(&app, task).await == "succeeded").then_some(()))
        .await;
    assert!(second.stop().await.success(), "worker B stops gracefully on SIGTERM");

    let runs = attempts(&app, task).await;
    assert_eq!(runs.len(), 2, "one attempt per worker: {runs:?}");
    assert_eq!(runs[1].1, "succeeded");
    let mut tx = TenantTx::begin(&app.db.admin, tenant).await.unwrap();
    let (sent, error): (bool, Option<String>) =
        sqlx::query_as("select sent_at is not null, last_error from mail_outbox where id = $1")
            .bind(outbox_id)
            .fetch_one(tx.conn())
            .await
            .unwrap();
    tx.commit().await.unwrap();
    assert!(sent && error.is_none());

    // Exactly once, told by the Message-ID derived from the outbox row.
    let message_id = format!("<{}@sportello.localhost>", outbox_id.simple());
    let messages = maildir_messages(&smtp.maildir);
    let copies = messages.iter().filter(|m| m.contains(&format!("Message-ID: {message_id}"))).count();
    assert_eq!(copies, 1, "{} message(s) in the Maildir: {messages:?}", messages.len());
    assert_eq!(messages.len(), 1);
    assert!(messages[0].contains("To: mario.bianchi@example.it"));
}

#[tokio::test]
async fn the_same_idempotency_key_enqueued_twice_runs_once() {
    let (url, receiver) = hook_receiver(0).await;
    let app = spawn_app_with(job_settings()).await;
    let tenant = app.tenant_id_of("valmora").await;
    let key = format!("pratica-42-protocollata-{}", Uuid::new_v4().simple());
    assert!(enqueue_committed(&app, tenant, webhook::job(&url, serde_json::json!({ "n": 1 }), &key)).await);
    assert!(
        !enqueue_committed(&app, tenant, webhook::job(&url, serde_json::json!({ "n": 2 }), &key)).await,
        "the second enqueue says the key was taken"
    );
    // Within one transaction too.
    let mut tx = TenantTx::begin(&app.state.db, tenant).await.unwrap();
    let other = format!("{key}-bis");
    assert!(jobs::enqueue(&mut tx, webhook::job(&url, serde_json::json!({ "n": 3 }), &other)).await.unwrap());
    assert!(!jobs::enqueue(&mut tx, webhook::job(&url, serde_json::json!({ "n": 4 }), &other)).await.unwrap());
    tx.commit().await.unwrap();

    for key in [&key, &other] {
        let task = task_of(&app, tenant, webhook::KIND, key).await.expect("the job");
        wait_for(120, "the job done", async || (task_state(&app, task).await == "succeeded").then_some(())).await;
        assert_eq!(tasks_with_key(&app, key).await, 1, "one job for the key");
    }
    let bodies: Vec<_> = receiver.deliveries().iter().map(|d| d.body["n"].as_i64().unwrap()).collect();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    assert!(bodies.contains(&1) && bodies.contains(&3), "the first payload of each key: {bodies:?}");

    // Another ente may use the same key for its own job.
    let roccamare = app.tenant_id_of("roccamare").await;
    assert!(enqueue_committed(&app, roccamare, webhook::job(&url, serde_json::json!({ "n": 5 }), &key)).await);
}

#[tokio::test]
async fn a_failing_webhook_is_retried_with_backoff_and_the_same_idempotency_key() {
    let (url, receiver) = hook_receiver(2).await;
    let app = spawn_app_with(job_settings()).await;
    let tenant = app.tenant_id_of("roccamare").await;
    let key = format!("esito-{}", Uuid::new_v4().simple());
    assert!(enqueue_committed(&app, tenant, webhook::job(&url, serde_json::json!({ "esito": "accolta" }), &key)).await);
    let task = task_of(&app, tenant, webhook::KIND, &key).await.unwrap();
    wait_for(120, "the webhook accepted", async || (task_state(&app, task).await == "succeeded").then_some(())).await;

    let deliveries = receiver.deliveries();
    assert_eq!(deliveries.len(), 3, "two refusals, then accepted");
    for delivery in &deliveries {
        assert_eq!(
            delivery.idempotency_key.as_deref(),
            Some(key.as_str()),
            "the same Idempotency-Key on every attempt"
        );
        assert_eq!(delivery.body["esito"], "accolta");
    }
    let runs = attempts(&app, task).await;
    let states: Vec<&str> = runs.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(states, ["failed", "failed", "succeeded"]);
    // Backoff: each retry starts no sooner than the configured delay after the
    // failure before it (1 s, then 2 s), never at once.
    for (i, pair) in runs.windows(2).enumerate() {
        let failed_at = pair[0].3.expect("a finished attempt");
        let waited = pair[1].2 - failed_at;
        let least = chrono::Duration::milliseconds(1000 << i) - chrono::Duration::milliseconds(50);
        assert!(waited >= least, "retry {} after {waited} (at least {least})", i + 1);
    }
}

#[tokio::test]
async fn a_job_enqueued_in_a_transaction_that_rolls_back_never_runs() {
    let (url, receiver) = hook_receiver(0).await;
    let app = spawn_app_with(job_settings()).await;
    let tenant = app.tenant_id_of("valmora").await;
    let rolled_back = format!("annullata-{}", Uuid::new_v4().simple());
    let mut tx = TenantTx::begin(&app.state.db, tenant).await.unwrap();
    assert!(jobs::enqueue(&mut tx, webhook::job(&url, serde_json::json!({ "job": "annullata" }), &rolled_back))
        .await
        .unwrap());
    // A mail queued in the same transaction goes with it.
    notify::queue_mail(&mut tx, "nessuno@example.it", "Mai", "Mai inviata.").await.unwrap();
    tx.rollback().await.unwrap();

    // A job committed after it runs: the workers are up and have looked.
    let committed = format!("confermata-{}", Uuid::new_v4().simple());
    assert!(
        enqueue_committed(&app, tenant, webhook::job(&url, serde_json::json!({ "job": "confermata" }), &committed))
            .await
    );
    let task = task_of(&app, tenant, webhook::KIND, &committed).await.unwrap();
    wait_for(120, "the committed job done", async || (task_state(&app, task).await == "succeeded").then_some(())).await;

    assert_eq!(task_of(&app, tenant, webhook::KIND, &rolled_back).await, None, "no key");
    assert_eq!(tasks_with_key(&app, &rolled_back).await, 0, "no job");
    let total: i64 = sqlx::query_scalar("select count(*) from underway.task").fetch_one(&app.db.admin).await.unwrap();
    assert_eq!(total, 1, "only the committed job exists");
    let deliveries = receiver.deliveries();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].body["job"], "confermata");
    // The key of the rolled-back job is free again.
    assert!(
        enqueue_committed(&app, tenant, webhook::job(&url, serde_json::json!({ "job": "di nuovo" }), &rolled_back))
            .await
    );
}
