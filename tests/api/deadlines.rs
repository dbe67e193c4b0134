//! The legal clock (L. 241/1990): a table of cases for the arithmetic —
//! suspension, interruption, several requests, closure, reopening — and the
//! clock of real cases, computed from their events, on both sides' pages.

use chrono::NaiveDate;
use serde_json::json;
use sportello::{
    db::TenantTx,
    procedure::clock::{self, compute, ClockEffect::*, ClockState, Tick, Tick::*},
};

use crate::{
    auth::VALMORA,
    cases::{citizen, request_integration, submitted_case, tenant_of},
    helpers::{s3_settings, spawn_app_with},
};

fn d(day: &str) -> NaiveDate {
    NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap()
}

struct Row {
    name: &'static str,
    limit: i64,
    ticks: Vec<Tick>,
    today: &'static str,
    state: ClockState,
    due: Option<&'static str>,
    elapsed: i64,
    overdue: bool,
}

#[test]
fn the_clock_table() {
    let rows = vec![
        Row {
            name: "not submitted",
            limit: 30,
            ticks: vec![],
            today: "2026-03-10",
            state: ClockState::NotStarted,
            due: None,
            elapsed: 0,
            overdue: false,
        },
        Row {
            name: "running",
            limit: 30,
            ticks: vec![Start(d("2026-03-01"))],
            today: "2026-03-10",
            state: ClockState::Running,
            due: Some("2026-03-31"),
            elapsed: 9,
            overdue: false,
        },
        Row {
            name: "last day is not late",
            limit: 30,
            ticks: vec![Start(d("2026-03-01"))],
            today: "2026-03-31",
            state: ClockState::Running,
            due: Some("2026-03-31"),
            elapsed: 30,
            overdue: false,
        },
        Row {
            name: "a day late",
            limit: 30,
            ticks: vec![Start(d("2026-03-01"))],
            today: "2026-04-01",
            state: ClockState::Running,
            due: Some("2026-03-31"),
            elapsed: 31,
            overdue: true,
        },
        Row {
            name: "across a leap day",
            limit: 30,
            ticks: vec![Start(d("2028-02-15"))],
            today: "2028-02-20",
            state: ClockState::Running,
            due: Some("2028-03-16"),
            elapsed: 5,
            overdue: false,
        },
        Row {
            name: "suspended: no due date while waiting, days used kept",
            limit: 30,
            ticks: vec![Start(d("2026-03-01")), Pause(d("2026-03-11"), Suspend)],
            today: "2026-04-20",
            state: ClockState::Suspended,
            due: None,
            elapsed: 10,
            overdue: false,
        },
        Row {
            name: "suspension of 15 days moves the due date by 15",
            limit: 30,
            ticks: vec![Start(d("2026-03-01")), Pause(d("2026-03-11"), Suspend), Resume(d("2026-03-26"))],
            today: "2026-03-30",
            state: ClockState::Running,
            due: Some("2026-04-15"),
            elapsed: 14,
            overdue: false,
        },
        Row {
            name: "interruption restarts the whole term from the answer",
            limit: 30,
            ticks: vec![Start(d("2026-03-01")), Pause(d("2026-03-25"), Interrupt), Resume(d("2026-04-10"))],
            today: "2026-04-12",
            state: ClockState::Running,
            due: Some("2026-05-10"),
            elapsed: 2,
            overdue: false,
        },
        Row {
            name: "two suspensions add up",
            limit: 30,
            ticks: vec![
                Start(d("2026-03-01")),
                Pause(d("2026-03-05"), Suspend),
                Resume(d("2026-03-10")),
                Pause(d("2026-03-20"), Suspend),
                Resume(d("2026-03-23")),
            ],
            today: "2026-03-25",
            state: ClockState::Running,
            due: Some("2026-04-08"),
            elapsed: 16,
            overdue: false,
        },
        Row {
            name: "overlapping requests: suspended until the last answer",
            limit: 30,
            ticks: vec![
                Start(d("2026-03-01")),
                Pause(d("2026-03-05"), Suspend),
                Pause(d("2026-03-08"), Suspend),
                Resume(d("2026-03-09")),
                Resume(d("2026-03-15")),
            ],
            today: "2026-03-16",
            state: ClockState::Running,
            due: Some("2026-04-10"),
            elapsed: 5,
            overdue: false,
        },
        Row {
            name: "suspension then interruption: the interruption wins",
            limit: 30,
            ticks: vec![
                Start(d("2026-03-01")),
                Pause(d("2026-03-05"), Suspend),
                Resume(d("2026-03-10")),
                Pause(d("2026-03-20"), Interrupt),
                Resume(d("2026-03-22")),
            ],
            today: "2026-03-22",
            state: ClockState::Running,
            due: Some("2026-04-21"),
            elapsed: 0,
            overdue: false,
        },
        Row {
            name: "closed in time: stopped, days used frozen",
            limit: 30,
            ticks: vec![
                Start(d("2026-03-01")),
                Pause(d("2026-03-05"), Suspend),
                Resume(d("2026-03-10")),
                Stop(d("2026-03-20")),
            ],
            today: "2026-06-01",
            state: ClockState::Stopped,
            due: Some("2026-04-05"),
            elapsed: 14,
            overdue: false,
        },
        Row {
            name: "closed late stays late",
            limit: 10,
            ticks: vec![Start(d("2026-03-01")), Stop(d("2026-03-15"))],
            today: "2026-06-01",
            state: ClockState::Stopped,
            due: Some("2026-03-11"),
            elapsed: 14,
            overdue: true,
        },
        Row {
            name: "closed while waiting on the citizen",
            limit: 30,
            ticks: vec![Start(d("2026-03-01")), Pause(d("2026-03-05"), Suspend), Stop(d("2026-04-30"))],
            today: "2026-06-01",
            state: ClockState::Stopped,
            due: None,
            elapsed: 4,
            overdue: false,
        },
        Row {
            name: "reopened: the closed days do not count",
            limit: 30,
            ticks: vec![Start(d("2026-03-01")), Stop(d("2026-03-11")), Reopen(d("2026-04-10"))],
            today: "2026-04-15",
            state: ClockState::Running,
            due: Some("2026-04-30"),
            elapsed: 15,
            overdue: false,
        },
    ];
    for row in rows {
        let clock = compute(row.limit, &row.ticks, d(row.today));
        assert_eq!(clock.state, row.state, "{}", row.name);
        assert_eq!(clock.due_date, row.due.map(d), "{}", row.name);
        assert_eq!(clock.days_elapsed, row.elapsed, "{}", row.name);
        assert_eq!(clock.overdue, row.overdue, "{}", row.name);
        assert_eq!(clock.days_left, row.limit - row.elapsed, "{}", row.name);
    }
}

