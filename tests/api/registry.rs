//! The protocollo: gapless yearly numbers per ente under concurrency, immutable
//! entries, isolation between enti.

use sportello::{
    audit::{self, Actor},
    db::{self, TenantTx},
    registry::{self, Direction, NewEntry},
};

use crate::helpers::test_db;

fn entry(subject: &str) -> NewEntry<'_> {
    NewEntry {
        direction: Direction::Incoming,
        correspondent: "Maria Rossi",
        subject,
        document_sha256: None,
        case_id: None,
    }
}

#[tokio::test]
async fn five_hundred_concurrent_registrations_get_numbers_one_to_five_hundred() {
    let test_db = test_db().await;
    let pool = db::connect(&test_db.targets.app, 24).await.unwrap();
    let tenant: uuid::Uuid =
        sqlx::query_scalar("select id from tenants where slug = 'valmora'").fetch_one(&pool).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..500 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = TenantTx::begin(&pool, tenant).await.unwrap();
            let subject = format!("Istanza {i}");
            let entry = registry::register(&mut tx, entry(&subject)).await.unwrap();
            // Every tenth fails after taking a number: it must give it back.
            if i % 10 == 0 {
                drop(tx);
                return None;
            }
            tx.commit().await.unwrap();
            Some(entry.number)
        }));
    }
    let mut numbers = Vec::new();
    for task in tasks {
        numbers.extend(task.await.unwrap());
    }
    numbers.sort();
    assert_eq!(numbers, (1..=450).collect::<Vec<i64>>(), "gapless, no duplicates");
    let mut tx = TenantTx::begin(&pool, tenant).await.unwrap();
    let next = registry::register(&mut tx, entry("ancora")).await.unwrap();
    assert_eq!(next.number, 451);
    assert_eq!(next.formatted_number(), "0000451");
    assert!(next.mark("c_v412").ends_with("-0000451"));
}

#[tokio::test]
async fn registry_entries_are_never_altered_nor_deleted() {
    let test_db = test_db().await;
    let tenant: uuid::Uuid =
        sqlx::query_scalar("select id from tenants where slug = 'valmora'").fetch_one(&test_db.app).await.unwrap();
    let mut tx = TenantTx::begin(&test_db.app, tenant).await.unwrap();
    let e = registry::register(&mut tx, entry("Domanda di residenza")).await.unwrap();
    tx.commit().await.unwrap();

    for sql in [
        "update registry_entries set subject = 'altro'",
        "update registry_entries set number = 99",
        "update registry_entries set registered_at = now() - interval '1 day'",
        "delete from registry_entries",
    ] {
        let mut tx = TenantTx::begin(&test_db.app, tenant).await.unwrap();
        let err = sqlx::query(sql).execute(tx.conn()).await.expect_err(sql);
        assert!(
            err.to_string().contains("registry entries") || err.to_string().contains("permission denied"),
            "{sql}: {err}"
        );
    }
    // Not even the owner role can alter or truncate it.
    let mut tx = TenantTx::begin(&test_db.admin, tenant).await.unwrap();
    assert!(sqlx::query("update registry_entries set subject = 'x'").execute(tx.conn()).await.is_err());
    drop(tx);
    assert!(sqlx::query("truncate registry_entries cascade").execute(&test_db.admin).await.is_err());

    // A cancellation is a note, once, and it is audited.
    let clerk = Actor::staff(uuid::Uuid::new_v4(), "Ufficio protocollo");
    let mut tx = TenantTx::begin(&test_db.app, tenant).await.unwrap();
    assert!(registry::cancel(&mut tx, &clerk, e.year, e.number, "Registrata per errore").await.unwrap());
    tx.commit().await.unwrap();
    let mut tx = TenantTx::begin(&test_db.app, tenant).await.unwrap();
    assert!(!registry::cancel(&mut tx, &clerk, e.year, e.number, "di nuovo").await.unwrap());
    let kept = registry::find(&mut tx, e.year, e.number).await.unwrap().unwrap();
    assert_eq!(kept.subject, "Domanda di residenza");
    assert_eq!(kept.cancellation_reason.as_deref(), Some("Registrata per errore"));
    let history = audit::entries(&mut tx, "registry_entry", &format!("{}-{:07}", e.year, e.number)).await.unwrap();
    assert_eq!(history.len(), 1, "one cancellation, one entry");
    assert_eq!(history[0].action, "registry.cancel");
    assert_eq!(history[0].actor.label, "Ufficio protocollo");
    assert_eq!(history[0].after.as_ref().unwrap()["cancellation_reason"], "Registrata per errore");
}

