//! The audit trail: a gapless hash chain per ente under concurrency, append-only
//! for every role, invisible across enti, and tampering found by `verify` and by
//! `sportello audit verify`.

use std::process::Command;

use serde_json::json;
use sportello::{
    audit::{self, Actor, Change},
    db::{self, TenantTx},
};
use uuid::Uuid;

use crate::helpers::{root, test_db, TestDb};

async fn tenant(db: &TestDb, slug: &str) -> Uuid {
    sqlx::query_scalar("select id from tenants where slug = $1").bind(slug).fetch_one(&db.admin).await.unwrap()
}

/// The ente's current chain length (onboarding already wrote to it).
async fn chain_len(db: &TestDb, tenant: Uuid) -> i64 {
    let mut tx = TenantTx::begin(&db.admin, tenant).await.unwrap();
    sqlx::query_scalar("select count(*) from audit_log").fetch_one(tx.conn()).await.unwrap()
}

/// The day in Italy, which is how `seal_day` counts days.
async fn today(db: &TestDb) -> chrono::NaiveDate {
    sqlx::query_scalar("select (now() at time zone 'Europe/Rome')::date").fetch_one(&db.admin).await.unwrap()
}

fn change(n: usize) -> Change<'static> {
    Change {
        action: "case.assign",
        object_type: "case",
        object_id: format!("C-{n}"),
        before: Some(json!({ "office": null })),
        after: Some(json!({ "office": "anagrafe", "n": n })),
    }
}

fn clerk() -> Actor {
    Actor::staff(Uuid::from_u128(7), "Anna Bianchi (anagrafe)")
}

/// Appends `n` entries, one transaction each, as the runtime role.
async fn seed(db: &TestDb, tenant: Uuid, n: usize) {
    for i in 0..n {
        let mut tx = TenantTx::begin(&db.app, tenant).await.unwrap();
        audit::append(&mut tx, &clerk(), change(i)).await.unwrap();
        tx.commit().await.unwrap();
    }
}

/// What an attacker with the owner's credentials can do: switch the
/// append-only trigger off for one transaction and edit the rows.
async fn tamper(db: &TestDb, tenant: Uuid, sql: &str) {
    let mut tx = TenantTx::begin(&db.admin, tenant).await.unwrap();
    sqlx::query("alter table audit_log disable trigger audit_log_append_only").execute(tx.conn()).await.unwrap();
    let changed = sqlx::query(sql).execute(tx.conn()).await.unwrap().rows_affected();
    assert!(changed > 0, "{sql} changed nothing");
    sqlx::query("alter table audit_log enable trigger audit_log_append_only").execute(tx.conn()).await.unwrap();
    tx.commit().await.unwrap();
}

