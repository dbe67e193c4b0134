//! Demo data (`sportello demo seed`, and the embedded default's first start):
//! every status of the workflows, messages both ways, an overdue case and a
//! clock suspended for weeks, acts in the register; a second run changes
//! nothing; one ente's demo is invisible from another; refused without dev_pages.

use std::process::Command;

use sportello::{db::TenantTx, demo};
use uuid::Uuid;

use crate::helpers::{root, scratch, spawn_app_with, test_settings, TestApp};

async fn dev_app() -> TestApp {
    spawn_app_with(sportello::config::Settings { dev_pages: true, ..test_settings() }).await
}

async fn scalar(app: &TestApp, tenant: Uuid, sql: &str) -> i64 {
    let mut tx = TenantTx::begin(&app.db.app, tenant).await.unwrap();
    let n: i64 = sqlx::query_scalar(sql).fetch_one(tx.conn()).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    tx.commit().await.unwrap();
    n
}

/// What a second run must leave as it is (the timeline and the audit trail
/// are left out: the overdue alerts the demo arms run meanwhile and add to them).
async fn counts(app: &TestApp, tenant: Uuid) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for table in [
        "cases",
        "users",
        "registry_entries",
        "messages",
        "integration_requests",
        "case_tasks",
        "case_documents",
        "assistance_requests",
    ] {
        out.push((table.to_string(), scalar(app, tenant, &format!("select count(*) from {table}")).await));
    }
    let mut tx = TenantTx::begin(&app.db.app, tenant).await.unwrap();
    let statuses: Vec<(String, i64)> =
        sqlx::query_as("select status, count(*) from cases group by status order by status")
            .fetch_all(tx.conn())
            .await
            .unwrap();
    tx.commit().await.unwrap();
    out.extend(statuses);
    out
}

/// For the README's "Try it": whose cases, in which status (`--nocapture`).
async fn print_who_has_what(app: &TestApp, tenant: Uuid) {
    let mut tx = TenantTx::begin(&app.db.app, tenant).await.unwrap();
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "select u.given_name || ' ' || u.family_name || ' ' || coalesce(u.fiscal_code, ''),
                case when u.is_staff then 'assignee' else 'owner' end,
                string_agg(c.procedure_slug || ':' || coalesce(c.state, 'draft'), ', ' order by c.procedure_slug)
         from cases c join users u on u.id = c.user_id or u.id = c.assignee_id
         group by 1, 2 order by 2, 1",
    )
    .fetch_all(tx.conn())
    .await
    .unwrap();
    tx.commit().await.unwrap();
    for (who, role, cases) in rows {
        println!("  {role} {who}: {cases}");
    }
}

