//! The back-office inbox (`backoffice::db::inbox`) on 1,000,000 cases across 1,000
//! tenants, one of them holding 100,000, for `infra/bench/inbox_1m.sh`.
//!
//! Against the cluster whose socket is in BENCH_PG_SOCKET (the script starts it):
//! creates the roles and the database, applies the project's migrations, seeds the
//! data set with set-based SQL as the superuser (skipped when already there), then
//! measures `inbox` exactly as the inbox page calls it — the runtime role, inside a
//! `TenantTx`, so row-level security is in every plan — for the big tenant and a
//! typical small one: BENCH_ITERS rounds (default 300) of eight scenarios, interleaved
//! so that a burst of load from the shared machine hits them all alike. Prints
//! p50/p95/p99/max per scenario and the auto_explain plan (ANALYZE, BUFFERS) of the
//! slowest one, read from BENCH_PG_LOG. BENCH_BEFORE_AFTER=1 first measures without
//! the indexes of migration 0008 (dropped), then re-creates them from the migration's
//! text and measures again: before and after on the same data, in the same run.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use sportello::{
    backoffice::db::{inbox, InboxFilter},
    db::{self, TenantTx, APP_ROLE, DATABASE, OWNER_ROLE},
    procedure::workflow::Workflow,
};
use sqlx::{postgres::PgConnectOptions, Connection, PgConnection, PgPool};
use uuid::Uuid;

const TENANTS: i32 = 1000;
const BIG_TENANT: i32 = 1;
/// 901 cases: what 999 tenants sharing 900,000 hold each.
const SMALL_TENANT: i32 = 500;
/// Warm-up rounds (cache, prepared statements) before the timed ones: a tenth of them,
/// at least 2 and at most 20.
fn warm_up_rounds(iters: usize) -> usize {
    (iters / 10).clamp(2, 20)
}
/// The operator reads two of the seven offices.
const OPERATOR_OFFICES: [&str; 2] = ["uff1", "uff2"];

/// The seed names its rows after md5 of a label (`md5('tenant-' || t)::uuid`), so the
/// bench finds them again by the same expression.
/// A tenant measured: its number in the seed, its id, and the operator (staff 0).
struct Tenant {
    n: i32,
    id: Uuid,
    me: Uuid,
}

async fn tenant(superuser: &PgConnectOptions, n: i32) -> anyhow::Result<Tenant> {
    Ok(Tenant {
        n,
        id: seeded_id(superuser, format!("tenant-{n}")).await?,
        me: seeded_id(superuser, format!("s-{n}-0")).await?,
    })
}

async fn seeded_id(superuser: &PgConnectOptions, label: String) -> anyhow::Result<Uuid> {
    let mut conn = PgConnection::connect_with(&superuser.clone().database(DATABASE)).await?;
    let id = sqlx::query_scalar("select md5($1)::uuid").bind(label).fetch_one(&mut conn).await?;
    conn.close().await?;
    Ok(id)
}

const SURNAMES: &[&str] = &[
    "Rossi",
    "Russo",
    "Ferrari",
    "Esposito",
    "Bianchi",
    "Romano",
    "Colombo",
    "Ricci",
    "Marino",
    "Greco",
    "Bruno",
    "Gallo",
    "Conti",
    "De Luca",
    "Mancini",
    "Costa",
    "Giordano",
    "Rizzo",
    "Lombardi",
    "Moretti",
    "Barbieri",
    "Fontana",
    "Santoro",
    "Mariani",
    "Rinaldi",
    "Caruso",
    "Ferrara",
    "Galli",
    "Martini",
    "Leone",
    "Longo",
    "Gentile",
    "Martinelli",
    "Vitale",
    "Lombardo",
    "Serra",
    "Coppola",
    "De Santis",
    "D'Angelo",
    "Marchetti",
    "Parisi",
    "Villa",
    "Conte",
    "Ferraro",
    "Ferri",
    "Fabbri",
    "Bianco",
    "Marini",
    "Grasso",
    "Valentini",
    "Messina",
    "Sala",
    "De Angelis",
    "Gatti",
    "Pellegrini",
    "Palumbo",
    "Sanna",
    "Farina",
    "Rizzi",
    "Monti",
];
const GIVEN_NAMES: &[&str] = &[
    "Marco",
    "Giulia",
    "Luca",
    "Francesca",
    "Alessandro",
    "Chiara",
    "Andrea",
    "Sara",
    "Giuseppe",
    "Martina",
    "Matteo",
    "Valentina",
    "Lorenzo",
    "Elena",
    "Davide",
    "Anna",
    "Simone",
    "Laura",
    "Federico",
    "Alessia",
    "Paolo",
    "Silvia",
    "Stefano",
    "Maria",
    "Roberto",
    "Paola",
    "Giovanni",
    "Elisa",
    "Antonio",
    "Sofia",
];

