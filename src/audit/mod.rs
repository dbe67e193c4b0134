//! The audit trail: every operator and system action that changes legal or
//! tenant state, with who did it, when, and the object before and after.
//!
//! Entries are append-only (a trigger refuses UPDATE and DELETE to every role)
//! and hash-chained per ente: `hash = SHA-256(prev_hash || canonical bytes)`, so
//! changing, removing or inserting an entry breaks the chain from there on, and
//! `sportello audit verify` finds where. A daily digest of each chain head
//! (`seal_day`) pins the chain in time; publishing it (and, with the
//! trust-services work, an RFC 3161 timestamp of it) is what makes rewriting the
//! whole tail detectable too. The format and the threat model: docs/AUDIT.md.

use std::collections::BTreeMap;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use futures::TryStreamExt;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use crate::db::TenantTx;

/// Version tag, first element of every entry's canonical form.
const FORMAT: &str = "sportello-audit/1";
/// `prev_hash` of an ente's first entry.
pub const GENESIS: [u8; 32] = [0; 32];
/// Seed of the advisory-lock key that serialises one ente's appends (the key is
/// `hashtextextended(tenant_id, seed)`; a collision between two enti only makes
/// them wait for each other).
const LOCK_SEED: i64 = 0x6175_6469_7400;

#[derive(Clone, Debug, Serialize)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: Option<Uuid>,
    pub label: String,
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ActorKind {
    Staff,
    Citizen,
    System,
    Api,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Staff => "staff",
            Self::Citizen => "citizen",
            Self::System => "system",
            Self::Api => "api",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "staff" => Self::Staff,
            "citizen" => Self::Citizen,
            "system" => Self::System,
            "api" => Self::Api,
            _ => return None,
        })
    }
}

impl Actor {
    /// The platform itself (onboarding, scheduled jobs): `label` names the part.
    pub fn system(label: &str) -> Self {
        Self { kind: ActorKind::System, id: None, label: label.to_string() }
    }

    /// An operator of the ente; `label` is what a reader of the trail recognises
    /// (name, e-mail), kept even if the account goes.
    pub fn staff(id: Uuid, label: &str) -> Self {
        Self { kind: ActorKind::Staff, id: Some(id), label: label.to_string() }
    }

    pub fn citizen(id: Uuid, label: &str) -> Self {
        Self { kind: ActorKind::Citizen, id: Some(id), label: label.to_string() }
    }
}

/// What happened: `action` is a dotted verb (`registry.cancel`), the object is
/// named by type and id, `before`/`after` are the relevant state (None when the
/// object did not exist / no longer exists).
pub struct Change<'a> {
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_id: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// One entry, as staff see an object's history.
#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Every hashed column of an entry, plus the two hashes.
#[derive(sqlx::FromRow)]
struct Record {
    tenant_id: Uuid,
    seq: i64,
    at: DateTime<Utc>,
    actor_kind: String,
    actor_id: Option<Uuid>,
    actor_label: String,
    action: String,
    object_type: String,
    object_id: String,
    before: Option<Value>,
    after: Option<Value>,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

const RECORD_COLUMNS: &str = "tenant_id, seq, at, actor_kind, actor_id, actor_label, action, object_type, object_id, \
                              before, after, prev_hash, hash";

impl Record {
    /// The canonical bytes: a JSON array in a fixed order, written with sorted
    /// object keys and no whitespace (docs/AUDIT.md spells it out).
    fn canonical(&self) -> Vec<u8> {
        let fields = [
            Value::from(FORMAT),
            Value::from(self.tenant_id.to_string()),
            Value::from(self.seq),
            Value::from(self.at.to_rfc3339_opts(SecondsFormat::Micros, true)),
            Value::from(self.actor_kind.as_str()),
            self.actor_id.map_or(Value::Null, |id| Value::from(id.to_string())),
            Value::from(self.actor_label.as_str()),
            Value::from(self.action.as_str()),
            Value::from(self.object_type.as_str()),
            Value::from(self.object_id.as_str()),
            self.before.clone().unwrap_or(Value::Null),
            self.after.clone().unwrap_or(Value::Null),
        ];
        let mut out = String::new();
        canonical_json(&Value::Array(fields.into()), &mut out);
        out.into_bytes()
    }

    fn compute_hash(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(&self.prev_hash);
        hasher.update(self.canonical());
        let mut hash = [0; 32];
        hash.copy_from_slice(&hasher.finalize());
        hash
    }
}

/// Canonical JSON: object keys sorted by their UTF-8 bytes, no whitespace,
/// strings escaped as serde_json does, numbers as serde_json prints them.
/// Sorting here (not relying on serde_json's map type) keeps the bytes the same
/// whichever serde_json features another crate turns on.
pub fn canonical_json(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(&serde_json::to_string(s).expect("a string always serialises")),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut pairs: Vec<(&String, &Value)> = map.iter().collect();
            pairs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in pairs.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(key).expect("a string always serialises"));
                out.push(':');
                canonical_json(item, out);
            }
            out.push('}');
        }
    }
}

