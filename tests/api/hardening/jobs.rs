//! Symptoms 7 and 8: webhooks that reach inside the network, and a database
//! that grows without bound. Real receivers on loopback prove what was (not)
//! called; the prune job runs through the queue like every other job.

use std::collections::BTreeSet;

use sportello::{
    config::Settings,
    db::TenantTx,
    jobs::{self, webhook},
    procedure::{
        engine::{self, Operator, TransitionInput},
        store as cases_db,
        workflow::{Action, Workflow},
    },
};
use uuid::Uuid;

use crate::{
    auth::VALMORA,
    cases::{citizen, submitted_case, GENERIC},
    helpers::{
        local_storage_settings, spawn_app_with, task_of, task_state, test_settings, wait_for, TestApp, WebhookReceiver,
    },
};

async fn enqueue_committed(app: &TestApp, tenant: Uuid, job: jobs::NewJob) {
    let mut tx = TenantTx::begin(&app.state.db, tenant).await.unwrap();
    assert!(jobs::enqueue(&mut tx, job).await.unwrap());
    tx.commit().await.unwrap();
}

/// (state, error) of each attempt of `task`.
async fn attempts(app: &TestApp, task: Uuid) -> Vec<(String, Option<String>)> {
    sqlx::query_as(
        "select state::text, error_message from underway.task_attempt where task_id = $1 order by attempt_number",
    )
    .bind(task)
    .fetch_all(&app.db.admin)
    .await
    .unwrap()
}

/// Waits until `task` is done one way or the other; its final state.
async fn finished(app: &TestApp, task: Uuid) -> String {
    wait_for(60, "the job finished", async || {
        let state = task_state(app, task).await;
        matches!(state.as_str(), "succeeded" | "failed" | "cancelled").then_some(state)
    })
    .await
}

fn allowing(hosts: &[&str]) -> Settings {
    Settings { outbound_allowed_hosts: hosts.iter().map(|h| h.to_string()).collect(), ..test_settings() }
}

// ---------------------------------------------------------------------------
// Symptom 7: webhooks.

#[tokio::test]
async fn webhooks_to_loopback_private_or_link_local_addresses_are_refused_at_once_and_never_called() {
    let (port, receiver) = WebhookReceiver::start(0).await;
    let app = spawn_app_with(test_settings()).await;
    let tenant = app.tenant_id_of("valmora").await;
    let token = "tok-6f1d2c";
    let destinations = [
        // The receiver itself, by every road: a literal, a name resolving to
        // loopback, an IPv4-mapped IPv6 literal, over http and https.
        format!("http://127.0.0.1:{port}/hook?sig={token}"),
        format!("https://127.0.0.1:{port}/hook?sig={token}"),
        format!("https://localhost:{port}/hook?sig={token}"),
        format!("https://[::ffff:127.0.0.1]:{port}/hook?sig={token}"),
        format!("http://[::ffff:7f00:1]:{port}/hook?sig={token}"),
        // The cloud metadata service and a private network.
        format!("https://169.254.169.254/latest/meta-data/?sig={token}"),
        format!("https://10.1.2.3:{port}/hook?sig={token}"),
        // A public host, but in plain http.
        format!("http://example.com/hook?sig={token}"),
    ];
    let mut tasks = Vec::new();
    for (i, url) in destinations.iter().enumerate() {
        let key = format!("ssrf-{i}-{}", Uuid::new_v4().simple());
        enqueue_committed(&app, tenant, webhook::job(url, serde_json::json!({ "n": i }), &key)).await;
        tasks.push((url, task_of(&app, tenant, webhook::KIND, &key).await.expect("the job")));
    }
    for (url, task) in &tasks {
        assert_eq!(finished(&app, *task).await, "failed", "{url}: a permanent failure");
        let runs = attempts(&app, *task).await;
        assert_eq!(runs.len(), 1, "{url}: refused once, never retried: {runs:?}");
        let error = runs[0].1.clone().unwrap_or_default();
        assert!(error.contains("refused"), "{url}: the attempt says why: {error:?}");
        assert!(!error.contains(token) && !error.contains("/hook"), "{url}: no path or query in {error:?}");
    }
    assert_eq!(receiver.connections(), 0, "the receiver was never even connected to");
    assert!(receiver.deliveries().is_empty());
}