fn sql_array(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{}'", s.replace('\'', "''"))).collect();
    format!("array[{}]", quoted.join(", "))
}

/// The data set, built by set-based statements only. FK and guard triggers are off
/// (`session_replication_role = replica`) while it runs: every key is computed
/// consistent by construction, and checked by anti-joins afterwards instead of one
/// trigger query per row.
fn seed_steps(workflow_json: &str) -> Vec<(&'static str, String)> {
    let surnames = sql_array(SURNAMES);
    let given = sql_array(GIVEN_NAMES);
    let n_surnames = SURNAMES.len();
    let n_given = GIVEN_NAMES.len();
    // Cases per tenant: 100,000 for tenant 1; 900,000 spread over the other 999.
    let per_tenant = "(select t, case when t = 1 then 100000 when t - 2 < 900 then 901 else 900 end as n
                       from generate_series(1, 1000) t)";
    // A snapshot of a modest form, as cases carry one (the real ones vary in size).
    let form = r#"{"steps":[{"title":"Richiedente","fields":[{"key":"nome","kind":"text","label":"Nome","required":true},{"key":"cognome","kind":"text","label":"Cognome","required":true},{"key":"indirizzo","kind":"text","label":"Indirizzo di residenza","required":true}]},{"title":"Richiesta","fields":[{"key":"oggetto","kind":"textarea","label":"Oggetto della richiesta","required":true},{"key":"allegato","kind":"file","label":"Documento","required":false}]}]}"#;
    vec![
        (
            "tenants, offices, categories, procedures",
            format!(
                "insert into tenants (id, slug, name)
                 select md5('tenant-' || t)::uuid, 'bench-' || lpad(t::text, 4, '0'), 'Comune di Prova ' || t
                 from generate_series(1, {TENANTS}) t;
                 insert into offices (tenant_id, code, name)
                 select md5('tenant-' || t)::uuid, 'uff' || o, 'Ufficio ' || o
                 from generate_series(1, {TENANTS}) t, generate_series(1, 7) o;
                 insert into categories (tenant_id, slug, name)
                 select md5('tenant-' || t)::uuid, 'cat' || c, 'Categoria ' || c
                 from generate_series(1, {TENANTS}) t, generate_series(1, 3) c;
                 insert into procedures (tenant_id, slug, category_slug, office_code, title, summary, time_limit_days)
                 select md5('tenant-' || t)::uuid, 'proc-' || lpad(p::text, 2, '0'), 'cat' || (1 + p % 3),
                        'uff' || (1 + (p - 1) % 7), 'Procedimento ' || p, 'Sintesi del procedimento ' || p,
                        (array[30, 60, 90, 30, 180])[1 + p % 5]
                 from generate_series(1, {TENANTS}) t, generate_series(1, 15) p;"
            ),
        ),
        (
            "users (citizens: 1 per 3 cases; 5 staff per tenant)",
            // Surnames skewed (power 2) so a few are common, as in any register.
            format!(
                "select setseed(0.42);
                 insert into users (tenant_id, id, fiscal_code, given_name, family_name, email, is_staff, created_at)
                 select md5('tenant-' || t)::uuid, md5('u-' || t || '-' || k)::uuid,
                        upper(substr(md5('cf-' || t || '-' || k), 1, 16)),
                        ({given})[1 + floor(random() * {n_given})::int],
                        ({surnames})[1 + floor(power(random(), 2) * {n_surnames})::int],
                        'u' || k || '@t' || t || '.invalid', false, now() - interval '3 years' * random()
                 from {per_tenant} s, generate_series(0, ceil(n / 3.0)::int - 1) k;
                 insert into users (tenant_id, id, fiscal_code, given_name, family_name, email, is_staff)
                 select md5('tenant-' || t)::uuid, md5('s-' || t || '-' || j)::uuid,
                        upper(substr(md5('scf-' || t || '-' || j), 1, 16)),
                        ({given})[1 + j], ({surnames})[10 + j], 'staff' || j || '@t' || t || '.invalid', true
                 from generate_series(1, {TENANTS}) t, generate_series(0, 4) j;"
            ),
        ),
        (
            "staging: 1,000,000 case rows",
            // 60 % final (accepted 35, rejected 10, closed 15), 40 % open (submitted 12,
            // in progress 22, awaiting integration 6). Open cases are due within ±90 days
            // of today; final ones were submitted over the last three years.
            format!(
                "create unlogged table bench_cases as
                 with base as (
                     select t, md5('tenant-' || t)::uuid as tenant_id, n, k, random() as r_status,
                            1 + floor(random() * 15)::int as p, random() as r_time, random() as r_assign,
                            floor(random() * ceil(n / 3.0))::int as citizen, random() as r_task, random() as r_hour
                     from {per_tenant} s, generate_series(0, n - 1) k
                 ), shaped as (
                     select *, gen_random_uuid() as id,
                            case when r_status < 0.35 then 'accepted' when r_status < 0.45 then 'rejected'
                                 when r_status < 0.60 then 'closed' when r_status < 0.72 then 'submitted'
                                 when r_status < 0.94 then 'in_progress' else 'awaiting_integration' end as status,
                            (array[30, 60, 90, 30, 180])[1 + p % 5] as time_limit
                     from base
                 ), timed as (
                     select *,
                            case when status in ('accepted', 'rejected', 'closed')
                                 then now() - interval '1095 days' * r_time - interval '1 day' * time_limit
                                 else least(now() - interval '1 hour',
                                            (current_date + (r_time * 180 - 90)::int - time_limit)::timestamptz
                                                + interval '8 hours' + interval '9 hours' * r_hour)
                            end as submitted_at
                     from shaped
                 ), numbered as (
                 select tenant_id, t, k, id, p, status, time_limit, citizen, r_task, r_assign,
                        'PR-' || upper(substr(replace(id::text, '-', ''), 1, 12)) as reference,
                        submitted_at,
                        case when status in ('accepted', 'rejected', 'closed')
                             then (submitted_at at time zone 'Europe/Rome')::date + time_limit
                             else current_date + (r_time * 180 - 90)::int end as due_date,
                        extract(year from submitted_at at time zone 'Europe/Rome')::int as year,
                        case status when 'submitted' then 'presentata' when 'in_progress' then 'in_istruttoria'
                             when 'awaiting_integration' then 'integrazione' when 'accepted' then 'accolta'
                             when 'rejected' then 'respinta' else 'chiusa' end as state
                 from timed)
                 -- The register: gapless per tenant and year, in order of arrival.
                 select *, row_number() over (partition by tenant_id, year order by submitted_at, id) as number
                 from numbered;"
            ),
        ),
        (
            "registry entries and counters",
            "insert into registry_entries (tenant_id, year, number, registered_at, direction, correspondent, subject, case_id)
             select b.tenant_id, b.year, b.number, b.submitted_at, 'incoming',
                    trim(u.given_name || ' ' || u.family_name) || ' (' || u.fiscal_code || ')',
                    'Istanza: Procedimento ' || b.p, b.id
             from bench_cases b join users u on u.tenant_id = b.tenant_id and u.id = md5('u-' || b.t || '-' || b.citizen)::uuid
             order by b.submitted_at;
             insert into registry_counters (tenant_id, year, last_number)
             select tenant_id, year, max(number) from bench_cases group by tenant_id, year;"
                .to_string(),
        ),
        (
            "cases (time order, tenants interleaved, as they arrive)",
            format!(
                "insert into cases (tenant_id, id, reference, user_id, procedure_slug, procedure_title, office_code, form,
                                    time_limit_days, answers, step, status, registry_year, registry_number, submitted_at,
                                    due_date, created_at, updated_at, workflow, state, state_since, assignee_id)
                 select tenant_id, id, reference, md5('u-' || t || '-' || citizen)::uuid, 'proc-' || lpad(p::text, 2, '0'),
                        'Procedimento ' || p, 'uff' || (1 + (p - 1) % 7), $form${form}$form$::jsonb, time_limit,
                        jsonb_build_object('nome', 'Nome', 'cognome', 'Cognome', 'indirizzo', 'Via Roma ' || k,
                                           'oggetto', 'Richiesta numero ' || k),
                        1, status, year, number, submitted_at, due_date, submitted_at - interval '20 minutes',
                        submitted_at + (now() - submitted_at) * r_assign * 0.5, $wf${workflow_json}$wf$::jsonb, state,
                        case when status = 'submitted' then submitted_at
                             else submitted_at + (least(now(), due_date::timestamptz) - submitted_at) * r_assign end,
                        -- Taken in hand: most cases past 'submitted'; 'me' is staff 0.
                        case when status <> 'submitted' and r_assign < 0.8
                             then md5('s-' || t || '-' || floor(r_assign * 1000)::int % 5)::uuid end
                 from bench_cases order by submitted_at;"
            ),
        ),
        (
            "case tasks (opinions asked of another office)",
            // 3 % of open cases wait for another office; 5 % of final ones had one, answered.
            "insert into case_tasks (tenant_id, id, case_id, office_code, kind, question, requested_by, requested_at,
                                     answer, answered_by, answered_at)
             select tenant_id, gen_random_uuid(), id, 'uff' || (1 + p % 7), 'opinion', 'Parere sulla pratica ' || reference,
                    'Operatore', submitted_at + interval '2 days',
                    case when final then 'Parere favorevole' end, case when final then 'Collega' end,
                    case when final then submitted_at + interval '5 days' end
             from (select *, status in ('accepted', 'rejected', 'closed') as final from bench_cases) b
             where (not final and r_task < 0.03) or (final and r_task < 0.05);"
                .to_string(),
        ),
        ("drop staging", "drop table bench_cases;".to_string()),
    ]
}