/// The cleverer attacker: replaces entry `seq` with one of their own carrying a
/// correct hash (computed by the real `append`), and puts the later entries
/// back untouched. `rewrite_tail` re-appends those too, so the whole tail is a
/// consistent chain.
async fn rewrite_from(db: &TestDb, tenant: Uuid, seq: i64, rewrite_tail: bool) {
    let mut tx = TenantTx::begin(&db.admin, tenant).await.unwrap();
    for sql in [
        "alter table audit_log disable trigger audit_log_append_only",
        "create temp table later on commit drop as select * from audit_log",
    ] {
        sqlx::query(sql).execute(tx.conn()).await.unwrap();
    }
    sqlx::query("delete from later where seq <= $1").bind(seq).execute(tx.conn()).await.unwrap();
    sqlx::query("delete from audit_log where seq >= $1").bind(seq).execute(tx.conn()).await.unwrap();
    let forger = Actor::system("onboarding");
    let mut forged = change(999);
    forged.after = Some(json!({ "office": "nessuno" }));
    assert_eq!(audit::append(&mut tx, &forger, forged).await.unwrap(), seq);
    if rewrite_tail {
        let later: i64 = sqlx::query_scalar("select count(*) from later").fetch_one(tx.conn()).await.unwrap();
        for i in 0..later {
            audit::append(&mut tx, &forger, change(1000 + i as usize)).await.unwrap();
        }
    } else {
        sqlx::query("insert into audit_log select * from later").execute(tx.conn()).await.unwrap();
    }
    sqlx::query("alter table audit_log enable trigger audit_log_append_only").execute(tx.conn()).await.unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn fifty_concurrent_appends_make_one_gapless_chain() {
    let db = test_db().await;
    let pool = db::connect(&db.targets.app, 16).await.unwrap();
    let valmora = tenant(&db, "valmora").await;
    let base = chain_len(&db, valmora).await;
    let mut tasks = Vec::new();
    for i in 0..60 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = TenantTx::begin(&pool, valmora).await.unwrap();
            let seq = audit::append(&mut tx, &clerk(), change(i)).await.unwrap();
            // Every sixth fails after appending: its seq must be given back.
            if i % 6 == 0 {
                tx.rollback().await.unwrap();
                return None;
            }
            tx.commit().await.unwrap();
            Some(seq)
        }));
    }
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.extend(task.await.unwrap());
    }
    seqs.sort();
    assert_eq!(seqs, (base + 1..=base + 50).collect::<Vec<i64>>(), "gapless, no duplicates");

    let result = audit::verify(&db.admin, valmora).await.unwrap();
    assert_eq!(result.entries, base + 50);
    assert!(result.is_intact(), "{}", result.line());
    assert_eq!(result.line(), format!("valmora: {} entries, chain intact", base + 50));
    // The runtime role can verify its own ente too.
    assert!(audit::verify(&db.app, valmora).await.unwrap().is_intact());

    // Linear: each entry links to the one before it.
    let mut tx = TenantTx::begin(&db.app, valmora).await.unwrap();
    let broken_links: i64 = sqlx::query_scalar(
        "select count(*) from audit_log a join audit_log b on b.tenant_id = a.tenant_id and b.seq = a.seq + 1
         where b.prev_hash <> a.hash",
    )
    .fetch_one(tx.conn())
    .await
    .unwrap();
    assert_eq!(broken_links, 0);
}

#[tokio::test]
async fn appends_of_one_ente_wait_for_each_other_and_not_for_other_enti() {
    let db = test_db().await;
    let (valmora, roccamare) = (tenant(&db, "valmora").await, tenant(&db, "roccamare").await);
    // Holds valmora's chain head, uncommitted.
    let mut holder = TenantTx::begin(&db.app, valmora).await.unwrap();
    audit::append(&mut holder, &clerk(), change(1)).await.unwrap();

    // `lock_timeout` turns "would wait" into an error instead of a hang.
    let mut same = TenantTx::begin(&db.app, valmora).await.unwrap();
    sqlx::query("set local lock_timeout = '300ms'").execute(same.conn()).await.unwrap();
    let err = audit::append(&mut same, &clerk(), change(2)).await.expect_err("valmora's second append must wait");
    assert!(err.to_string().contains("lock timeout"), "{err}");
    drop(same);

    let mut other = TenantTx::begin(&db.app, roccamare).await.unwrap();
    sqlx::query("set local lock_timeout = '300ms'").execute(other.conn()).await.unwrap();
    audit::append(&mut other, &clerk(), change(3)).await.expect("roccamare does not wait for valmora");
    other.commit().await.unwrap();
    holder.commit().await.unwrap();
}