/// Appends an entry in the caller's transaction and returns its seq: it exists
/// if and only if the caller's work commits.
///
/// From here to the end of the transaction the ente's other appends wait, so
/// call it last, right before committing (and never hold another ente's
/// transaction open meanwhile). The transaction must be READ COMMITTED (what
/// `TenantTx` uses): the chain head is read after the lock is taken.
pub async fn append(tx: &mut TenantTx, actor: &Actor, change: Change<'_>) -> sqlx::Result<i64> {
    // A statement of its own: under READ COMMITTED the next statement's snapshot
    // then includes the entry of whoever held the lock before us.
    sqlx::query("select pg_advisory_xact_lock(hashtextextended($1::text, $2))")
        .bind(tx.tenant_id)
        .bind(LOCK_SEED)
        .execute(tx.conn())
        .await?;
    // `before`/`after` make a round trip through jsonb and `at` comes from the
    // database, so what is hashed is exactly what `verify` will read back (jsonb
    // reorders keys and normalises numbers; timestamps keep microseconds).
    #[derive(sqlx::FromRow)]
    struct Head {
        last_seq: Option<i64>,
        last_hash: Option<Vec<u8>>,
        at: DateTime<Utc>,
        before: Option<Value>,
        after: Option<Value>,
    }
    let Head { last_seq, last_hash, at, before, after } = sqlx::query_as(
        "select h.seq as last_seq, h.hash as last_hash, clock_timestamp() as at, $2::jsonb as before, $3::jsonb as after
             from (values (1)) as one
             left join lateral (select seq, hash from audit_log where tenant_id = $1 order by seq desc limit 1) as h
               on true",
    )
    .bind(tx.tenant_id)
    .bind(&change.before)
    .bind(&change.after)
    .fetch_one(tx.conn())
    .await?;
    let mut record = Record {
        tenant_id: tx.tenant_id,
        seq: last_seq.unwrap_or(0) + 1,
        at,
        actor_kind: actor.kind.as_str().to_string(),
        actor_id: actor.id,
        actor_label: actor.label.clone(),
        action: change.action.to_string(),
        object_type: change.object_type.to_string(),
        object_id: change.object_id,
        before,
        after,
        prev_hash: last_hash.unwrap_or_else(|| GENESIS.to_vec()),
        hash: Vec::new(),
    };
    record.hash = record.compute_hash().to_vec();
    sqlx::query(
        "insert into audit_log (tenant_id, seq, at, actor_kind, actor_id, actor_label, action, object_type,
                                object_id, before, after, prev_hash, hash)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(record.tenant_id)
    .bind(record.seq)
    .bind(record.at)
    .bind(&record.actor_kind)
    .bind(record.actor_id)
    .bind(&record.actor_label)
    .bind(&record.action)
    .bind(&record.object_type)
    .bind(&record.object_id)
    .bind(&record.before)
    .bind(&record.after)
    .bind(&record.prev_hash)
    .bind(&record.hash)
    .execute(tx.conn())
    .await?;
    Ok(record.seq)
}

/// An object's history, oldest first.
pub async fn entries(tx: &mut TenantTx, object_type: &str, object_id: &str) -> sqlx::Result<Vec<Entry>> {
    let records: Vec<Record> = sqlx::query_as(&format!(
        "select {RECORD_COLUMNS} from audit_log where object_type = $1 and object_id = $2 order by seq"
    ))
    .bind(object_type)
    .bind(object_id)
    .fetch_all(tx.conn())
    .await?;
    Ok(records
        .into_iter()
        .map(|r| Entry {
            seq: r.seq,
            at: r.at,
            actor: Actor {
                // The column's check constraint admits only the four kinds.
                kind: ActorKind::parse(&r.actor_kind).unwrap_or(ActorKind::System),
                id: r.actor_id,
                label: r.actor_label,
            },
            action: r.action,
            object_type: r.object_type,
            object_id: r.object_id,
            before: r.before,
            after: r.after,
        })
        .collect())
}

/// The outcome of checking one ente's chain.
#[derive(Clone, Debug, Serialize)]
pub struct Verification {
    pub tenant_slug: String,
    pub entries: i64,
    /// The first entry that is not what the chain committed to.
    pub first_bad_seq: Option<i64>,
    /// What is wrong there (Italian, for the operator reading the CLI).
    pub problem: Option<String>,
}

