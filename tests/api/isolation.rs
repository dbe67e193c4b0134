//! Tenant isolation is enforced by PostgreSQL, not by our WHERE clauses.

use sportello::db::TenantTx;
use sqlx::{Connection, PgConnection};

use crate::helpers::{spawn_app, test_db};

#[tokio::test]
async fn a_query_without_where_sees_only_the_current_tenant() {
    let db = test_db().await;
    let valmora: uuid::Uuid =
        sqlx::query_scalar("select id from tenants where slug = 'valmora'").fetch_one(&db.app).await.unwrap();
    let roccamare: uuid::Uuid =
        sqlx::query_scalar("select id from tenants where slug = 'roccamare'").fetch_one(&db.app).await.unwrap();
    for table in ["procedures", "categories", "offices", "tenant_assets"] {
        let mut tx = TenantTx::begin(&db.app, valmora).await.unwrap();
        let ids: Vec<uuid::Uuid> =
            sqlx::query_scalar(&format!("select distinct tenant_id from {table}")).fetch_all(tx.conn()).await.unwrap();
        assert_eq!(ids, vec![valmora], "{table}");
        // Writing a row for another ente is refused by the policy's WITH CHECK.
        let err = sqlx::query(&format!("update {table} set tenant_id = $1"))
            .bind(roccamare)
            .execute(tx.conn())
            .await
            .expect_err("moving rows to another tenant must fail");
        assert!(err.to_string().contains("row-level security"), "{table}: {err}");
    }
    // No tenant set: nothing at all.
    let mut conn = PgConnection::connect_with(&db.targets.app).await.unwrap();
    for table in ["procedures", "categories", "offices", "tenant_assets"] {
        let n: i64 = sqlx::query_scalar(&format!("select count(*) from {table}")).fetch_one(&mut conn).await.unwrap();
        assert_eq!(n, 0, "{table} without app.tenant_id");
    }
}

/// Every table with a `tenant_id` (`tenant_domains`, the host map, excepted), and
/// every table holding a person's data — a name, a contact, a fiscal code, a
/// client address, a link to a user — whatever its key (issue 10: `identities`
/// was once a platform table), forces row-level security.
#[tokio::test]
async fn every_tenant_table_forces_row_level_security() {
    let db = test_db().await;
    let unprotected: Vec<String> = sqlx::query_scalar(
        "select c.relname::text from pg_class c
         join pg_namespace n on n.oid = c.relnamespace and n.nspname = 'public'
         where c.relkind = 'r'
           and ((exists (select from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped)
                 and c.relname <> 'tenant_domains')
                or exists (select from pg_attribute a where a.attrelid = c.oid and not a.attisdropped
                           and a.attname in ('fiscal_code', 'email', 'mobile', 'phone', 'given_name', 'family_name',
                                             'recipient', 'correspondent', 'user_id', 'ip', 'user_agent', 'vat_number')))
           and not (c.relrowsecurity and c.relforcerowsecurity)
         order by 1",
    )
    .fetch_all(&db.admin)
    .await
    .unwrap();
    assert!(unprotected.is_empty(), "tables without forced RLS: {unprotected:?}");
}

#[tokio::test]
async fn the_runtime_role_cannot_escape_row_level_security() {
    let db = test_db().await;
    let (superuser, bypass, owns): (bool, bool, i64) = sqlx::query_as(
        "select r.rolsuper, r.rolbypassrls,
                (select count(*) from pg_class c where c.relowner = r.oid and c.relnamespace = 'public'::regnamespace)
         from pg_roles r where r.rolname = current_user",
    )
    .fetch_one(&db.app)
    .await
    .unwrap();
    assert!(!superuser && !bypass, "runtime role must be neither superuser nor BYPASSRLS");
    assert_eq!(owns, 0, "runtime role must own nothing");
    // It cannot switch the policy off either.
    let err = sqlx::query("alter table procedures no force row level security").execute(&db.app).await.unwrap_err();
    assert!(err.to_string().contains("must be owner"), "{err}");
    // Nor write the platform tables.
    assert!(sqlx::query("update tenants set status = 'active'").execute(&db.app).await.is_err());
}

#[tokio::test]
async fn objects_of_one_ente_answer_404_on_another() {
    let app = spawn_app().await;
    // Procedures that exist only at Roccamare.
    for path in ["/servizi/dehors", "/servizi/permesso-ztl", "/servizi/categoria/servizi-cimiteriali"] {
        assert_eq!(app.get("roccamare.localhost", path).await.status(), 200, "{path} at Roccamare");
        assert_eq!(app.get("valmora.localhost", path).await.status(), 404, "{path} at Valmora");
    }
    let html = app.get("valmora.localhost", "/cerca?q=dehors").await.text().await.unwrap();
    assert!(html.contains("Nessun servizio trovato"));
    // Same slug, each tenant its own text.
    let valmora = app.get("valmora.localhost", "/servizi/cambio-residenza").await.text().await.unwrap();
    let roccamare = app.get("roccamare.localhost", "/servizi/cambio-residenza").await.text().await.unwrap();
    assert!(valmora.contains("UO-ANAG") || valmora.contains("Comune di Valmora"));
    assert!(!valmora.contains("Roccamare") && !roccamare.contains("Valmora"));
}