#[tokio::test]
async fn each_ente_has_its_own_chain_invisible_to_the_others() {
    let db = test_db().await;
    let (valmora, roccamare) = (tenant(&db, "valmora").await, tenant(&db, "roccamare").await);
    let (base_v, base_r) = (chain_len(&db, valmora).await, chain_len(&db, roccamare).await);
    seed(&db, valmora, 3).await;
    seed(&db, roccamare, 2).await;
    assert_eq!(chain_len(&db, valmora).await, base_v + 3);
    assert_eq!(chain_len(&db, roccamare).await, base_r + 2, "seq is per ente");
    for (id, entries) in [(valmora, base_v + 3), (roccamare, base_r + 2)] {
        let result = audit::verify(&db.admin, id).await.unwrap();
        assert!(result.is_intact() && result.entries == entries, "{}", result.line());
    }

    // Row-level security: from roccamare, valmora's entries do not exist.
    let mut tx = TenantTx::begin(&db.app, roccamare).await.unwrap();
    let seen: i64 = sqlx::query_scalar("select count(*) from audit_log where tenant_id = $1")
        .bind(valmora)
        .fetch_one(tx.conn())
        .await
        .unwrap();
    assert_eq!(seen, 0);
    assert_eq!(audit::entries(&mut tx, "case", "C-2").await.unwrap().len(), 0, "C-2 exists only in valmora");
    assert_eq!(audit::entries(&mut tx, "case", "C-1").await.unwrap().len(), 1);
    // Nor can it append to valmora's chain.
    let forged = sqlx::query(
        "insert into audit_log (tenant_id, seq, at, actor_kind, actor_label, action, object_type, object_id,
                                prev_hash, hash)
         values ($1, 999, now(), 'system', 'x', 'x', 'x', 'x', $2, $2)",
    )
    .bind(valmora)
    .bind(vec![0u8; 32])
    .execute(tx.conn())
    .await;
    assert!(forged.unwrap_err().to_string().contains("row-level security"));

    // An object's history, as staff will see it, with its JSON as written.
    let mut tx = TenantTx::begin(&db.app, valmora).await.unwrap();
    let history = audit::entries(&mut tx, "case", "C-2").await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].seq, base_v + 3);
    assert_eq!(history[0].actor.label, "Anna Bianchi (anagrafe)");
    assert_eq!(history[0].actor.id, Some(Uuid::from_u128(7)));
    assert_eq!(history[0].after, Some(json!({ "office": "anagrafe", "n": 2 })));
}