#[tokio::test]
async fn hosts_on_the_outbound_allow_list_are_called_even_on_loopback_and_in_plain_http() {
    let (port, receiver) = WebhookReceiver::start(0).await;
    let app = spawn_app_with(allowing(&["127.0.0.1", "LocalHost"])).await;
    let tenant = app.tenant_id_of("valmora").await;
    for url in [format!("http://127.0.0.1:{port}/a"), format!("http://localhost:{port}/b")] {
        let key = format!("allowed-{}", Uuid::new_v4().simple());
        enqueue_committed(&app, tenant, webhook::job(&url, serde_json::json!({}), &key)).await;
        let task = task_of(&app, tenant, webhook::KIND, &key).await.expect("the job");
        assert_eq!(finished(&app, task).await, "succeeded", "{url}");
    }
    let paths: BTreeSet<String> = receiver.deliveries().into_iter().map(|d| d.path).collect();
    assert_eq!(paths, BTreeSet::from(["/a".to_string(), "/b".to_string()]));
}

/// Every table (in the ente's scope) whose rows mention `needle`.
async fn tables_mentioning(app: &TestApp, tenant: Uuid, needle: &str) -> BTreeSet<String> {
    let tables: Vec<(String, String)> = sqlx::query_as(
        "select table_schema, table_name from information_schema.tables
         where table_schema in ('public', 'underway') and table_type = 'BASE TABLE'",
    )
    .fetch_all(&app.db.admin)
    .await
    .unwrap();
    let mut found = BTreeSet::new();
    let mut tx = TenantTx::begin(&app.db.admin, tenant).await.unwrap();
    for (schema, table) in tables {
        let hits: i64 = sqlx::query_scalar(&format!(
            "select count(*) from \"{schema}\".\"{table}\" t where strpos(t::text, $1) > 0"
        ))
        .bind(needle)
        .fetch_one(tx.conn())
        .await
        .unwrap();
        if hits > 0 {
            found.insert(format!("{schema}.{table}"));
        }
    }
    tx.commit().await.unwrap();
    found
}

