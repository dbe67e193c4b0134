//! Demo data for the embedded default (`dev_pages` only; docs/DEMO.md): each
//! demo ente gets citizens — the development identity provider's and a few
//! more — and about sixty cases spread over every status of its procedures'
//! workflows, with messages both ways, opinions between offices, integration
//! requests (answered or still suspending the clock), overdue cases, acts and
//! requests for assistance.
//!
//! Everything goes through the functions the citizen's counter and the back
//! office use: drafts are created and their form is filled through the same
//! parsing as a posted step, submission is `cases::submit::submit_case`
//! (registry number, receipt, application), cases move with the workflow
//! engine as a staff member of the ente (roles and offices from the ente's
//! policy), acts are generated and registered by the engine.
//!
//! A realistic past (a case overdue, a clock suspended for weeks) cannot be
//! made today without dating things in the past. The demo replays a made-up
//! history in chronological order with `procedure::Env::as_of` (and the
//! `as_of` of `submit_case`, `file_answer`, `citizen_message`): each step's
//! registry entry, timeline event, status change and request carry the
//! step's instant. Numbers stay gapless and follow their dates, so the seeding
//! refuses an ente whose register already holds entries later than the demo's
//! first step. The audit trail keeps the real time: it records when the demo
//! was written.
//!
//! One transaction per ente: all of it or nothing. Idempotent: an ente holding
//! the first demo citizen has been seeded and is left alone.

mod data;
mod people;
mod plan;

use std::collections::BTreeMap;

use anyhow::{bail, Context};
use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use self::{
    data::{data, fill, Rng},
    people::{citizens, Person, Staff},
    plan::{Action, Goal, ProcedureInfo},
};
use crate::{
    backoffice,
    cases::{
        assistance as citizen_assistance, integrations as citizen_integrations, messages as citizen_messages, submit,
    },
    db::TenantTx,
    fascicolo::UploadPolicy,
    i18n::Text,
    pdf::{write_pdf, Font, Layout, Meta},
    procedure::{
        assistance::{self, NewAssistance},
        engine::{self, TransitionInput},
        form::{self, Answers, FieldType, FormSpec, Identity},
        integrations, messages,
        store::{self, Actor, NewDocument},
        workflow::{Phase, Reason},
        Env,
    },
    state::AppState,
    tenancy::Tenant,
};

/// About this many cases per ente, drafts included.
const CASES_PER_ENTE: usize = 60;

/// What seeding one ente did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub slug: String,
    /// False: it was seeded already, nothing changed.
    pub seeded: bool,
    pub cases: usize,
    pub citizens: usize,
    /// Cases by `cases.status`.
    pub by_status: BTreeMap<String, usize>,
}

impl Report {
    pub fn line(&self) -> String {
        if !self.seeded {
            return format!("{}: demo data already there, unchanged", self.slug);
        }
        let statuses: Vec<String> = self.by_status.iter().map(|(s, n)| format!("{s} {n}")).collect();
        format!("{}: {} demo cases for {} citizens ({})", self.slug, self.cases, self.citizens, statuses.join(", "))
    }
}

/// Seeds every ente (or the one of `only`). Refused unless `dev_pages` is on.
/// `admin` (the owner role) marks each ente `demo` first: the registry of a
/// demo ente accepts the replayed past dates, any other refuses them.
pub async fn seed(state: &AppState, admin: &sqlx::PgPool, only: Option<&str>) -> anyhow::Result<Vec<Report>> {
    if !state.settings.dev_pages {
        bail!(
            "demo data is for development only: set SPORTELLO_DEV_PAGES=true (dev_pages = true), as scripts/run.sh does"
        );
    }
    sqlx::query("update tenants set demo = true where ($1::text is null or slug = $1) and not demo")
        .bind(only)
        .execute(admin)
        .await
        .context("marking the enti as demo enti")?;
    let ids: Vec<(Uuid, String)> = sqlx::query_as("select id, slug from tenants order by slug")
        .fetch_all(&state.db)
        .await
        .context("listing the enti")?;
    let mut reports = Vec::new();
    let mut found = false;
    for (id, slug) in ids {
        if only.is_some_and(|o| o != slug) {
            continue;
        }
        found = true;
        let tenant = state.tenants.by_id(id).await?.with_context(|| format!("{slug}: no primary host"))?;
        reports.push(Box::pin(seed_tenant(state, &tenant)).await.with_context(|| format!("{slug}: demo data"))?);
    }
    if let (Some(slug), false) = (only, found) {
        bail!("no ente with slug {slug}");
    }
    Ok(reports)
}