#[tokio::test]
async fn json_that_jsonb_reorders_and_renormalises_still_verifies() {
    let db = test_db().await;
    let valmora = tenant(&db, "valmora").await;
    let mut tx = TenantTx::begin(&db.app, valmora).await.unwrap();
    let value = json!({
        "zeta": [1.5, 0.1, 1e-7, 2.0, -3, 18446744073709551615u64, 1e300],
        "a": { "long key": "è \"quoted\" \n\u{1}", "b": null, "aa": true },
        "": {}
    });
    audit::append(
        &mut tx,
        &Actor::system("test"),
        Change { action: "x.y", object_type: "t", object_id: String::new(), before: None, after: Some(value) },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let result = audit::verify(&db.admin, valmora).await.unwrap();
    assert!(result.is_intact(), "{}", result.line());
}

#[tokio::test]
async fn no_role_can_update_or_delete_an_entry() {
    let db = test_db().await;
    let valmora = tenant(&db, "valmora").await;
    seed(&db, valmora, 2).await;
    for sql in [
        "update audit_log set after = '{}'",
        "update audit_log set hash = prev_hash",
        "delete from audit_log",
        "truncate audit_log",
        "update audit_digests set last_seq = 1",
    ] {
        let mut tx = TenantTx::begin(&db.app, valmora).await.unwrap();
        let err = sqlx::query(sql).execute(tx.conn()).await.expect_err(sql);
        assert!(err.to_string().contains("permission denied"), "runtime: {sql}: {err}");
    }
    // The owner only with the trigger deliberately switched off.
    for sql in ["update audit_log set after = '{}'", "delete from audit_log", "truncate audit_log"] {
        let mut tx = TenantTx::begin(&db.admin, valmora).await.unwrap();
        let err = sqlx::query(sql).execute(tx.conn()).await.expect_err(sql);
        assert!(err.to_string().contains("audit_log is append-only"), "owner: {sql}: {err}");
    }
    let mut tx = TenantTx::begin(&db.app, valmora).await.unwrap();
    audit::seal_day(&mut tx, today(&db).await).await.unwrap().expect("a head to seal");
    tx.commit().await.unwrap();
    let mut tx = TenantTx::begin(&db.admin, valmora).await.unwrap();
    let err = sqlx::query("delete from audit_digests").execute(tx.conn()).await.unwrap_err();
    assert!(err.to_string().contains("audit_digests is append-only"), "{err}");
}

/// A fresh database with ten more valmora entries; returns it, valmora and the
/// seq of the first of the ten.
async fn ten_entries() -> (TestDb, Uuid, i64) {
    let db = test_db().await;
    let valmora = tenant(&db, "valmora").await;
    let base = chain_len(&db, valmora).await;
    seed(&db, valmora, 10).await;
    let result = audit::verify(&db.admin, valmora).await.unwrap();
    assert!(result.is_intact(), "{}", result.line());
    (db, valmora, base + 1)
}

#[tokio::test]
async fn verify_finds_the_first_tampered_entry() {
    // Content changed, hash left alone.
    let (db, valmora, first) = ten_entries().await;
    let k = first + 4;
    tamper(&db, valmora, &format!("update audit_log set after = '{{\"office\": \"tributi\"}}' where seq = {k}")).await;
    let result = audit::verify(&db.admin, valmora).await.unwrap();
    assert_eq!(result.first_bad_seq, Some(k), "{}", result.line());
    assert!(result.problem.as_deref().unwrap().contains("content altered"));
    assert_eq!(result.entries, first + 9, "every entry is still counted");
    assert!(result.line().starts_with(&format!("valmora: {} entries, ALTERED at entry {k}: ", first + 9)));

    // A later alteration does not hide the earlier one.
    tamper(&db, valmora, &format!("update audit_log set actor_label = 'x' where seq = {}", k + 3)).await;
    assert_eq!(audit::verify(&db.admin, valmora).await.unwrap().first_bad_seq, Some(k));

    // Only the hash changed.
    let (db, valmora, first) = ten_entries().await;
    tamper(&db, valmora, &format!("update audit_log set hash = sha256(hash) where seq = {}", first + 2)).await;
    assert_eq!(audit::verify(&db.admin, valmora).await.unwrap().first_bad_seq, Some(first + 2));

    // An entry deleted.
    let (db, valmora, first) = ten_entries().await;
    tamper(&db, valmora, &format!("delete from audit_log where seq = {}", first + 6)).await;
    let result = audit::verify(&db.admin, valmora).await.unwrap();
    assert_eq!(result.first_bad_seq, Some(first + 6), "{}", result.line());
    assert!(result.problem.as_deref().unwrap().contains("missing"));

    // The first entry's link to the genesis hash.
    let (db, valmora, _) = ten_entries().await;
    tamper(&db, valmora, "update audit_log set prev_hash = sha256(prev_hash) where seq = 1").await;
    assert_eq!(audit::verify(&db.admin, valmora).await.unwrap().first_bad_seq, Some(1));

    // One entry replaced by a well-formed one with its own correct hash: the
    // next entry's link gives it away.
    let (db, valmora, first) = ten_entries().await;
    rewrite_from(&db, valmora, first + 3, false).await;
    let result = audit::verify(&db.admin, valmora).await.unwrap();
    assert_eq!(result.first_bad_seq, Some(first + 3), "{}", result.line());
    assert_eq!(result.entries, first + 9);

    // The other ente's chain is untouched by all of this.
    let roccamare = tenant(&db, "roccamare").await;
    assert!(audit::verify(&db.admin, roccamare).await.unwrap().is_intact());
}

#[tokio::test]
async fn the_daily_digest_catches_a_rewritten_or_cut_tail() {
    let (db, valmora, first) = ten_entries().await;
    let today = today(&db).await;
    let mut tx = TenantTx::begin(&db.app, valmora).await.unwrap();
    let digest = audit::seal_day(&mut tx, today).await.unwrap().expect("a head to seal");
    tx.commit().await.unwrap();
    assert_eq!(digest.last_seq, first + 9);
    // Sealing the same day again changes nothing.
    let mut tx = TenantTx::begin(&db.app, valmora).await.unwrap();
    let again = audit::seal_day(&mut tx, today).await.unwrap().unwrap();
    assert_eq!((again.last_seq, again.head_hash.clone()), (digest.last_seq, digest.head_hash.clone()));
    tx.commit().await.unwrap();
    // Nothing before the first entry: nothing to seal.
    let mut tx = TenantTx::begin(&db.app, valmora).await.unwrap();
    assert!(audit::seal_day(&mut tx, chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap()).await.unwrap().is_none());
    drop(tx);
    seed(&db, valmora, 2).await;
    assert!(audit::verify(&db.admin, valmora).await.unwrap().is_intact());

    // The limit, stated: entries after the last digest can be rewritten, with
    // every later hash, by someone holding the owner's credentials.
    rewrite_from(&db, valmora, first + 10, true).await;
    assert!(audit::verify(&db.admin, valmora).await.unwrap().is_intact());

    // Rewriting from before the digest is caught at the digest.
    rewrite_from(&db, valmora, first + 7, true).await;
    let result = audit::verify(&db.admin, valmora).await.unwrap();
    assert_eq!(result.first_bad_seq, Some(1), "no earlier digest: anywhere from 1, {}", result.line());
    assert!(result.problem.as_deref().unwrap().contains(&format!("seal of {today}")), "{}", result.line());

    // Cutting the tail off, back past the digest.
    let (db, valmora, first) = ten_entries().await;
    let mut tx = TenantTx::begin(&db.app, valmora).await.unwrap();
    audit::seal_day(&mut tx, today).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    tamper(&db, valmora, &format!("delete from audit_log where seq >= {}", first + 8)).await;
    let result = audit::verify(&db.admin, valmora).await.unwrap();
    assert_eq!(result.first_bad_seq, Some(first + 8), "{}", result.line());
    assert!(result.problem.as_deref().unwrap().contains("entries missing at the end"));
}

#[tokio::test]
async fn the_cli_verifies_every_ente_and_fails_on_a_broken_chain() {
    let (db, valmora, first) = ten_entries().await;
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_sportello"))
            .args(args)
            .current_dir(root())
            .env("DATABASE_URL", db.url("sportello_app"))
            .env("DATABASE_ADMIN_URL", db.url("sportello_owner"))
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        (output.status.success(), stdout, stderr)
    };
    let (ok, stdout, stderr) = run(&["audit", "verify"]);
    assert!(ok, "{stdout} {stderr}");
    assert!(stdout.contains(&format!("valmora: {} entries, chain intact", first + 9)), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("roccamare: ") && l.ends_with("chain intact")), "{stdout}");
    let today = today(&db).await.to_string();
    let (ok, stdout, stderr) = run(&["audit", "seal", "--day", &today]);
    assert!(ok && stdout.contains(&format!("valmora: {today} sealed at entry {}", first + 9)), "{stdout} {stderr}");

    tamper(&db, valmora, &format!("update audit_log set object_id = 'C-0' where seq = {}", first + 5)).await;
    let (ok, stdout, _) = run(&["audit", "verify"]);
    assert!(!ok, "a broken chain must fail the command: {stdout}");
    assert!(stdout.contains(&format!("valmora: {} entries, ALTERED at entry {}: ", first + 9, first + 5)), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("roccamare: ") && l.ends_with("chain intact")), "{stdout}");
    // One ente at a time: the intact one passes.
    let (ok, stdout, stderr) = run(&["audit", "verify", "--tenant", "roccamare"]);
    assert!(ok && !stdout.contains("valmora"), "{stdout} {stderr}");
    let (ok, _, stderr) = run(&["audit", "verify", "--tenant", "nessuno"]);
    assert!(!ok && stderr.contains("no ente with slug nessuno"), "{stderr}");
}