async fn seed(superuser: &PgConnectOptions) -> anyhow::Result<()> {
    let mut conn = PgConnection::connect_with(&superuser.clone().database(DATABASE)).await?;
    let seeded: i64 =
        sqlx::query_scalar("select count(*) from tenants where slug like 'bench-%'").fetch_one(&mut conn).await?;
    if seeded == i64::from(TENANTS) {
        println!("data set already seeded: skipping");
        return Ok(());
    }
    anyhow::ensure!(seeded == 0, "a partial seed ({seeded} tenants): start from an empty cluster");
    let workflow = serde_json::to_string(&Workflow::standard())?;
    println!("seeding (workflow snapshot {} bytes per case)", workflow.len());
    sqlx::raw_sql("set session_replication_role = replica; set work_mem = '512MB'").execute(&mut conn).await?;
    let started = Instant::now();
    for (what, sql) in seed_steps(&workflow) {
        let step = Instant::now();
        sqlx::raw_sql(&sql).execute(&mut conn).await?;
        println!("  {:>6.1} s  {what}", step.elapsed().as_secs_f64());
    }
    let inserted = started.elapsed();
    let step = Instant::now();
    // One statement per call: several in one simple query form an implicit transaction,
    // which VACUUM refuses.
    for sql in ["set session_replication_role = origin", "vacuum (analyze)", "checkpoint"] {
        sqlx::raw_sql(sql).execute(&mut conn).await?;
    }
    let vacuum = step.elapsed();
    println!(
        "seeded in {:.1} s (inserts {:.1} s + vacuum analyze {:.1} s)",
        started.elapsed().as_secs_f64(),
        inserted.as_secs_f64(),
        vacuum.as_secs_f64()
    );
    // The triggers were off: prove the keys they would have checked.
    let orphans: i64 = sqlx::query_scalar(
        "select (select count(*) from cases c where not exists
                    (select 1 from users u where u.tenant_id = c.tenant_id and u.id = c.user_id))
              + (select count(*) from cases c where not exists (select 1 from registry_entries r
                    where r.tenant_id = c.tenant_id and r.year = c.registry_year and r.number = c.registry_number))
              + (select count(*) from cases c where assignee_id is not null and not exists
                    (select 1 from users u where u.tenant_id = c.tenant_id and u.id = c.assignee_id))
              + (select count(*) from cases c where not exists
                    (select 1 from procedures p where p.tenant_id = c.tenant_id and p.slug = c.procedure_slug))",
    )
    .fetch_one(&mut conn)
    .await?;
    anyhow::ensure!(orphans == 0, "{orphans} dangling keys in the seed");
    conn.close().await?;
    Ok(())
}