#[tokio::test]
async fn a_long_webhook_url_with_a_token_transitions_the_case_and_the_token_stays_in_the_url() {
    // The first delivery is refused (503): an attempt error is recorded too.
    let (port, receiver) = WebhookReceiver::start(1).await;
    let app =
        spawn_app_with(Settings { outbound_allowed_hosts: vec!["127.0.0.1".into()], ..local_storage_settings() }).await;
    let tenant = app.tenant_id_of("valmora").await;
    // A Power Automate URL is about 400 characters, its signature in the query.
    let token = "Zq3sGv9xK2mP7tR1wY5uB8nE4cH6jL0aDfSgTiOp";
    let path = format!(
        "/workflows/{}/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={token}",
        "a1b2c3d4e5f6".repeat(20)
    );
    let url = format!("http://127.0.0.1:{port}{path}");
    assert!(url.len() >= 400, "{}", url.len());

    let mut workflow = Workflow::standard();
    let status = workflow.statuses.iter_mut().find(|s| s.key == "in_istruttoria").unwrap();
    status.on_enter.push(Action::Webhook(url.clone()));
    workflow.check(&[]).expect("a valid workflow");
    let mut owner = TenantTx::begin(&app.db.admin, tenant).await.unwrap();
    sqlx::query("update procedures set workflow = $1 where slug = $2")
        .bind(sqlx::types::Json(&workflow))
        .bind(GENERIC)
        .execute(owner.conn())
        .await
        .unwrap();
    owner.commit().await.unwrap();

    let mut maria = citizen(&app, VALMORA, "maria@example.it", "347 123 4567").await;
    let case = submitted_case(&app, &mut maria).await;
    let tenant_row = crate::cases::tenant_of(&app, VALMORA).await;
    let mut tx = TenantTx::begin(&app.state.db, tenant).await.unwrap();
    let locked = cases_db::case_by_id(&mut tx, case, true).await.unwrap().unwrap();
    let input = TransitionInput { reason: String::new(), due_date: None };
    engine::run_transition(
        app.state.env(),
        &tenant_row,
        &mut tx,
        &locked,
        "prendi_in_carico",
        &Operator::system(),
        &input,
    )
    .await
    .expect("the transition with a long webhook URL");
    tx.commit().await.unwrap();

    // Delivered, to the whole URL, on the second attempt.
    let delivery = wait_for(60, "the webhook delivered", async || {
        let deliveries = receiver.deliveries();
        (deliveries.len() == 2).then(|| deliveries[1].clone())
    })
    .await;
    assert_eq!(delivery.path, path, "the receiver got the URL as configured");
    let key = delivery.idempotency_key.expect("an Idempotency-Key");
    assert!(key.starts_with(&case.to_string()) && key.len() < 300, "{key}");
    let task = task_of(&app, tenant, webhook::KIND, &key).await.expect("the job");
    assert_eq!(finished(&app, task).await, "succeeded");
    let runs = attempts(&app, task).await;
    assert_eq!(runs.len(), 2);
    assert!(runs[0].1.as_deref().is_some_and(|e| e.contains("503")), "{runs:?}");

    // The token is only where the URL must be: the workflow (the procedure's
    // and the case's copy) and the job's payload. No key, event, attempt
    // error or audit entry holds it.
    let expected = BTreeSet::from(["public.procedures", "public.cases", "underway.task"].map(String::from));
    assert_eq!(tables_mentioning(&app, tenant, token).await, expected);
    let events: Vec<(String, serde_json::Value)> = {
        let mut tx = TenantTx::begin(&app.db.admin, tenant).await.unwrap();
        let rows =
            sqlx::query_as("select summary, data from case_events where case_id = $1 and kind = 'internal_webhook'")
                .bind(case)
                .fetch_all(tx.conn())
                .await
                .unwrap();
        tx.commit().await.unwrap();
        rows
    };
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, "Notifica a 127.0.0.1");
}

// ---------------------------------------------------------------------------
// Symptom 8: pruning.