impl Verification {
    pub fn is_intact(&self) -> bool {
        self.first_bad_seq.is_none()
    }

    /// `valmora: 1234 entries, chain intact` / `valmora: 1234 entries, ALTERED at entry 57: ...`
    pub fn line(&self) -> String {
        match (self.first_bad_seq, &self.problem) {
            (Some(seq), problem) => format!(
                "{}: {} entries, ALTERED at entry {seq}: {}",
                self.tenant_slug,
                self.entries,
                problem.as_deref().unwrap_or("")
            ),
            (None, _) => format!("{}: {} entries, chain intact", self.tenant_slug, self.entries),
        }
    }
}

/// Recomputes one ente's chain, streaming it in seq order: finds altered
/// content, altered hashes, missing entries (a gap in seq), broken links, and
/// entries that disagree with (or are missing under) the ente's daily digests.
/// Works with either pool: it reads through the ente's row-level security scope.
pub async fn verify(pool: &PgPool, tenant_id: Uuid) -> anyhow::Result<Verification> {
    let slug: String = sqlx::query_scalar("select slug from tenants where id = $1")
        .bind(tenant_id)
        .fetch_optional(pool)
        .await?
        .with_context(|| format!("no tenant {tenant_id}"))?;
    let mut tx = TenantTx::begin(pool, tenant_id).await?;
    // Several quiet days can seal the same head.
    let mut digests: BTreeMap<i64, Vec<(NaiveDate, Vec<u8>)>> = BTreeMap::new();
    let rows: Vec<(NaiveDate, i64, Vec<u8>)> =
        sqlx::query_as("select day, last_seq, head_hash from audit_digests where tenant_id = $1 order by day")
            .bind(tenant_id)
            .fetch_all(tx.conn())
            .await?;
    for (day, last_seq, head_hash) in rows {
        digests.entry(last_seq).or_default().push((day, head_hash));
    }

    let mut entries = 0i64;
    let mut bad: Option<(i64, String)> = None;
    let mut expected = 1i64;
    let mut prev_hash = GENESIS.to_vec();
    // The last digest passed: where a rewrite caught by a later digest may start.
    let mut last_sealed = 0i64;
    let sql = format!("select {RECORD_COLUMNS} from audit_log where tenant_id = $1 order by seq");
    {
        let mut stream = sqlx::query_as::<_, Record>(&sql).bind(tenant_id).fetch(tx.conn());
        while let Some(r) = stream.try_next().await? {
            entries += 1;
            if bad.is_some() {
                continue; // only counting from here
            }
            bad = check_entry(&r, expected, &prev_hash, digests.get(&r.seq), last_sealed);
            if digests.contains_key(&r.seq) {
                last_sealed = r.seq;
            }
            expected = r.seq + 1;
            prev_hash = r.hash;
        }
    }
    tx.rollback().await?;
    if bad.is_none() {
        // A digest beyond the end: entries were cut off the tail.
        if let Some((&last_seq, sealed)) = digests.range(expected..).next() {
            bad = Some((
                expected,
                format!(
                    "entries missing at the end: the seal of {} covers up to entry {last_seq}, the chain ends at {}",
                    sealed[0].0,
                    expected - 1
                ),
            ));
        }
    }
    let (first_bad_seq, problem) = bad.unzip();
    Ok(Verification { tenant_slug: slug, entries, first_bad_seq, problem })
}

/// The first problem with entry `r`, given the seq and `prev_hash` the chain so
/// far calls for. Order matters: a seq gap first (the entries around it may be
/// fine), then the entry against its own hash, then the link to its predecessor.
fn check_entry(
    r: &Record,
    expected: i64,
    prev_hash: &[u8],
    sealed: Option<&Vec<(NaiveDate, Vec<u8>)>>,
    last_sealed: i64,
) -> Option<(i64, String)> {
    if r.seq != expected {
        return Some((expected, format!("entry {expected} missing: {} is followed by {}", expected - 1, r.seq)));
    }
    if r.compute_hash()[..] != r.hash[..] {
        return Some((r.seq, "content altered: the recorded hash does not match the entry".into()));
    }
    if r.prev_hash != prev_hash {
        // This entry is intact but committed to a different predecessor: the
        // predecessor was rewritten together with its hash (or, the rarer
        // case, this entry was rewritten together with both its hashes).
        return Some(if r.seq == 1 {
            (1, "the first entry does not start from the initial hash (32 zero bytes)".into())
        } else {
            (
                r.seq - 1,
                format!(
                    "entry {} is not the one entry {} links to (rewritten together with its hash)",
                    r.seq - 1,
                    r.seq
                ),
            )
        });
    }
    for (day, head_hash) in sealed.into_iter().flatten() {
        if head_hash[..] != r.hash[..] {
            return Some((
                last_sealed + 1,
                format!(
                    "the chain does not match the seal of {day} (entry {}): rewritten from an entry between {} and {}",
                    r.seq,
                    last_sealed + 1,
                    r.seq
                ),
            ));
        }
    }
    None
}