async fn describe(superuser: &PgConnectOptions, tenants: &[Tenant]) -> anyhow::Result<()> {
    let mut conn = PgConnection::connect_with(&superuser.clone().database(DATABASE)).await?;
    let rows: Vec<(String, i64, String)> = sqlx::query_as(
        "select relname::text, reltuples::bigint,
                pg_size_pretty(pg_total_relation_size(oid))
         from pg_class where relname in ('cases', 'users', 'registry_entries', 'case_tasks') order by relname",
    )
    .fetch_all(&mut conn)
    .await?;
    for (name, tuples, size) in rows {
        println!("  {name:18} {tuples:>9} rows  {size} (with indexes)");
    }
    for t in tenants {
        let (all, open, mine_open, in_offices_open): (i64, i64, i64, i64) = sqlx::query_as(
            "select count(*), count(*) filter (where status not in ('accepted', 'rejected', 'closed')),
                    count(*) filter (where status not in ('accepted', 'rejected', 'closed') and assignee_id = $2),
                    count(*) filter (where status not in ('accepted', 'rejected', 'closed') and office_code = any($3))
             from cases where tenant_id = $1",
        )
        .bind(t.id)
        .bind(t.me)
        .bind(OPERATOR_OFFICES.map(String::from).to_vec())
        .fetch_one(&mut conn)
        .await?;
        println!(
            "  tenant {}: {all} cases, {open} open, {in_offices_open} open in the operator's 2 offices, {mine_open} open assigned to the operator",
            t.n
        );
    }
    conn.close().await?;
    Ok(())
}