/// Rows of every kind the prune job looks after, each labelled: `expired-…`
/// ones must go, `live-…` ones must stay.
async fn plant(app: &TestApp, tenant: Uuid) {
    let mut tx = TenantTx::begin(&app.db.admin, tenant).await.unwrap();
    let user = Uuid::new_v4();
    sqlx::query("insert into users (tenant_id, id) values ($1, $2)")
        .bind(tenant)
        .bind(user)
        .execute(tx.conn())
        .await
        .unwrap();
    for (label, expires) in [("expired-flow", "-1 minute"), ("live-flow", "10 minutes")] {
        sqlx::query(
            "insert into login_flows (tenant_id, token_hash, kind, expires_at) values ($1, $2, $3, now() + $4::interval)",
        )
        .bind(tenant)
        .bind(Uuid::new_v4().as_bytes().to_vec())
        .bind(label)
        .bind(expires)
        .execute(tx.conn())
        .await
        .unwrap();
    }
    for (label, expires, seen) in [
        ("expired-session", "-1 minute", "-2 minutes"),
        // Idle for longer than sessions may idle: dead although not expired.
        ("expired-idle-session", "10 hours", "-2 hours"),
        ("live-session", "10 hours", "-1 minute"),
    ] {
        sqlx::query(
            "insert into sessions (tenant_id, token_hash, user_id, method, level, expires_at, last_seen_at, user_agent)
             values ($1, $2, $3, 'password', 1, now() + $4::interval, now() + $5::interval, $6)",
        )
        .bind(tenant)
        .bind(Uuid::new_v4().as_bytes().to_vec())
        .bind(user)
        .bind(expires)
        .bind(seen)
        .bind(label)
        .execute(tx.conn())
        .await
        .unwrap();
    }
    for (label, expires) in [
        ("expired-otp", "-3 days"),
        // Expired, but still counted by the per-destination limits.
        ("live-otp-expired-today", "-1 hour"),
        ("live-otp", "5 minutes"),
    ] {
        sqlx::query(
            "insert into otp_codes (tenant_id, id, user_id, purpose, destination, code_hash, expires_at, created_at)
             values ($1, $2, $3, 'login', $4, 'x', now() + $5::interval, now() + $5::interval - interval '5 minutes')",
        )
        .bind(tenant)
        .bind(Uuid::new_v4())
        .bind(user)
        .bind(label)
        .bind(expires)
        .execute(tx.conn())
        .await
        .unwrap();
    }
    for (label, expires) in [
        ("expired-assertion", "-2 hours"),
        // Just past its validity: within the clock skew a response is still accepted.
        ("live-assertion-just-expired", "-1 minute"),
        ("live-assertion", "5 minutes"),
    ] {
        sqlx::query(
            "insert into saml_replay (tenant_id, assertion_id, expires_at) values ($1, $2, now() + $3::interval)",
        )
        .bind(tenant)
        .bind(label)
        .bind(expires)
        .execute(tx.conn())
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();

    // Job records: enqueued far in the future (no worker takes them), then
    // made into what they should look like.
    for (label, state, age) in [
        ("expired-job-succeeded", "succeeded", "8 days"),
        ("live-job-succeeded", "succeeded", "6 days"),
        ("expired-job-failed", "failed", "31 days"),
        ("live-job-failed", "failed", "20 days"),
        ("live-job-pending", "pending", "40 days"),
        ("live-job-in-progress", "in_progress", "40 days"),
    ] {
        let job = jobs::NewJob {
            kind: "test.planted",
            key: label.into(),
            payload: serde_json::json!({}),
            run_at: Some(chrono::Utc::now() + chrono::Duration::days(365)),
        };
        enqueue_committed(app, tenant, job).await;
        let task = task_of(app, tenant, "test.planted", label).await.expect("the job");
        sqlx::query(
            "update underway.task set state = $2::underway.task_state, created_at = now() - $3::interval,
                 updated_at = now() - $3::interval, last_heartbeat_at = now(), heartbeat = interval '1 day',
                 completed_at = case when $2 in ('succeeded', 'failed') then now() - $3::interval end
             where id = $1",
        )
        .bind(task)
        .bind(state)
        .bind(age)
        .execute(&app.db.admin)
        .await
        .unwrap();
        sqlx::query(
            "insert into underway.task_attempt (task_id, task_queue_name, attempt_number, state, started_at, updated_at, completed_at)
             select id, task_queue_name, 1, state, updated_at, updated_at, completed_at from underway.task where id = $1",
        )
        .bind(task)
        .execute(&app.db.admin)
        .await
        .unwrap();
    }
}

/// The labels of `plant`'s rows that are still there (jobs: task, attempts and key).
async fn survivors(app: &TestApp, tenant: Uuid) -> BTreeSet<String> {
    let mut tx = TenantTx::begin(&app.db.admin, tenant).await.unwrap();
    let labels: Vec<String> = sqlx::query_scalar(
        "select kind from login_flows
         union all select user_agent from sessions
         union all select destination from otp_codes
         union all select assertion_id from saml_replay",
    )
    .fetch_all(tx.conn())
    .await
    .unwrap();
    let jobs: Vec<(String, bool, i64)> = sqlx::query_as(
        "select k.key, t.id is not null, (select count(*) from underway.task_attempt a where a.task_id = k.task_id)
         from job_keys k left join underway.task t on t.id = k.task_id where k.kind = 'test.planted'",
    )
    .fetch_all(tx.conn())
    .await
    .unwrap();
    // A task without its key would be a leak (attempts go with their task).
    let orphans: i64 = sqlx::query_scalar(
        "select count(*) from underway.task t where t.input->>'kind' = 'test.planted'
           and t.input->>'tenant' = $1 and not exists (select 1 from job_keys k where k.task_id = t.id)",
    )
    .bind(tenant.to_string())
    .fetch_one(tx.conn())
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(orphans, 0, "job records are deleted whole: task, attempts and key");
    let mut all: BTreeSet<String> = labels.into_iter().collect();
    for (key, has_task, attempts) in jobs {
        assert!(has_task && attempts == 1, "{key}: a key is kept with its task and attempts");
        all.insert(key);
    }
    all
}

fn planted() -> BTreeSet<String> {
    [
        "expired-flow",
        "live-flow",
        "expired-session",
        "expired-idle-session",
        "live-session",
        "expired-otp",
        "live-otp-expired-today",
        "live-otp",
        "expired-assertion",
        "live-assertion-just-expired",
        "live-assertion",
        "expired-job-succeeded",
        "live-job-succeeded",
        "expired-job-failed",
        "live-job-failed",
        "live-job-pending",
        "live-job-in-progress",
    ]
    .map(String::from)
    .into()
}

/// Enqueues the prune job of `tenant` (under `key`) and waits for it to succeed.
async fn prune_through_the_queue(app: &TestApp, tenant: Uuid, key: &str) {
    let job = jobs::NewJob { kind: "prune", key: key.into(), payload: serde_json::json!({}), run_at: None };
    enqueue_committed(app, tenant, job).await;
    let task = task_of(app, tenant, "prune", key).await.expect("the job");
    assert_eq!(finished(app, task).await, "succeeded", "{:?}", attempts(app, task).await);
}

#[tokio::test]
async fn the_prune_job_deletes_exactly_what_expired_once_and_only_in_its_own_ente() {
    let app = spawn_app_with(test_settings()).await;
    let valmora = app.tenant_id_of("valmora").await;
    let roccamare = app.tenant_id_of("roccamare").await;
    plant(&app, valmora).await;
    plant(&app, roccamare).await;
    assert_eq!(survivors(&app, valmora).await, planted());

    prune_through_the_queue(&app, valmora, "prune-test-1").await;
    let live: BTreeSet<String> = planted().into_iter().filter(|l| l.starts_with("live-")).collect();
    assert_eq!(survivors(&app, valmora).await, live, "exactly the expired rows went");
    assert_eq!(survivors(&app, roccamare).await, planted(), "Roccamare's rows are untouched, expired or not");

    // A second run changes nothing.
    prune_through_the_queue(&app, valmora, "prune-test-2").await;
    assert_eq!(survivors(&app, valmora).await, live);
    assert_eq!(survivors(&app, roccamare).await, planted());

    // Roccamare's own run prunes Roccamare.
    prune_through_the_queue(&app, roccamare, "prune-test-1").await;
    assert_eq!(survivors(&app, roccamare).await, live);
}

#[tokio::test]
async fn the_hourly_prune_is_enqueued_once_per_ente_however_many_nodes_schedule_it() {
    let app = spawn_app_with(test_settings()).await;
    let enti: i64 = sqlx::query_scalar("select count(*) from tenants").fetch_one(&app.db.admin).await.unwrap();
    let at = chrono::Utc::now();
    // Two nodes in the same hour: the second finds every key taken.
    assert_eq!(sportello::auth::prune::schedule(&app.state, at).await.unwrap() as i64, enti);
    assert_eq!(sportello::auth::prune::schedule(&app.state, at).await.unwrap(), 0);
    let valmora = app.tenant_id_of("valmora").await;
    let task = task_of(&app, valmora, sportello::auth::prune::KIND, &sportello::auth::prune::hour_key(at))
        .await
        .expect("the job");
    assert_eq!(finished(&app, task).await, "succeeded");
    // The next hour, again once.
    let next = at + chrono::Duration::hours(1);
    assert_eq!(sportello::auth::prune::schedule(&app.state, next).await.unwrap() as i64, enti);
    assert_eq!(sportello::auth::prune::schedule(&app.state, next).await.unwrap(), 0);
}