/// Every ente's chain, by slug.
pub async fn verify_all(pool: &PgPool) -> anyhow::Result<Vec<Verification>> {
    let ids: Vec<Uuid> = sqlx::query_scalar("select id from tenants order by slug").fetch_all(pool).await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(verify(pool, id).await?);
    }
    Ok(out)
}

/// A day's digest of an ente's chain head.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct DailyDigest {
    pub day: NaiveDate,
    pub last_seq: i64,
    pub head_hash: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

/// Seals `day` (Italian time): records the chain head as of the end of that
/// day, or as of now if the day is not over (a later seal of the same day
/// changes nothing: a digest, once written, stays). `None` while the chain is
/// still empty at that point.
///
/// This is a plain digest. A qualified RFC 3161 timestamp of it comes with the
/// trust-services work; until then the digests are worth what their
/// publication outside this database is worth (docs/AUDIT.md).
pub async fn seal_day(tx: &mut TenantTx, day: NaiveDate) -> sqlx::Result<Option<DailyDigest>> {
    let inserted: Option<DailyDigest> = sqlx::query_as(
        "insert into audit_digests (tenant_id, day, last_seq, head_hash)
         select $1, $2, seq, hash from audit_log
         where tenant_id = $1 and at < (($2::date + 1)::timestamp at time zone 'Europe/Rome')
         order by seq desc limit 1
         on conflict (tenant_id, day) do nothing
         returning day, last_seq, head_hash, created_at",
    )
    .bind(tx.tenant_id)
    .bind(day)
    .fetch_optional(tx.conn())
    .await?;
    if inserted.is_some() {
        return Ok(inserted);
    }
    sqlx::query_as("select day, last_seq, head_hash, created_at from audit_digests where tenant_id = $1 and day = $2")
        .bind(tx.tenant_id)
        .bind(day)
        .fetch_optional(tx.conn())
        .await
}

/// Seals `day` for every ente (`sportello audit seal`); returns (slug, digest).
pub async fn seal_all(pool: &PgPool, day: NaiveDate) -> anyhow::Result<Vec<(String, Option<DailyDigest>)>> {
    let tenants: Vec<(Uuid, String)> =
        sqlx::query_as("select id, slug from tenants order by slug").fetch_all(pool).await?;
    let mut out = Vec::with_capacity(tenants.len());
    for (id, slug) in tenants {
        let mut tx = TenantTx::begin(pool, id).await?;
        let digest = seal_day(&mut tx, day).await?;
        tx.commit().await?;
        out.push((slug, digest));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_and_drops_whitespace() {
        let v: Value =
            serde_json::from_str(r#"{ "b": [1, 2.5, {"z": null, "a": true}], "a": "x\"y\n", "é": 1 }"#).unwrap();
        let mut out = String::new();
        canonical_json(&v, &mut out);
        assert_eq!(out, r#"{"a":"x\"y\n","b":[1,2.5,{"a":true,"z":null}],"é":1}"#);
    }

    #[test]
    fn the_hash_covers_every_field_and_the_previous_hash() {
        let record = || Record {
            tenant_id: Uuid::nil(),
            seq: 1,
            at: DateTime::from_timestamp(1_700_000_000, 123_456_000).unwrap(),
            actor_kind: "system".into(),
            actor_id: None,
            actor_label: "onboarding".into(),
            action: "tenant.create".into(),
            object_type: "tenant".into(),
            object_id: "valmora".into(),
            before: None,
            after: Some(serde_json::json!({"name": "Comune di Valmora"})),
            prev_hash: GENESIS.to_vec(),
            hash: Vec::new(),
        };
        assert_eq!(
            String::from_utf8(record().canonical()).unwrap(),
            r#"["sportello-audit/1","00000000-0000-0000-0000-000000000000",1,"2023-11-14T22:13:20.123456Z","system",null,"onboarding","tenant.create","tenant","valmora",null,{"name":"Comune di Valmora"}]"#
        );
        let base = record().compute_hash();
        let mut changed = record();
        changed.after = Some(serde_json::json!({"name": "Comune di Valmora!"}));
        assert_ne!(changed.compute_hash(), base);
        let mut changed = record();
        changed.prev_hash = vec![1; 32];
        assert_ne!(changed.compute_hash(), base);
        let mut changed = record();
        changed.actor_id = Some(Uuid::nil());
        assert_ne!(changed.compute_hash(), base);
    }
}