struct Scenario {
    name: &'static str,
    filter: InboxFilter,
}

/// The eight inbox calls, with search terms taken from the tenant's own data.
async fn scenarios(superuser: &PgConnectOptions, t: &Tenant) -> anyhow::Result<Vec<Scenario>> {
    let mut conn = PgConnection::connect_with(&superuser.clone().database(DATABASE)).await?;
    // A case an operator would look for: open, in one of their offices.
    let (year, number, fiscal_code): (i32, i64, String) = sqlx::query_as(
        "select c.registry_year, c.registry_number, u.fiscal_code from cases c
         join users u on u.tenant_id = c.tenant_id and u.id = c.user_id
         where c.tenant_id = $1 and c.office_code = 'uff2' and c.status = 'in_progress'
         order by c.reference limit 1",
    )
    .bind(t.id)
    .fetch_one(&mut conn)
    .await?;
    conn.close().await?;
    let f = |edit: &dyn Fn(&mut InboxFilter)| {
        let mut filter = InboxFilter::default();
        edit(&mut filter);
        filter
    };
    Ok(vec![
        Scenario { name: "default (open, 2 offices, by deadline)", filter: f(&|_| {}) },
        Scenario { name: "one procedure", filter: f(&|x| x.procedura = "proc-01".into()) },
        Scenario { name: "scadenza=scadute", filter: f(&|x| x.scadenza = "scadute".into()) },
        Scenario { name: "assegnatario=me", filter: f(&|x| x.assegnatario = "me".into()) },
        Scenario { name: "registry number (2026/n)", filter: f(&|x| x.q = format!("{year}/{number}")) },
        // 'ferr' matches Ferrari, Ferrara, Ferraro, Ferri: a common prefix.
        Scenario { name: "surname prefix 'ferr'", filter: f(&|x| x.q = "ferr".into()) },
        Scenario { name: "fiscal code", filter: f(&|x| x.q = fiscal_code.clone()) },
        Scenario { name: "page 20", filter: f(&|x| x.pagina = Some(20)) },
    ])
}