#[tokio::test]
async fn each_demo_ente_gets_sixty_cases_in_every_status_once() {
    let app = dev_app().await;
    let reports = demo::seed(&app.state, &app.db.admin, None).await.unwrap();
    let slugs: Vec<&str> = reports.iter().map(|r| r.slug.as_str()).collect();
    assert!(slugs.contains(&"valmora") && slugs.contains(&"roccamare"), "{slugs:?}");
    let demo: Vec<bool> = sqlx::query_scalar("select demo from tenants").fetch_all(&app.db.admin).await.unwrap();
    assert!(demo.iter().all(|d| *d), "the seeded enti are marked demo (their registers accept the replayed past)");
    for report in &reports {
        println!("{}", report.line());
        print_who_has_what(&app, app.tenant_id_of(&report.slug).await).await;
        assert!(report.seeded, "{report:?}");
        assert!((50..=75).contains(&report.cases), "{}", report.line());
        let id = app.tenant_id_of(&report.slug).await;
        let n = |sql: &'static str| scalar(&app, id, sql);
        for status in ["draft", "submitted", "in_progress", "awaiting_integration", "accepted", "rejected", "closed"] {
            assert!(report.by_status.get(status).copied().unwrap_or(0) > 0, "{}: no {status} case", report.line());
        }
        assert_eq!(n("select count(*) from cases").await as usize, report.cases, "{}", report.slug);
        // Every status of every procedure's workflow that a demo case could reach.
        let custom = n("select count(distinct (procedure_slug, state)) from cases where state is not null").await;
        assert!(custom >= 12, "{}: {custom} (procedure, status) pairs", report.slug);
        // Messages both ways, on cases.
        assert!(n("select count(*) from messages where case_id is not null and sender = 'office'").await > 0);
        assert!(n("select count(*) from messages where case_id is not null and sender = 'citizen'").await > 0);
        // Overdue: open, its clock running, the due date past.
        let overdue = n("select count(*) from cases where due_date < (now() at time zone 'Europe/Rome')::date
                         and status in ('submitted', 'in_progress')")
        .await;
        assert!(overdue >= 1, "{}: no overdue case", report.slug);
        // A clock suspended for weeks: a request unanswered for at least a week, no due date meanwhile.
        let suspended = n("select count(*) from cases c join integration_requests r on r.case_id = c.id
                           where r.answered_at is null and r.requested_at < now() - interval '7 days'
                             and c.status = 'awaiting_integration' and c.due_date is null")
        .await;
        assert!(suspended >= 1, "{}: no clock suspended for weeks", report.slug);
        // Answered integrations, registered like the submission.
        assert!(n("select count(*) from integration_requests where answer_registry_number is not null").await >= 1);
        // Accepted cases carry their act: an office document, registered outgoing.
        let acts = n("select count(*) from cases c join case_documents d on d.case_id = c.id
                      join registry_entries e on (e.year, e.number) = (d.registry_year, d.registry_number)
                      where c.status = 'accepted' and d.origin = 'office' and e.direction = 'outgoing'
                        and e.document_sha256 = d.sha256")
        .await;
        assert!(acts >= 1, "{}: no accepted case with its act", report.slug);
        // Submitted cases have their receipt and their registry number.
        assert_eq!(
            n("select count(*) from cases c where status <> 'draft' and not exists
               (select from case_documents d where d.case_id = c.id and d.origin = 'receipt'
                  and d.registry_number = c.registry_number)")
            .await,
            0
        );
        // The legal representative's cases are his company's, through his delegation.
        let (company, all) = (
            n("select count(*) from cases c join users u on u.id = c.user_id join delegations d on d.id = c.delegation_id
               where u.fiscal_code = 'VRDGNN70C15H501Z' and d.kind = 'company' and d.represented_code = '02456780168'")
            .await,
            n("select count(*) from cases c join users u on u.id = c.user_id where u.fiscal_code = 'VRDGNN70C15H501Z'").await,
        );
        assert!(company >= 1 && company == all, "{}: {company} of {all} of Giovanni Verdi's cases", report.slug);
        // Opinions between offices, some answered; assistance requests with a reply.
        assert!(n("select count(*) from case_tasks where kind = 'opinion'").await >= 1, "{}", report.slug);
        assert!(n("select count(*) from assistance_requests").await >= 2);
        assert!(n("select count(*) from messages where assistance_id is not null and sender <> 'citizen'").await >= 1);
        // The register: gapless, its dates in the order of its numbers.
        assert_eq!(
            n("select count(*) from (select year, number, registered_at,
                    lag(number) over w as prev_n, lag(registered_at) over w as prev_at
                  from registry_entries window w as (partition by year order by number)) r
               where (prev_n is null and number <> 1) or (prev_n is not null and (number <> prev_n + 1 or registered_at < prev_at))")
            .await,
            0,
            "{}: register out of order",
            report.slug
        );
        // The development identity provider's citizens see cases of their own.
        assert!(
            n("select count(*) from cases c join users u on u.id = c.user_id where u.fiscal_code = 'RSSMRA80A01H501U'")
                .await
                >= 3
        );
        // Staff act as themselves: assignees and the audit trail's actors.
        assert!(n("select count(*) from cases c join users u on u.id = c.assignee_id where u.is_staff").await >= 1);
        let verification = sportello::audit::verify(&app.db.admin, id).await.unwrap();
        assert!(verification.is_intact(), "{}", verification.line());
    }

    // A second run changes nothing.
    let mut before = Vec::new();
    for report in &reports {
        before.push(counts(&app, app.tenant_id_of(&report.slug).await).await);
    }
    let again = demo::seed(&app.state, &app.db.admin, None).await.unwrap();
    assert!(again.iter().all(|r| !r.seeded), "{again:?}");
    for (report, before) in reports.iter().zip(before) {
        assert_eq!(counts(&app, app.tenant_id_of(&report.slug).await).await, before, "{}", report.slug);
    }

    // One ente's demo is not in another's transaction.
    let (valmora, roccamare) = (app.tenant_id_of("valmora").await, app.tenant_id_of("roccamare").await);
    let mut tx = TenantTx::begin(&app.db.app, roccamare).await.unwrap();
    let theirs: Vec<Uuid> = sqlx::query_scalar("select id from cases").fetch_all(tx.conn()).await.unwrap();
    tx.commit().await.unwrap();
    assert!(!theirs.is_empty());
    let mut tx = TenantTx::begin(&app.db.app, valmora).await.unwrap();
    let seen: i64 = sqlx::query_scalar("select count(*) from cases where id = any($1)")
        .bind(&theirs)
        .fetch_one(tx.conn())
        .await
        .unwrap();
    let messages: i64 = sqlx::query_scalar("select count(*) from messages where case_id = any($1)")
        .bind(&theirs)
        .fetch_one(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!((seen, messages), (0, 0));

    // The command line: the same, and unchanged.
    let cli = |dev_pages: &str| {
        Command::new(env!("CARGO_BIN_EXE_sportello"))
            .args(["demo", "seed", "--tenant", "valmora"])
            .current_dir(root())
            .env("DATABASE_URL", app.db.url("sportello_app"))
            .env("DATABASE_ADMIN_URL", app.db.url("sportello_owner"))
            .env("SPORTELLO_DATA_DIR", scratch())
            .env("SPORTELLO_DEV_PAGES", dev_pages)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let output = cli("true");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout} {}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("valmora: demo data already there, unchanged"), "{stdout}");
}

#[tokio::test]
async fn the_demo_is_refused_without_the_development_pages() {
    let app = crate::helpers::spawn_app().await;
    let error = demo::seed(&app.state, &app.db.admin, None).await.unwrap_err();
    assert!(format!("{error:#}").contains("SPORTELLO_DEV_PAGES"), "{error:#}");
    let output = Command::new(env!("CARGO_BIN_EXE_sportello"))
        .args(["demo", "seed"])
        .current_dir(root())
        .env("DATABASE_URL", app.db.url("sportello_app"))
        .env("DATABASE_ADMIN_URL", app.db.url("sportello_owner"))
        .env("SPORTELLO_DEV_PAGES", "false")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SPORTELLO_DEV_PAGES=true"), "{stderr}");
    for slug in ["valmora", "roccamare"] {
        assert_eq!(scalar(&app, app.tenant_id_of(slug).await, "select count(*) from cases").await, 0, "{slug}");
    }
}