#[test]
fn events_become_ticks() {
    let at = |day: &str| format!("{day}T10:00:00Z").parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    // 23:30 UTC on 31 March is already 1 April in Rome (summer time).
    let late = "2026-03-31T23:30:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    let (none, interrupt, suspend, closed, reopened) = (
        json!({}),
        json!({ "clock": "interrupt" }),
        json!({ "clock": "suspend" }),
        json!({ "final": true }),
        json!({ "final": false, "reopen": true }),
    );
    let events = [
        (at("2026-03-01"), "submitted", &none),
        (at("2026-03-02"), "message", &none),
        (at("2026-03-05"), "integration_requested", &interrupt),
        (late, "integration_answered", &none),
        (at("2026-04-02"), "integration_requested", &suspend),
        (at("2026-04-03"), "status_changed", &closed),
        (at("2026-04-04"), "status_changed", &reopened),
    ];
    let ticks = clock::ticks_of(events.iter().map(|(at, kind, data)| (*at, *kind, *data)));
    assert_eq!(
        ticks,
        vec![
            Start(d("2026-03-01")),
            Pause(d("2026-03-05"), Interrupt),
            Resume(d("2026-04-01")),
            Pause(d("2026-04-02"), Suspend),
            Stop(d("2026-04-03")),
            Reopen(d("2026-04-04")),
        ]
    );
}

/// A real case: the clock runs from submission, is suspended by a request and
/// both sides see it; a case keeps the clock rule of the workflow it started
/// with even when the procedure changes afterwards.
#[tokio::test]
async fn a_case_keeps_the_clock_rule_it_started_with() {
    let app = spawn_app_with(s3_settings().await).await;
    let tenant = tenant_of(&app, VALMORA).await;
    let mut maria = citizen(&app, VALMORA, "maria@example.it", "347 123 4567").await;

    // The procedure interrupts the clock when this case starts...
    let mut interrupting = sportello::procedure::workflow::Workflow::standard();
    interrupting.clock_on_integration = Interrupt;
    let mut owner = TenantTx::begin(&app.db.admin, tenant.id).await.unwrap();
    sqlx::query("update procedures set workflow = $1 where slug = $2")
        .bind(sqlx::types::Json(&interrupting))
        .bind(crate::cases::GENERIC)
        .execute(owner.conn())
        .await
        .unwrap();
    owner.commit().await.unwrap();
    let case = submitted_case(&app, &mut maria).await;
    // ...and is changed back to suspending before the office asks.
    let mut owner = TenantTx::begin(&app.db.admin, tenant.id).await.unwrap();
    sqlx::query("update procedures set workflow = null where slug = $1")
        .bind(crate::cases::GENERIC)
        .execute(owner.conn())
        .await
        .unwrap();
    owner.commit().await.unwrap();

    let page = maria.get_text(&format!("/area-personale/pratiche/{case}")).await;
    assert!(page.contains(r#"data-clock-state="running""#) && page.contains("su 30"), "{page}");
    request_integration(&app, case).await;
    let mut tx = TenantTx::begin(&app.db.app, tenant.id).await.unwrap();
    let effect: String = sqlx::query_scalar("select clock_effect from integration_requests where case_id = $1")
        .bind(case)
        .fetch_one(tx.conn())
        .await
        .unwrap();
    assert_eq!(effect, "interrupt", "the case's own workflow decides");
    let locked = sportello::procedure::store::case_by_id(&mut tx, case, false).await.unwrap().unwrap();
    assert_eq!(locked.due_date, None, "no due date while the clock waits on the citizen");
    let clock = clock::clock_of(&mut tx, &locked).await.unwrap();
    assert_eq!((clock.state, clock.pauses), (ClockState::Suspended, 1));
    tx.commit().await.unwrap();
    let page = maria.get_text(&format!("/area-personale/pratiche/{case}")).await;
    assert!(page.contains(r#"data-clock-state="suspended""#) && page.contains("Richieste di integrazione: 1"));
    let mail = crate::auth::last_message(&app, "valmora", "mail_outbox", "maria@example.it").await;
    assert!(mail.contains("ricomincia da capo"), "the citizen is told what the request does to the term: {mail}");
}