/// Seeds one ente, in one transaction; nothing if it was seeded already.
pub async fn seed_tenant(state: &AppState, tenant: &Tenant) -> anyhow::Result<Report> {
    let d = data();
    let mut tx = TenantTx::begin(&state.db, tenant.id).await?;
    // One seeder per ente at a time; the second finds the marker.
    sqlx::query("select pg_advisory_xact_lock(hashtextextended('sportello-demo:' || $1::text, 0))")
        .bind(tenant.id)
        .execute(tx.conn())
        .await?;
    let marker = &d.citizens[0].fiscal_code;
    let seeded: bool = sqlx::query_scalar("select exists (select from users where fiscal_code = $1)")
        .bind(marker)
        .fetch_one(tx.conn())
        .await?;
    if seeded {
        tx.rollback().await?;
        return Ok(Report {
            slug: tenant.slug.clone(),
            seeded: false,
            cases: 0,
            citizens: 0,
            by_status: BTreeMap::new(),
        });
    }
    let now = Utc::now();
    let mut rng = Rng::for_slug(&tenant.slug);
    let staff = Staff::load(state, tenant, &mut tx).await?;
    let procedures = procedures(&mut tx).await?;
    let infos: Vec<ProcedureInfo> = procedures
        .iter()
        .map(|p| ProcedureInfo {
            office: p.office_code.clone(),
            time_limit_days: p.time_limit_days.into(),
            workflow: p
                .workflow
                .as_ref()
                .map(|w| w.0.clone())
                .unwrap_or_else(crate::procedure::workflow::Workflow::standard),
        })
        .collect();
    let citizens = citizens(&mut tx).await?;
    let plans = plan::plan(&infos, citizens.len(), &staff, &mut rng, CASES_PER_ENTE);
    let earliest = plans.iter().filter_map(|p| p.steps.first()).map(|s| now - s.ago).min();
    if let Some(earliest) = earliest {
        let latest: Option<DateTime<Utc>> =
            sqlx::query_scalar("select max(registered_at) from registry_entries").fetch_one(tx.conn()).await?;
        if latest.is_some_and(|l| l >= earliest) {
            bail!(
                "the register already holds entries after {earliest}: the demo's past would be numbered after them \
                 (seed a fresh ente)"
            );
        }
    }
    let place = d.places.get(&tenant.slug).or_else(|| d.places.values().next()).context("no demo places")?;
    let mut seeder = Seeder { state, tenant, staff: &staff, rng, place, now, cases: Vec::new() };
    // Drafts first (they carry no dates), then every step of every case in
    // the order it happened.
    for p in &plans {
        let case = seeder.draft(&mut tx, &procedures[p.procedure], &citizens[p.citizen], p.goal == Goal::Draft).await?;
        seeder.cases.push(CaseState { id: case, citizen: p.citizen, task: None });
    }
    let mut steps: Vec<(DateTime<Utc>, usize, usize)> = plans
        .iter()
        .enumerate()
        .flat_map(|(c, p)| p.steps.iter().enumerate().map(move |(s, step)| (now - step.ago, c, s)))
        .collect();
    steps.sort();
    for (at, c, s) in steps {
        let plan = &plans[c];
        seeder
            .step(&mut tx, c, &plan.steps[s].action, at, &citizens[plan.citizen])
            .await
            .with_context(|| format!("case {} ({}): {:?}", c, procedures[plan.procedure].slug, plan.steps[s].action))?;
    }
    seeder.assistance(&mut tx, &citizens).await?;
    let by_status: Vec<(String, i64)> = sqlx::query_as(
        "select status, count(*) from cases c join users u on u.id = c.user_id
         where u.fiscal_code = any($1) group by status order by status",
    )
    .bind(citizens.iter().map(|c| c.fiscal_code.clone()).collect::<Vec<_>>())
    .fetch_all(tx.conn())
    .await?;
    tx.commit().await?;
    let by_status: BTreeMap<String, usize> = by_status.into_iter().map(|(s, n)| (s, n as usize)).collect();
    Ok(Report {
        slug: tenant.slug.clone(),
        seeded: true,
        cases: by_status.values().sum(),
        citizens: citizens.len(),
        by_status,
    })
}