/// One inbox call, as `backoffice::inbox` makes it; only the query is timed (the
/// transaction's `set_config` and commit are one round trip each either way).
async fn call(pool: &PgPool, t: &Tenant, filter: &InboxFilter, today: NaiveDate) -> anyhow::Result<(Duration, usize)> {
    let offices: Vec<String> = OPERATOR_OFFICES.map(String::from).to_vec();
    let mut tx = TenantTx::begin(pool, t.id).await?;
    let started = Instant::now();
    let rows = inbox(&mut tx, &offices, Some(t.me), filter, today).await?;
    let took = started.elapsed();
    tx.commit().await?;
    Ok((took, rows.len()))
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// Migration 0008's indexes: BENCH_BEFORE_AFTER=1 measures without them first (the
/// schema of 0001–0005), then with them, re-created from the migration's own text.
const INBOX_INDEXES_MIGRATION: &str = include_str!("../migrations/20261126000008_inbox_indexes.sql");
const INBOX_INDEXES: [&str; 2] = ["cases_open_by_deadline", "cases_open_by_assignee"];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let socket = std::env::var("BENCH_PG_SOCKET").map_err(|_| anyhow::anyhow!("BENCH_PG_SOCKET is not set"))?;
    let iters: usize = std::env::var("BENCH_ITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    let before_after = std::env::var("BENCH_BEFORE_AFTER").is_ok_and(|v| v == "1");
    let options =
        |role: &str, database: &str| PgConnectOptions::new().socket(&socket).username(role).database(database);
    let superuser = options("postgres", "postgres");
    db::bootstrap_roles(&superuser).await?;
    db::create_database(&superuser, DATABASE, None).await?;
    let admin = db::connect(&options(OWNER_ROLE, DATABASE), 2).await?;
    sportello::startup::migrate(&admin).await?;
    seed(&superuser).await?;
    let tenants = [tenant(&superuser, BIG_TENANT).await?, tenant(&superuser, SMALL_TENANT).await?];
    describe(&superuser, &tenants).await?;
    if before_after {
        let drop = INBOX_INDEXES.map(|i| format!("drop index if exists {i};")).join(" ");
        sqlx::raw_sql(&drop).execute(&admin).await?;
        // The old plans are slow: fewer rounds may be asked for them (BENCH_ITERS_BEFORE).
        let iters_before = std::env::var("BENCH_ITERS_BEFORE").ok().and_then(|v| v.parse().ok()).unwrap_or(iters);
        measure(&options, &tenants, iters_before, "before: migrations 0001-0005, without 0008's indexes").await?;
        let started = Instant::now();
        sqlx::raw_sql(INBOX_INDEXES_MIGRATION).execute(&admin).await?;
        println!("\n0008's indexes built in {:.1} s", started.elapsed().as_secs_f64());
    }
    admin.close().await;
    measure(&options, &tenants, iters, "schema as migrated").await
}

/// Fresh statistics, then the scenarios for each tenant and the plan of the slowest.
async fn measure(
    options: &dyn Fn(&str, &str) -> PgConnectOptions,
    tenants: &[Tenant],
    iters: usize,
    label: &str,
) -> anyhow::Result<()> {
    let superuser = options("postgres", "postgres");
    let mut conn = PgConnection::connect_with(&options("postgres", DATABASE)).await?;
    sqlx::raw_sql("analyze").execute(&mut conn).await?;
    conn.close().await?;
    println!("\n## {label}");
    let pool = db::connect(&options(APP_ROLE, DATABASE), 4).await?;
    let today = sportello::backoffice::desk::today();
    let mut results = Vec::new();
    for t in tenants {
        let list = scenarios(&superuser, t).await?;
        let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(iters); list.len()];
        let mut rows = vec![0; list.len()];
        for round in 0..warm_up_rounds(iters) + iters {
            for (i, s) in list.iter().enumerate() {
                let (took, n) = call(&pool, t, &s.filter, today).await?;
                if round >= warm_up_rounds(iters) {
                    samples[i].push(took);
                }
                rows[i] = n;
            }
        }
        for (i, s) in list.iter().enumerate() {
            let mut v = std::mem::take(&mut samples[i]);
            v.sort();
            results.push((t, s.name, s.filter.clone(), rows[i], v));
        }
    }
    println!(
        "\n{iters} calls per scenario after {} warm-up rounds, scenarios interleaved; ms; rows = page rows returned (51 = a full page + 'more')\n",
        warm_up_rounds(iters)
    );
    println!("| tenant | scenario | rows | p50 | p95 | p99 | max |");
    println!("|---|---|---|---|---|---|---|");
    for (t, name, _, n, v) in &results {
        let tenant = if t.n == BIG_TENANT { "100k" } else { "901" };
        println!(
            "| {tenant} | {name} | {n} | {} | {} | {} | {} |",
            ms(percentile(v, 0.50)),
            ms(percentile(v, 0.95)),
            ms(percentile(v, 0.99)),
            ms(*v.last().expect("samples"))
        );
    }
    pool.close().await;

    // The plan of the slowest scenario (by p95), as the runtime role ran it.
    let (t, name, filter, _, v) = results.iter().max_by_key(|r| percentile(&r.4, 0.95)).expect("at least one scenario");
    if let Ok(log) = std::env::var("BENCH_PG_LOG") {
        let mut conn = PgConnection::connect_with(&options("postgres", DATABASE)).await?;
        sqlx::raw_sql(&format!(
            "alter role {APP_ROLE} in database {DATABASE} set auto_explain.log_min_duration = 0;
             alter role {APP_ROLE} in database {DATABASE} set auto_explain.log_analyze = on;
             alter role {APP_ROLE} in database {DATABASE} set auto_explain.log_buffers = on;"
        ))
        .execute(&mut conn)
        .await?;
        let explained = db::connect(&options(APP_ROLE, DATABASE), 1).await?;
        let before = std::fs::metadata(&log)?.len();
        // Six times: from the sixth execution of a prepared statement PostgreSQL may
        // switch to its generic plan, as it did during the measurement.
        for _ in 0..6 {
            call(&explained, t, filter, today).await?;
        }
        explained.close().await;
        sqlx::raw_sql(&format!("alter role {APP_ROLE} in database {DATABASE} reset all")).execute(&mut conn).await?;
        conn.close().await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let text = std::fs::read(&log)?;
        let new = String::from_utf8_lossy(&text[before as usize..]);
        // One log entry per statement of the transaction; the inbox is the one on `cases c`.
        let plan =
            new.split("LOG:  duration:").filter(|e| e.contains("from cases c")).last().unwrap_or("(no plan logged)");
        println!(
            "\nslowest by p95 ({} ms): tenant {}, {name}; its plan (auto_explain, analyze + buffers):\n{plan}",
            ms(percentile(v, 0.95)),
            t.n
        );
    }
    Ok(())
}
