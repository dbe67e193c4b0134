//! Symptom 10: what the database lets the runtime role do.

use sportello::{
    db::{DbTargets, TenantTx},
    startup::Application,
};

use crate::{
    auth::VALMORA,
    cases::{citizen, submitted_case},
    helpers::{spawn_app, test_db, test_settings},
};

#[tokio::test]
async fn the_runtime_role_cannot_delete_the_events_of_a_case() {
    let app = spawn_app().await;
    let mut browser = citizen(&app, VALMORA, "elsa@example.it", "+393471110002").await;
    let case = submitted_case(&app, &mut browser).await;
    let tenant = app.tenant_id_of("valmora").await;
    let count = |pool: sqlx::PgPool| async move {
        let mut tx = TenantTx::begin(&pool, tenant).await.unwrap();
        let n: i64 = sqlx::query_scalar("select count(*) from case_events where case_id = $1")
            .bind(case)
            .fetch_one(tx.conn())
            .await
            .unwrap();
        n
    };
    let before = count(app.db.app.clone()).await;
    assert!(before > 0);
    for pool in [&app.db.app, &app.db.admin] {
        let mut tx = TenantTx::begin(pool, tenant).await.unwrap();
        let err = sqlx::query("delete from case_events where case_id = $1")
            .bind(case)
            .execute(tx.conn())
            .await
            .expect_err("a case's timeline is append-only");
        let text = err.to_string();
        assert!(text.contains("permission denied") || text.contains("append-only"), "{text}");
    }
    assert_eq!(count(app.db.app.clone()).await, before);
    // A draft can still be thrown away whole, its events with it.
    let draft = crate::cases::start(&mut browser, crate::cases::GENERIC).await;
    let response = browser.post(&format!("/area-personale/pratiche/{draft}/elimina"), &[]).await;
    assert_eq!(response.status(), 303);
    let mut tx = TenantTx::begin(&app.db.app, tenant).await.unwrap();
    let left: i64 = sqlx::query_scalar("select count(*) from case_events where case_id = $1")
        .bind(draft)
        .fetch_one(tx.conn())
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn fiscal_codes_of_one_ente_are_out_of_reach_of_another() {
    let db = test_db().await;
    let ids: Vec<(uuid::Uuid, String)> =
        sqlx::query_as("select id, slug from tenants order by slug").fetch_all(&db.admin).await.unwrap();
    let (roccamare, valmora) = (ids[0].0, ids[1].0);
    // A citizen of Roccamare signed in with SPID once.
    let mut tx = TenantTx::begin(&db.app, roccamare).await.unwrap();
    sportello::users::for_identity(
        &mut tx,
        sportello::users::ProvenIdentity {
            fiscal_code: "BNCLRA80A41H501X",
            given_name: "Lara",
            family_name: "Bianchi",
            email: None,
            mobile: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // Valmora's runtime sees no fiscal code of Roccamare's, nor does a
    // connection that set no ente at all.
    let mut tx = TenantTx::begin(&db.app, valmora).await.unwrap();
    let seen: i64 = sqlx::query_scalar("select count(*) from identities").fetch_one(tx.conn()).await.unwrap();
    assert_eq!(seen, 0);
    tx.commit().await.unwrap();
    let seen: i64 = sqlx::query_scalar("select count(*) from identities").fetch_one(&db.app).await.unwrap();
    assert_eq!(seen, 0);
    let mut tx = TenantTx::begin(&db.app, roccamare).await.unwrap();
    let seen: i64 = sqlx::query_scalar("select count(*) from identities").fetch_one(tx.conn()).await.unwrap();
    assert_eq!(seen, 1);
}

#[tokio::test]
async fn the_server_refuses_to_start_as_a_role_that_bypasses_row_level_security() {
    let db = test_db().await;
    // The owner role (it owns every table) and a superuser, each as the runtime connection.
    let superuser = crate::helpers::superuser_options(&db.name).await;
    for (who, app) in [("owner", db.targets.admin.clone()), ("superuser", superuser)] {
        let targets = DbTargets { app, admin: db.targets.admin.clone() };
        let refused = Application::build(test_settings(), &targets).await.err().unwrap_or_else(|| panic!("{who}"));
        let text = format!("{refused:#}");
        assert!(text.contains("refusing to serve") && text.contains("row-level security"), "{who}: {text}");
        assert!(!text.contains("password"), "{text}");
    }
    // The runtime role starts.
    assert!(Application::build(test_settings(), &db.targets).await.is_ok());
}