/// The procedures a citizen can start online.
async fn procedures(tx: &mut TenantTx) -> anyhow::Result<Vec<store::ProcedureTerms>> {
    let slugs: Vec<String> = sqlx::query_scalar("select slug from procedures where published and online order by slug")
        .fetch_all(tx.conn())
        .await?;
    let mut out = Vec::new();
    for slug in slugs {
        out.extend(store::procedure_terms(tx, &slug).await?);
    }
    if out.is_empty() {
        bail!("no procedure can be started online");
    }
    Ok(out)
}

struct CaseState {
    id: Uuid,
    citizen: usize,
    /// The opinion asked, waiting for its answer.
    task: Option<(Uuid, String)>,
}

struct Seeder<'a> {
    state: &'a AppState,
    tenant: &'a Tenant,
    staff: &'a Staff,
    rng: Rng,
    place: &'a data::Place,
    now: DateTime<Utc>,
    cases: Vec<CaseState>,
}

impl Seeder<'_> {
    fn say(&self, text: &Text) -> String {
        self.state.renderer.catalogues().text(self.tenant.default_lang(), text)
    }

    fn values(&mut self, person: &Person, title: &str) -> Vec<(String, String)> {
        let d = data();
        let relative = self.rng.pick(&d.relatives);
        let street = self.rng.pick(&self.place.streets).clone();
        let number = self.rng.range(1, 120).to_string();
        vec![
            ("name".into(), person.name()),
            ("given_name".into(), person.given_name.clone()),
            ("family_name".into(), person.family_name.clone()),
            ("fiscal_code".into(), person.fiscal_code.clone()),
            ("email".into(), person.email.clone()),
            ("mobile".into(), person.mobile.clone().unwrap_or_default()),
            ("street".into(), street),
            ("number".into(), number),
            ("cap".into(), self.place.cap.clone()),
            ("municipality".into(), self.place.municipality.clone()),
            ("province".into(), self.place.province.clone()),
            ("relative_name".into(), relative.name.clone()),
            ("relative_fiscal_code".into(), relative.fiscal_code.clone()),
            ("relative_birth_date".into(), relative.birth_date.clone()),
            ("title".into(), title.to_string()),
        ]
    }

    /// A draft as the citizen starts it (prefilled from the identity), its
    /// form filled step by step through the parsing of a posted step; for a
    /// case to submit, its files attached too. `partial`: only the first step.
    async fn draft(
        &mut self,
        tx: &mut TenantTx,
        terms: &store::ProcedureTerms,
        person: &Person,
        partial: bool,
    ) -> anyhow::Result<Uuid> {
        let spec = match &terms.form {
            Some(f) => f.0.clone(),
            None => FormSpec::generic(self.state.renderer.catalogues(), self.tenant.default_lang()),
        };
        let identity = Identity {
            given_name: Some(person.given_name.clone()),
            family_name: Some(person.family_name.clone()),
            fiscal_code: Some(person.fiscal_code.clone()),
            email: Some(person.email.clone()),
            mobile: person.mobile.clone(),
            ..Default::default()
        };
        let prefilled = form::prefill(&spec, &identity);
        let case = store::create_draft(
            tx,
            store::NewDraft {
                user_id: person.user_id,
                delegation_id: person.delegation_id,
                procedure: terms,
                form: &spec,
                answers: &prefilled,
            },
        )
        .await?;
        let values = self.values(person, &terms.title);
        let values: Vec<(&str, &str)> = values.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let raw = self.typed(&terms.slug, &spec, &prefilled, &values);
        let mut answers = prefilled;
        let steps = if partial { 1 } else { spec.steps.len() };
        for step in 0..steps {
            let (next, errors) = form::parse_step(&spec, step, &raw, &answers);
            if !errors.is_empty() {
                let problems: Vec<String> = errors.iter().map(|(k, t)| format!("{k}: {}", self.say(t))).collect();
                bail!("{}: the demo answers do not fit the form: {}", terms.slug, problems.join("; "));
            }
            answers = next;
            store::save_answers(tx, case.id, &answers, step as i32).await?;
        }
        if !partial {
            self.attach(tx, case.id, &spec, &answers, person).await?;
        }
        Ok(case.id)
    }

    /// What the citizen types: the identity's prefill, then the demo's variant.
    fn typed(
        &mut self,
        slug: &str,
        spec: &FormSpec,
        prefilled: &Answers,
        values: &[(&str, &str)],
    ) -> Vec<(String, String)> {
        let d = data();
        let mut raw: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in &prefilled.0 {
            match v {
                Value::String(s) => {
                    raw.insert(k.clone(), s.clone());
                }
                Value::Bool(true) => {
                    raw.insert(k.clone(), "on".into());
                }
                Value::Object(parts) => {
                    for (p, v) in parts {
                        raw.insert(format!("{k}.{p}"), v.as_str().unwrap_or_default().to_string());
                    }
                }
                _ => {}
            }
        }
        // The variants written for this form (two enti may give the same
        // slug different forms): every field they name must be in it.
        let variants: Vec<&BTreeMap<String, String>> = d
            .forms
            .get(slug)
            .into_iter()
            .flatten()
            .filter(|v| v.keys().all(|k| spec.field(k.split('.').next().unwrap_or(k)).is_some()))
            .collect();
        match (!variants.is_empty()).then_some(variants) {
            Some(variants) => {
                for (k, v) in *self.rng.pick(&variants) {
                    raw.insert(k.clone(), fill(v, values));
                }
            }
            None => {
                // The generic form (or a form the demo has no words for):
                // every empty text area gets the request.
                let request = d.requests.get(slug).unwrap_or(&d.requests["default"]);
                for f in spec.steps.iter().flat_map(|s| &s.fields) {
                    if f.kind == FieldType::Textarea && !raw.contains_key(&f.key) {
                        raw.insert(f.key.clone(), fill(request, values));
                    }
                }
            }
        }
        raw.into_iter().collect()
    }

    /// One file for each shown file field that asks for one (and some that
    /// do not): a small PDF, or a PNG where PDF is not accepted.
    async fn attach(
        &mut self,
        tx: &mut TenantTx,
        case_id: Uuid,
        spec: &FormSpec,
        answers: &Answers,
        person: &Person,
    ) -> anyhow::Result<()> {
        for (_, f) in spec.file_fields() {
            if !spec.is_shown(&f.key, answers) || !(f.required || self.rng.chance(50)) {
                continue;
            }
            let pdf = f.accept.iter().any(|e| e == "pdf");
            let name = format!("{}.{}", file_stem(&f.label), if pdf { "pdf" } else { "png" });
            let bytes = if pdf { demo_pdf(&f.label, &person.name(), self.now) } else { Bytes::from_static(PNG) };
            self.file(tx, case_id, Some(&f.key), "upload", None, &name, bytes, &f.accept).await?;
        }
        let documents = store::documents(tx, case_id).await?;
        let case = store::case_by_id(tx, case_id, false).await?.context("the draft")?;
        let errors = form::validate_all(spec, answers, &store::file_counts(&documents));
        if !errors.is_empty() {
            let problems: Vec<String> = errors.iter().map(|(k, t)| format!("{k}: {}", self.say(t))).collect();
            bail!("{}: the demo case is incomplete: {}", case.procedure_slug, problems.join("; "));
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn file(
        &self,
        tx: &mut TenantTx,
        case_id: Uuid,
        field_key: Option<&str>,
        origin: &str,
        integration_id: Option<Uuid>,
        name: &str,
        bytes: Bytes,
        accept: &[String],
    ) -> anyhow::Result<store::Document> {
        let policy = UploadPolicy::from_extensions(accept, self.state.settings.upload_max_bytes);
        let stored = self.state.store.put_bytes(self.tenant.id, bytes, &policy).await?;
        let new = NewDocument {
            case_id,
            field_key,
            origin,
            name,
            format: stored.format.extension(),
            mime: stored.format.mime(),
            size: stored.size,
            sha256: &stored.sha256,
            integration_id,
            message_id: None,
        };
        Ok(store::add_document(tx, &self.state.store, new).await?)
    }

    async fn step(
        &mut self,
        tx: &mut TenantTx,
        c: usize,
        action: &Action,
        at: DateTime<Utc>,
        person: &Person,
    ) -> anyhow::Result<()> {
        let id = self.cases[c].id;
        let case = store::case_by_id(tx, id, true).await?.context("the demo case")?;
        let (state, staff) = (self.state, self.staff);
        let env = Env { as_of: Some(at), ..state.env() };
        let d = data();
        match action {
            Action::Submit => {
                let documents = store::documents(tx, id).await?;
                submit::submit_case(self.state, self.tenant, tx, &case, &documents, Some(at))
                    .await
                    .map_err(|e| anyhow::anyhow!("submission: {e:?}"))?;
            }
            Action::Transition(key) => {
                let workflow = case.workflow();
                let transition = workflow.transition(key).context("a planned transition")?;
                let target = workflow.status(&transition.to).context("its status")?;
                let operator = staff.for_case(&case.office_code, Some(transition)).context("nobody may run it")?;
                let words = &d.words;
                let reason = match (target.phase, transition.reason) {
                    (Phase::AwaitingIntegration, _) => self.rng.pick(&words.integration_reasons).clone(),
                    (_, Reason::None) => String::new(),
                    (Phase::Accepted, _) => self.rng.pick(&words.accept_reasons).clone(),
                    (Phase::Rejected, _) => self.rng.pick(&words.reject_reasons).clone(),
                    (Phase::Closed, _) => self.rng.pick(&words.close_reasons).clone(),
                    (_, Reason::Optional) => String::new(),
                    (_, Reason::Required) => self.rng.pick(&words.other_reasons).clone(),
                };
                // The citizen is given twenty days from the request to answer.
                let due_date = (target.phase == Phase::AwaitingIntegration)
                    .then(|| crate::time::rome_local(at).date() + Duration::days(20));
                let input = TransitionInput { reason, due_date };
                engine::run_transition(env, self.tenant, tx, &case, key, operator, &input)
                    .await
                    .map_err(|e| anyhow::anyhow!("transition {key}: {e:?}"))?;
            }
            Action::Answer => {
                let request = integrations::of_case(tx, id)
                    .await?
                    .into_iter()
                    .find(|r| r.answered_at.is_none())
                    .context("a pending request")?;
                let name = format!("{}.pdf", file_stem(&self.say(&Text::new("demo.integration_file"))));
                let pdf = demo_pdf(&request.reason, &person.name(), at);
                let accept: Vec<String> = citizen_integrations::ANSWER_FORMATS.iter().map(|s| s.to_string()).collect();
                let document = self.file(tx, id, None, "integration", Some(request.id), &name, pdf, &accept).await?;
                let text = self.rng.pick(&d.words.integration_answers).clone();
                citizen_integrations::file_answer(
                    self.state,
                    self.tenant,
                    tx,
                    &case,
                    request.id,
                    &text,
                    &[document],
                    Some(at),
                )
                .await?;
            }
            Action::OfficeMessage => {
                let operator = staff.for_case(&case.office_code, None).context("nobody works the office")?;
                let text = self.rng.pick(&d.words.office_messages).clone();
                let message = messages::office_writes(env, self.tenant, tx, id, &operator.label, &text).await?;
                engine::audit(
                    tx,
                    operator,
                    "case.message",
                    id,
                    None,
                    Some(json!({ "message": message, "text": text })),
                )
                .await?;
            }
            Action::CitizenMessage => {
                let values = self.values(person, &case.procedure_title);
                let values: Vec<(&str, &str)> = values.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                let text = fill(&self.rng.pick(&d.words.citizen_messages).clone(), &values);
                citizen_messages::citizen_message(self.state, self.tenant, tx, &case, &person.name(), &text, Some(at))
                    .await?;
            }
            Action::Assign => {
                let operator = staff.for_case(&case.office_code, None).context("nobody works the office")?;
                backoffice::desk::assign_case(env, self.tenant, tx, &case, operator, operator.user_id).await?;
            }
            Action::Note => {
                let operator = staff.for_case(&case.office_code, None).context("nobody works the office")?;
                let text = self.rng.pick(&d.words.notes).clone();
                let note = backoffice::db::add_note(tx, id, operator.user_id.context("a staff user")?, &text).await?;
                engine::audit(tx, operator, "case.note", id, None, Some(json!({ "note": note, "text": text }))).await?;
            }
            Action::Opinion(office) => {
                let operator = staff.for_case(&case.office_code, None).context("nobody works the office")?;
                let text = self.rng.pick(&d.words.opinion_questions).clone();
                let task =
                    engine::add_task(env, self.tenant, tx, id, office, "opinion", &text, &operator.label).await?;
                let subject = self.say(&Text::new("desk.opinion_subject").with("reference", &case.reference));
                let body = self.say(
                    &Text::new("desk.opinion_mail")
                        .with("who", &operator.label)
                        .with("reference", &case.reference)
                        .with("text", &text),
                );
                messages::notify_office(tx, office, &subject, &body).await?;
                let after = json!({ "task": task, "office": office, "question": text });
                engine::audit(tx, operator, "case.opinion_requested", id, None, Some(after)).await?;
                self.cases[c].task = Some((task, office.clone()));
            }
            Action::AnswerOpinion => {
                let (task, office) = self.cases[c].task.take().context("an opinion asked")?;
                let operator = staff.for_case(&office, None).context("nobody works the office asked")?;
                let text = self.rng.pick(&d.words.opinion_answers).clone();
                if !backoffice::db::answer_task(tx, id, task, &operator.process_offices, &text, &operator.label).await?
                {
                    bail!("the opinion could not be answered");
                }
                store::add_event_at(
                    tx,
                    Some(at),
                    id,
                    "internal_answered",
                    Actor::Office,
                    &self.say(&Text::new("desk.event_opinion_answered")),
                    json!({ "task": task }),
                )
                .await?;
                let after = json!({ "task": task, "answer": text });
                engine::audit(tx, operator, "case.opinion_answered", id, None, Some(after)).await?;
            }
        }
        Ok(())
    }

    /// Requests for assistance of the first citizens, some answered.
    async fn assistance(&mut self, tx: &mut TenantTx, people: &[Person]) -> anyhow::Result<()> {
        let d = data();
        for (n, spec) in d.assistance.iter().enumerate() {
            let person = &people[n % people.len()];
            let case_id = if spec.about_case {
                self.cases.iter().find(|c| c.citizen == n % people.len()).map(|c| c.id)
            } else {
                None
            };
            // Only a submitted case can be named (as on the citizen's page).
            let case = match case_id {
                Some(id) => store::case_by_id(tx, id, false).await?.filter(|c| !c.is_draft()),
                None => None,
            };
            let new = NewAssistance {
                user_id: person.user_id,
                kind: &spec.kind,
                case_id: case.as_ref().map(|c| c.id),
                subject: &spec.subject,
            };
            let id = assistance::open(tx, new).await?;
            messages::insert(tx, messages::Thread::Assistance(id), "citizen", &person.name(), &spec.body).await?;
            let mail_subject = self.say(&Text::new("mail.assistance.subject").with("subject", &spec.subject));
            let text = self.say(
                &Text::new("mail.assistance.body")
                    .with("name", person.name())
                    .with("ente", &self.tenant.name)
                    .with("body", &spec.body),
            );
            let office = match &case {
                Some(c) => Some(c.office_code.clone()),
                None => assistance::main_office(tx).await?,
            };
            if spec.kind == "technical" {
                if !self.state.settings.support_email.is_empty() {
                    crate::notify::queue_mail(tx, &self.state.settings.support_email, &mail_subject, &text).await?;
                }
            } else if let Some(office) = &office {
                messages::notify_office(tx, office, &mail_subject, &text).await?;
            }
            if let Some(reply) = &spec.reply {
                let (sender, author) = if spec.kind == "technical" {
                    ("platform", self.say(&Text::new("demo.support_desk")))
                } else {
                    let office = office.unwrap_or_default();
                    let who = self.staff.for_case(&office, None).map(|o| o.label.clone()).unwrap_or_default();
                    ("office", who)
                };
                citizen_assistance::staff_replies(self.state, self.tenant, tx, id, sender, &author, reply).await?;
            }
        }
        Ok(())
    }
}

/// "Planimetria in scala con l'accesso" -> "planimetria-in-scala-con-l-accesso".
fn file_stem(label: &str) -> String {
    let words: Vec<String> = label
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(6)
        .map(|w| w.chars().filter(char::is_ascii_alphanumeric).collect::<String>())
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() {
        "allegato".into()
    } else {
        words.join("-")
    }
}

/// A one-page PDF standing for what a citizen would scan.
fn demo_pdf(title: &str, author: &str, at: DateTime<Utc>) -> Bytes {
    let mut l = Layout::new(title);
    l.paragraph(title, Font::Bold, 14.0, 0.0);
    l.paragraph(author, Font::Regular, 11.0, 0.3);
    let meta = Meta {
        title: title.to_string(),
        author,
        subject: title,
        footer: author.to_string(),
        created: at.fixed_offset(),
    };
    Bytes::from(write_pdf(&meta, &l.into_pages()))
}

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d,
    0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_come_from_labels() {
        assert_eq!(
            file_stem("Planimetria in scala con l'accesso e la sua larghezza"),
            "planimetria-in-scala-con-l-accesso"
        );
        assert_eq!(file_stem("—"), "allegato");
    }

    #[test]
    fn the_demo_files_are_what_storage_accepts() {
        let pdf = demo_pdf("Planimetria", "Mario Rossi", Utc::now());
        use crate::fascicolo::{formats::detect, Format};
        assert_eq!(detect(&pdf, true), Some(Format::Pdf));
        assert_eq!(detect(PNG, true), Some(Format::Png));
    }
}