/// The date is part of the entry: an ente's register takes the clock's, never
/// the caller's — no backdating, no entry before the one before it — except an
/// ente marked `demo` (only the owner role can), whose demo cases replay a past.
#[tokio::test]
async fn registry_entries_are_dated_when_they_are_made() {
    let test_db = test_db().await;
    let tenant: uuid::Uuid =
        sqlx::query_scalar("select id from tenants where slug = 'valmora'").fetch_one(&test_db.app).await.unwrap();
    let past = chrono::Utc::now() - chrono::Duration::days(40);
    let mut tx = TenantTx::begin(&test_db.app, tenant).await.unwrap();
    let err = registry::register_at(&mut tx, entry("Retrodatata"), Some(past)).await.expect_err("backdated");
    assert!(err.to_string().contains("dated when they are made"), "{err}");
    drop(tx);
    // Not by hand either, nor before the entry before it.
    let mut tx = TenantTx::begin(&test_db.app, tenant).await.unwrap();
    let first = registry::register(&mut tx, entry("Prima")).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = TenantTx::begin(&test_db.app, tenant).await.unwrap();
    let err = sqlx::query(
        "insert into registry_entries (tenant_id, year, number, direction, correspondent, subject, registered_at)
         values ($1, $2, $3, 'incoming', 'X', 'Y', $4)",
    )
    .bind(tenant)
    .bind(first.year)
    .bind(first.number + 1)
    .bind(first.registered_at - chrono::Duration::seconds(2))
    .execute(tx.conn())
    .await
    .expect_err("before the entry before it");
    assert!(err.to_string().contains("before the entry before it"), "{err}");
    drop(tx);
    // The runtime role cannot make its ente a demo ente.
    let err = sqlx::query("update tenants set demo = true where id = $1").bind(tenant).execute(&test_db.app).await;
    assert!(err.is_err(), "runtime role updated tenants");
    // A demo ente replays its past.
    sqlx::query("update tenants set demo = true where id = $1").bind(tenant).execute(&test_db.admin).await.unwrap();
    let roccamare: uuid::Uuid =
        sqlx::query_scalar("select id from tenants where slug = 'roccamare'").fetch_one(&test_db.app).await.unwrap();
    let mut tx = TenantTx::begin(&test_db.app, tenant).await.unwrap();
    let demo = registry::register_at(&mut tx, entry("Demo"), Some(past)).await.unwrap();
    assert_eq!(demo.registered_at.timestamp(), past.timestamp());
    drop(tx);
    // Another ente is not a demo ente for it.
    let mut tx = TenantTx::begin(&test_db.app, roccamare).await.unwrap();
    assert!(registry::register_at(&mut tx, entry("Retrodatata"), Some(past)).await.is_err());
}

#[tokio::test]
async fn each_ente_has_its_own_register_invisible_to_the_others() {
    let test_db = test_db().await;
    let id = |slug: &'static str| {
        let pool = test_db.app.clone();
        async move {
            sqlx::query_scalar::<_, uuid::Uuid>("select id from tenants where slug = $1")
                .bind(slug)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let (valmora, roccamare) = (id("valmora").await, id("roccamare").await);
    for _ in 0..3 {
        let mut tx = TenantTx::begin(&test_db.app, valmora).await.unwrap();
        registry::register(&mut tx, entry("Valmora")).await.unwrap();
        tx.commit().await.unwrap();
    }
    let mut tx = TenantTx::begin(&test_db.app, roccamare).await.unwrap();
    let first = registry::register(&mut tx, entry("Roccamare")).await.unwrap();
    assert_eq!(first.number, 1, "numbering is per ente");
    assert!(registry::find(&mut tx, first.year, 2).await.unwrap().is_none(), "Valmora's entry 2 is invisible");
    let seen: i64 = sqlx::query_scalar("select count(*) from registry_entries").fetch_one(tx.conn()).await.unwrap();
    assert_eq!(seen, 1);
}
