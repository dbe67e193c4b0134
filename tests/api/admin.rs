//! The ente admin console over HTTP (staff sign in through the real OpenID
//! Connect provider of the back-office tests): who may reach it, the catalogue
//! tree, a procedure's draft, preview and publication, concurrent edits, and
//! the revision mechanism that `tenant apply` goes through as well — citizens'
//! open drafts move to a compatible new revision, submitted cases never move.

mod branding;
mod forms;
mod workflows;

use reqwest::multipart::Form;
use sportello::{db::TenantTx, onboarding};

use crate::{
    auth::{ROCCAMARE, VALMORA},
    backoffice::{offices, staff},
    cases::{citizen, start},
    helpers::{copy_dir, location, root, scratch, spawn_app, spawn_node, test_settings, wait_for, Browser, TestApp},
};

pub const ADMIN: &str = "mario.rossi@valmora.example";
const OPERATOR: &str = "giulia.bianchi@valmora.example";

pub async fn valmora(app: &TestApp) -> TenantTx {
    TenantTx::begin(&app.db.admin, app.tenant_id_of("valmora").await).await.unwrap()
}

/// The value of the hidden `name` input of a page.
pub fn hidden(html: &str, name: &str) -> String {
    let at = html.find(&format!("name=\"{name}\" value=\"")).unwrap_or_else(|| panic!("no {name} in the page"));
    let rest = &html[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// The editor's fields as the browser would send them back, with `changes` applied.
pub async fn save_details(admin: &mut Browser, slug: &str, changes: &[(&str, &str)]) -> reqwest::Response {
    let page = admin.get_text(&format!("/admin/procedure/{slug}")).await;
    let version = hidden(&page, "version");
    save_with_version(admin, slug, &version, changes).await
}

async fn save_with_version(
    admin: &mut Browser,
    slug: &str,
    version: &str,
    changes: &[(&str, &str)],
) -> reqwest::Response {
    let mut fields: Vec<(&str, &str)> = vec![
        ("version", version),
        ("office", "UO-TEC"),
        ("time_limit_days", "30"),
        ("min_level", "2"),
        ("online", "on"),
    ];
    for (name, value) in changes {
        fields.retain(|(n, _)| n != name);
        fields.push((name, value));
    }
    admin.post(&format!("/admin/procedure/{slug}"), &fields).await
}

#[tokio::test]
async fn only_the_entes_admins_reach_the_console_and_other_entes_objects_are_not_found() {
    let app = spawn_app().await;
    let _provider = offices(&app).await;
    let slug = "cambio-residenza";
    let gets = [
        "/admin".to_string(),
        "/admin/catalogo".into(),
        format!("/admin/procedure/{slug}"),
        format!("/admin/procedure/{slug}/anteprima"),
        format!("/admin/procedure/{slug}/pubblica"),
        format!("/admin/procedure/{slug}/revisioni"),
        format!("/admin/procedure/{slug}/flusso"),
        format!("/admin/procedure/{slug}/flusso/stato?chiave=in_istruttoria"),
        format!("/admin/procedure/{slug}/flusso/azione?chiave=accogli"),
        format!("/admin/procedure/{slug}/flusso/scadenza"),
        format!("/admin/procedure/{slug}/flusso/documento"),
        format!("/admin/procedure/{slug}/modulo"),
        format!("/admin/procedure/{slug}/modulo/anteprima"),
        format!("/admin/procedure/{slug}/modulo/campo?passo=1&tipo=text"),
        "/admin/catalogo/categorie/anagrafe-stato-civile".into(),
    ];

    // Anonymous: the staff sign-in, for every page.
    let mut anonymous = Browser::new(&app, VALMORA);
    for path in &gets {
        let response = anonymous.get(path).await;
        assert_eq!(response.status(), 303, "{path}");
        assert!(location(&response).starts_with("/backoffice/accesso"), "{path}: {}", location(&response));
    }
    // A citizen, and an operator of the same ente without the admin role: 403.
    let mut maria = citizen(&app, VALMORA, "maria@example.it", "347 123 4567").await;
    let mut giulia = staff(&app, VALMORA, OPERATOR).await;
    for path in &gets {
        assert_eq!(maria.get(path).await.status(), 403, "citizen on {path}");
        assert_eq!(giulia.get(path).await.status(), 403, "operator on {path}");
    }
    for (path, fields) in [
        ("/admin/catalogo/categorie", vec![("name", "Nuova")]),
        ("/admin/procedure", vec![("title", "Nuovo"), ("category", "anagrafe-stato-civile"), ("office", "UO-ANAG")]),
        ("/admin/procedure/cambio-residenza/pubblica", vec![("version", "0")]),
        ("/admin/procedure/cambio-residenza/catalogo", vec![("action", "offline")]),
        ("/admin/procedure/cambio-residenza/flusso", vec![("version", "1"), ("action", "own")]),
        ("/admin/procedure/cambio-residenza/flusso/azione", vec![("version", "1"), ("label", "Chiudi")]),
    ] {
        assert_eq!(giulia.post(path, &fields).await.status(), 403, "operator posting {path}");
    }
    // The admin of Roccamare: his session is not one of Valmora's, and on his
    // own host Valmora's procedures and categories do not exist.
    let mut paolo = staff(&app, ROCCAMARE, "paolo.gialli@roccamare.example").await;
    assert_eq!(paolo.get("/admin").await.status(), 200);
    let mut paolo_on_valmora = Browser::new(&app, VALMORA);
    paolo_on_valmora.cookies = paolo.cookies.clone();
    assert_eq!(paolo_on_valmora.get("/admin").await.status(), 303, "another ente's session is no session here");
    let valmora_only = "cila";
    for path in [
        format!("/admin/procedure/{valmora_only}"),
        format!("/admin/procedure/{valmora_only}/revisioni"),
        format!("/admin/procedure/{valmora_only}/flusso"),
        format!("/admin/procedure/{valmora_only}/flusso/stato?chiave=in_istruttoria"),
        "/admin/catalogo/categorie/edilizia-urbanistica".into(),
    ] {
        assert_eq!(paolo.get(&path).await.status(), 404, "Roccamare's admin on {path}");
    }
    assert_eq!(
        paolo.post(&format!("/admin/procedure/{valmora_only}/catalogo"), &[("action", "offline")]).await.status(),
        404
    );
    assert_eq!(paolo.post("/admin/catalogo/categorie/edilizia-urbanistica/elimina", &[]).await.status(), 404);
    let label = [("version", "1"), ("key", ""), ("label", "Sospesa"), ("phase", "in_progress")];
    assert_eq!(paolo.post(&format!("/admin/procedure/{valmora_only}/flusso/stato"), &label).await.status(), 404);
    let own = [("version", "1"), ("action", "own")];
    assert_eq!(paolo.post(&format!("/admin/procedure/{valmora_only}/flusso"), &own).await.status(), 404);
    // Valmora's own admin sees all of them.
    let mut mario = staff(&app, VALMORA, ADMIN).await;
    for path in &gets {
        assert_eq!(mario.get(path).await.status(), 200, "admin on {path}");
    }
    // The workflow, drawn: a box per status, the final ones marked.
    let picture = mario.get_text(&format!("/admin/procedure/{slug}/flusso")).await;
    assert!(picture.contains("data-element=\"workflow-picture\"") && picture.contains("data-final=\"true\""));
    // The back-office shell links to the console for admins only.
    assert!(mario.get_text("/backoffice/pratiche").await.contains("data-element=\"admin-console-link\""));
    assert!(!giulia.get_text("/backoffice/pratiche").await.contains("data-element=\"admin-console-link\""));
}

#[tokio::test]
async fn an_admin_builds_the_catalogue_edits_a_draft_and_publishes_it() {
    let app = spawn_app().await;
    let _provider = offices(&app).await;
    let mut mario = staff(&app, VALMORA, ADMIN).await;

    // A category: refused without a name (422, message next to the field), then made.
    let refused = mario.post("/admin/catalogo/categorie", &[("name", "  "), ("description", "")]).await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("Indica il nome della categoria"));
    let made = mario
        .post(
            "/admin/catalogo/categorie",
            &[("name", "Sport e tempo libero"), ("description", "Impianti sportivi e associazioni.")],
        )
        .await;
    assert_eq!(location(&made), "/admin/catalogo?esito=categoria-creata");
    let tree = mario.get_text(&location(&made)).await;
    assert!(tree.contains("id=\"categoria-sport-e-tempo-libero\"") && tree.contains("Categoria creata."), "{tree}");
    // Moved up: it swaps with the category before it, and the public catalogue follows.
    let order = |html: &str| {
        html.find("categoria-sport-e-tempo-libero").unwrap()
            < html.find("categoria-partecipazione-trasparenza").unwrap()
    };
    assert!(!order(&tree), "a new category comes last");
    mario.post("/admin/catalogo/categorie/sport-e-tempo-libero/sposta", &[("direction", "su")]).await;
    assert!(order(&mario.get_text("/admin/catalogo").await), "moved above the one before it");
    // The same name again is refused; an empty category is not on the public portal.
    assert_eq!(mario.post("/admin/catalogo/categorie", &[("name", "Sport e tempo libero")]).await.status(), 422);
    assert!(!Browser::new(&app, VALMORA).get_text("/servizi").await.contains("Sport e tempo libero"));

    // A procedure in it: never published, its page is not found yet.
    let created = mario
        .post(
            "/admin/procedure",
            &[("title", "Prenotazione palestra comunale"), ("category", "sport-e-tempo-libero"), ("office", "UO-SEGR")],
        )
        .await;
    let slug = "prenotazione-palestra-comunale";
    assert_eq!(location(&created), format!("/admin/procedure/{slug}?esito=procedura-creata"));
    assert_eq!(Browser::new(&app, VALMORA).get(&format!("/servizi/{slug}")).await.status(), 404);

    // Publishing the bare draft is refused, naming what is missing.
    let publish = mario.get_text(&format!("/admin/procedure/{slug}/pubblica")).await;
    assert!(
        publish.contains("data-element=\"publish-problems\"") && publish.contains("Scrivi la descrizione breve"),
        "{publish}"
    );
    assert!(!publish.contains("data-element=\"publish-confirm\""));
    let refused = mario.post(&format!("/admin/procedure/{slug}/pubblica"), &[("version", "0")]).await;
    assert_eq!(refused.status(), 422);

    // A time limit that is not a number: shown back as typed, next to its field, nothing saved.
    let typed = save_details(
        &mut mario,
        slug,
        &[
            ("title", "Prenotazione palestra comunale"),
            ("summary", "Prenota la palestra."),
            ("time_limit_days", "trenta"),
        ],
    )
    .await;
    assert_eq!(typed.status(), 422);
    let page = typed.text().await.unwrap();
    assert!(page.contains("value=\"trenta\"") && page.contains("Indica il termine in giorni"), "{page}");
    assert_eq!(hidden(&mario.get_text(&format!("/admin/procedure/{slug}")).await, "version"), "0");

    // Saved, previewed exactly as the public page, published.
    let saved = save_details(
        &mut mario,
        slug,
        &[
            ("title", "Prenotazione palestra comunale"),
            ("summary", "Prenota la palestra di via Roma per la tua associazione."),
            ("audience", "Associazioni sportive con sede a Valmora."),
            ("fee_label", "Tariffa oraria"),
            ("fee_amount", "€ 12,00"),
            ("legal_basis", "Regolamento comunale impianti sportivi\nD.Lgs. 38/2021"),
            ("keywords", "palestra, sport, impianti"),
            ("time_limit_days", "15"),
        ],
    )
    .await;
    assert_eq!(location(&saved), format!("/admin/procedure/{slug}?esito=bozza-salvata"));
    let preview = mario.get_text(&format!("/admin/procedure/{slug}/anteprima")).await;
    assert!(preview.contains("data-element=\"preview-notice\"") && preview.contains("Prenota la palestra di via Roma"));
    assert!(
        preview.contains("Tariffa oraria") && preview.contains("D.Lgs. 38/2021") && preview.contains("15 giorni"),
        "{preview}"
    );
    let publish = mario.get_text(&format!("/admin/procedure/{slug}/pubblica")).await;
    assert!(publish.contains("Prima pubblicazione del servizio"), "{publish}");
    let version = hidden(&publish, "version");
    let done = mario.post(&format!("/admin/procedure/{slug}/pubblica"), &[("version", &version)]).await;
    assert_eq!(location(&done), format!("/admin/procedure/{slug}?esito=pubblicata"));
    let public = Browser::new(&app, VALMORA).get_text(&format!("/servizi/{slug}")).await;
    assert!(public.contains("Prenota la palestra di via Roma") && public.contains("Tariffa oraria"));
    assert!(
        Browser::new(&app, VALMORA).get_text("/servizi").await.contains("Sport e tempo libero"),
        "the category shows once it holds a published procedure"
    );
    assert!(Browser::new(&app, VALMORA).get_text("/cerca?q=palestra").await.contains(slug), "the search finds it");

    // A second edit lists its changes in words; the public page keeps the published text until then.
    save_details(
        &mut mario,
        slug,
        &[
            ("title", "Prenotazione palestra comunale"),
            ("summary", "Prenota la palestra comunale."),
            ("time_limit_days", "20"),
        ],
    )
    .await;
    assert!(Browser::new(&app, VALMORA)
        .get_text(&format!("/servizi/{slug}"))
        .await
        .contains("Prenota la palestra di via Roma"));
    let publish = mario.get_text(&format!("/admin/procedure/{slug}/pubblica")).await;
    assert!(
        publish.contains("«Descrizione breve» modificato")
            && publish.contains("«Termine di conclusione (giorni)» modificato"),
        "{publish}"
    );
    // Discarding the draft returns to the published revision.
    assert_eq!(
        location(&mario.post(&format!("/admin/procedure/{slug}/scarta"), &[]).await),
        format!("/admin/procedure/{slug}?esito=bozza-scartata")
    );
    assert!(mario.get_text(&format!("/admin/procedure/{slug}")).await.contains("Prenota la palestra di via Roma"));
    let history = mario.get_text(&format!("/admin/procedure/{slug}/revisioni")).await;
    assert_eq!(history.matches("data-element=\"revision\"").count(), 1);
    assert!(history.contains("Mario Rossi"));

    // Taken offline: the page says so, with whom to ask; archived: gone; the category
    // cannot go while it holds the procedure.
    mario.post(&format!("/admin/procedure/{slug}/catalogo"), &[("action", "offline")]).await;
    let gone = Browser::new(&app, VALMORA).get(&format!("/servizi/{slug}")).await;
    assert_eq!(gone.status(), 410);
    let gone = gone.text().await.unwrap();
    assert!(gone.contains("non è più disponibile online") && gone.contains("edilizia@comune.valmora.bg.it"), "{gone}");
    let refused = mario.post("/admin/catalogo/categorie/sport-e-tempo-libero/elimina", &[]).await;
    assert_eq!(refused.status(), 409);
    assert!(refused.text().await.unwrap().contains("contiene ancora 1 servizi"));
    mario.post(&format!("/admin/procedure/{slug}/catalogo"), &[("action", "archive")]).await;
    assert_eq!(Browser::new(&app, VALMORA).get(&format!("/servizi/{slug}")).await.status(), 404);
    mario
        .post(
            &format!("/admin/procedure/{slug}/catalogo"),
            &[("action", "category"), ("category", "anagrafe-stato-civile")],
        )
        .await;
    assert_eq!(
        location(&mario.post("/admin/catalogo/categorie/sport-e-tempo-libero/elimina", &[]).await),
        "/admin/catalogo?esito=categoria-eliminata"
    );

    // The console's home lists them in words.
    let home = mario.get_text("/admin").await;
    assert!(home.contains("Nuova versione pubblicata") && home.contains("Categoria eliminata"), "{home}");
    assert!(!home.contains('⟦'), "no missing translation");
    // Every change is in the audit trail, by Mario.
    let actions: Vec<(String, String)> = sqlx::query_as("select action, actor_label from audit_log where object_type in ('procedure', 'category') and actor_kind = 'staff' order by seq")
        .fetch_all(valmora(&app).await.conn())
        .await
        .unwrap();
    let names: Vec<&str> = actions.iter().map(|(a, _)| a.as_str()).collect();
    for expected in [
        "category.create",
        "procedure.create",
        "procedure.draft.save",
        "procedure.publish",
        "procedure.draft.discard",
        "procedure.place",
        "category.remove",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    assert!(actions.iter().all(|(_, who)| who.contains("Mario")), "{actions:?}");
}

#[tokio::test]
async fn a_second_save_from_an_older_version_is_refused_showing_both() {
    let app = spawn_app().await;
    let _provider = offices(&app).await;
    let slug = "passo-carrabile";
    let mut mario = staff(&app, VALMORA, ADMIN).await;
    // Two tabs open on the same draft: the same version.
    let version = hidden(&mario.get_text(&format!("/admin/procedure/{slug}")).await, "version");
    let title = "Passo carrabile";
    let first = save_with_version(
        &mut mario,
        slug,
        &version,
        &[("title", title), ("summary", "Prima versione del riassunto.")],
    )
    .await;
    assert_eq!(first.status(), 303);
    let second = save_with_version(
        &mut mario,
        slug,
        &version,
        &[("title", title), ("summary", "Seconda versione del riassunto.")],
    )
    .await;
    assert_eq!(second.status(), 409);
    let page = second.text().await.unwrap();
    assert!(
        page.contains("data-element=\"draft-conflict\"") && page.contains("Mario Rossi ha salvato questa bozza"),
        "{page}"
    );
    assert!(
        page.contains("Prima versione del riassunto.") && page.contains("Seconda versione del riassunto."),
        "both versions shown"
    );
    // Nothing of the second was written; saving again from the page keeps it deliberately.
    let draft: String =
        sqlx::query_scalar("select content->>'summary' from procedure_drafts where procedure_slug = $1")
            .bind(slug)
            .fetch_one(valmora(&app).await.conn())
            .await
            .unwrap();
    assert_eq!(draft, "Prima versione del riassunto.");
    let again = save_with_version(
        &mut mario,
        slug,
        &hidden(&page, "version"),
        &[("title", title), ("summary", "Seconda versione del riassunto.")],
    )
    .await;
    assert_eq!(again.status(), 303);
    // Publishing from a publish page read before another save is refused too.
    let publish = mario.get_text(&format!("/admin/procedure/{slug}/pubblica")).await;
    save_details(&mut mario, slug, &[("title", title), ("summary", "Terza.")]).await;
    let stale =
        mario.post(&format!("/admin/procedure/{slug}/pubblica"), &[("version", &hidden(&publish, "version"))]).await;
    assert_eq!(stale.status(), 409);
    assert!(stale.text().await.unwrap().contains("data-element=\"publish-stale\""));
}

/// A one-step procedure written into a copy of Valmora's recipe, its form given.
fn recipe_with(dir: &std::path::Path, form: &str) {
    let procedure = format!(
        r#"title = "Richiesta di prova"
category = "anagrafe-stato-civile"
summary = "Una procedura per provare le revisioni."
office = "UO-ANAG"
time_limit_days = 30
min_level = 1

{form}
"#
    );
    std::fs::write(dir.join("procedures/richiesta-prova.toml"), procedure).unwrap();
}

const ONE_FIELD: &str = r#"[[form.steps]]
title = "Dati"
fields = [ { key = "motivo", label = "Motivo", type = "text", required = true } ]"#;

async fn apply(app: &TestApp, dir: &std::path::Path) -> anyhow::Result<onboarding::ApplyReport> {
    let settings = test_settings();
    let renderer = sportello::web::render::Renderer::load(&settings.themes_dir, &settings.locales_dir).unwrap();
    let recipe = onboarding::TenantRecipe::load(dir, renderer.themes(), &renderer.languages())?;
    onboarding::apply(&app.db.admin, &recipe, "localhost").await
}

pub async fn revision_of(app: &TestApp, case: uuid::Uuid) -> i32 {
    sqlx::query_scalar("select revision from cases where id = $1")
        .bind(case)
        .fetch_one(valmora(app).await.conn())
        .await
        .unwrap()
}

#[tokio::test]
async fn tenant_apply_publishes_revisions_and_open_drafts_move_only_when_they_fit() {
    let app = spawn_app().await;
    let dir = scratch().join(format!("admin-{}", uuid::Uuid::new_v4())).join("valmora");
    copy_dir(&root().join("tenants/valmora"), &dir);
    recipe_with(&dir, ONE_FIELD);
    let report = apply(&app, &dir).await.unwrap();
    let first = report.published.iter().find(|p| p.slug == "richiesta-prova").expect("published");
    assert_eq!(first.number, 1);
    // Applying the same recipe again publishes nothing.
    assert!(apply(&app, &dir).await.unwrap().published.is_empty());

    // Maria submits a case on revision 1; Luca leaves a draft on it.
    let mut maria = citizen(&app, VALMORA, "maria@example.it", "347 123 4567").await;
    let submitted = start(&mut maria, "richiesta-prova").await;
    let step = maria
        .post_multipart(
            &format!("/area-personale/pratiche/{submitted}/passo/1"),
            Form::new().text("motivo", "Per prova"),
        )
        .await;
    assert_eq!(step.status(), 303);
    assert_eq!(maria.post(&format!("/area-personale/pratiche/{submitted}/invia"), &[]).await.status(), 303);
    let mut luca = citizen(&app, VALMORA, "luca@example.it", "347 765 4321").await;
    let draft = start(&mut luca, "richiesta-prova").await;
    luca.post_multipart(&format!("/area-personale/pratiche/{draft}/passo/1"), Form::new().text("motivo", "In corso"))
        .await;
    assert_eq!((revision_of(&app, submitted).await, revision_of(&app, draft).await), (1, 1));

    // An optional field added: revision 2; the draft moves, keeping its answer; the submitted case stays.
    let optional = ONE_FIELD.replace(
        r#"required = true } ]"#,
        r#"required = true }, { key = "note", label = "Note", type = "textarea" } ]"#,
    );
    recipe_with(&dir, &optional);
    let report = apply(&app, &dir).await.unwrap();
    let second = report.published.iter().find(|p| p.slug == "richiesta-prova").unwrap();
    assert_eq!(second.number, 2);
    assert_eq!((second.drafts_moved, second.drafts_kept), (1, 0));
    assert_eq!((revision_of(&app, submitted).await, revision_of(&app, draft).await), (1, 2));
    let step = luca.get_text(&format!("/area-personale/pratiche/{draft}/passo/1")).await;
    assert!(
        step.contains("name=\"note\"") && step.contains("value=\"In corso\""),
        "the draft shows the new field and keeps its answer"
    );

    // A required field added: revision 3; the draft stays on 2 and is submitted on it.
    let required = optional.replace(
        r#"type = "textarea" }"#,
        r#"type = "textarea" }, { key = "iban", label = "IBAN", type = "iban", required = true }"#,
    );
    recipe_with(&dir, &required);
    let report = apply(&app, &dir).await.unwrap();
    let third = report.published.iter().find(|p| p.slug == "richiesta-prova").unwrap();
    assert_eq!((third.number, third.drafts_moved, third.drafts_kept), (3, 0, 1));
    assert!(third.changes.iter().any(|c| !c.fits_open_drafts()));
    assert_eq!(revision_of(&app, draft).await, 2);
    assert_eq!(
        luca.post(&format!("/area-personale/pratiche/{draft}/invia"), &[]).await.status(),
        303,
        "submitted on its own revision"
    );

    // The history counts the cases of each revision.
    let mut tx = valmora(&app).await;
    let history = sportello::catalog::revisions::history(&mut tx, "richiesta-prova").await.unwrap();
    let counts: Vec<(i32, i64)> = history.iter().map(|r| (r.number, r.cases)).collect();
    assert_eq!(counts, vec![(3, 0), (2, 1), (1, 1)]);
    drop(tx);

    // An edit made in the console is never overwritten by a recipe: apply refuses.
    let _provider = offices(&app).await;
    let mut mario = staff(&app, VALMORA, ADMIN).await;
    let saved = save_details(
        &mut mario,
        "richiesta-prova",
        &[
            ("title", "Richiesta di prova"),
            ("summary", "Modificata nella console."),
            ("office", "UO-ANAG"),
            ("min_level", "1"),
        ],
    )
    .await;
    assert_eq!(saved.status(), 303);
    recipe_with(&dir, &required.replace("Note", "Annotazioni"));
    let refused = apply(&app, &dir).await.expect_err("refused").to_string();
    assert!(refused.contains("richiesta-prova") && refused.contains("Mario Rossi"), "{refused}");
    // Published revisions are immutable, for the runtime role and the owner alike.
    for pool in [&app.db.app, &app.db.admin] {
        let mut tx = TenantTx::begin(pool, app.tenant_id_of("valmora").await).await.unwrap();
        let error =
            sqlx::query("update procedure_revisions set content = '{}' where procedure_slug = 'richiesta-prova'")
                .execute(tx.conn())
                .await
                .expect_err("immutable");
        assert!(
            error.to_string().contains("append-only") || error.to_string().contains("permission denied"),
            "{error}"
        );
    }
}

#[tokio::test]
async fn a_publication_reaches_every_node_within_a_second() {
    let app = spawn_app().await;
    let _provider = offices(&app).await;
    let (other, _stop) = spawn_node(&app.db).await;
    let slug = "passo-carrabile";
    // The other node has the page in its anonymous cache.
    let mut visitor = Browser::on_port(other, VALMORA);
    assert!(!visitor.get_text(&format!("/servizi/{slug}")).await.contains("Riassunto nuovo di zecca."));
    assert!(!visitor.get_text(&format!("/servizi/{slug}")).await.contains("Riassunto nuovo di zecca."));
    let mut mario = staff(&app, VALMORA, ADMIN).await;
    save_details(&mut mario, slug, &[("title", "Passo carrabile"), ("summary", "Riassunto nuovo di zecca.")]).await;
    let page = mario.get_text(&format!("/admin/procedure/{slug}/pubblica")).await;
    mario.post(&format!("/admin/procedure/{slug}/pubblica"), &[("version", &hidden(&page, "version"))]).await;
    wait_for(1, "the other node shows the published revision", async || {
        let page = visitor.get_text(&format!("/servizi/{slug}")).await;
        page.contains("Riassunto nuovo di zecca.").then_some(())
    })
    .await;
    // Taken offline: gone from the other node's catalogue as quickly.
    mario.post(&format!("/admin/procedure/{slug}/catalogo"), &[("action", "offline")]).await;
    wait_for(1, "the other node takes it offline", async || {
        (visitor.get(&format!("/servizi/{slug}")).await.status() == 410).then_some(())
    })
    .await;
}

/// Clicked through in Chromium (`tests/browser/admin_journey.mjs`), once with
/// JavaScript and once without: the admin adds a required field in the form
/// builder and a status and a transition in the workflow editor, is refused a
/// timer next to its input, and reads the changes on the publish page; then
/// synchronises the offices with an IPA file through its preview, invites a
/// staff member (refused next to the fiscal code first) and ticks a permission
/// in the matrix. axe finds nothing and the CSP refuses nothing on any page.
#[tokio::test]
async fn an_admin_builds_a_form_and_a_workflow_in_chromium_with_and_without_javascript() {
    let app = crate::helpers::spawn_app_with(sportello::config::Settings { dev_pages: true, ..test_settings() }).await;
    let base = format!("http://{VALMORA}:{}", app.port);
    let screenshots = std::env::var("SPORTELLO_SCREENSHOTS").unwrap_or_default();
    let ipa_file = scratch().join(format!("ipa-{}.csv", app.port));
    let rows = crate::organisation::valmora_rows(None, None);
    std::fs::write(&ipa_file, crate::organisation::national_file(&rows)).unwrap();
    let ipa_file = ipa_file.display().to_string();
    let args = vec![base, "accesso-atti".into(), "contrassegno-disabili".into(), ipa_file, screenshots];
    let report = crate::helpers::browser_script("admin_journey.mjs", args).await;
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["steps"].as_array().unwrap().len(), 9, "{report:#}");
    // What the clicks did is in the drafts (the field, the status, the transition) and the offices.
    let synced: i64 = sqlx::query_scalar("select count(*) from offices where ipa_code is not null")
        .fetch_one(valmora(&app).await.conn())
        .await
        .unwrap();
    assert_eq!(synced, 13);
    let mut tx = valmora(&app).await;
    let invited: Option<String> =
        sqlx::query_scalar("select status from staff_members where email = 'luca.verdi@valmora.example'")
            .fetch_optional(tx.conn())
            .await
            .unwrap();
    assert_eq!(invited.as_deref(), Some("invited"));
    let ticked: i64 = sqlx::query_scalar(
        "select count(*) from authz_rules where v0 = 'office_head' and v2 = 'office:UO-SERV' and v3 = 'read'",
    )
    .fetch_one(tx.conn())
    .await
    .unwrap();
    assert_eq!(ticked, 1);
    for slug in ["accesso-atti", "contrassegno-disabili"] {
        let (form, workflow): (String, String) = sqlx::query_as(
            "select content->>'form', content->>'workflow' from procedure_drafts where procedure_slug = $1",
        )
        .bind(slug)
        .fetch_one(tx.conn())
        .await
        .unwrap();
        assert!(form.contains("IBAN per il rimborso") && form.contains("\"required\": true"), "{slug}: {form}");
        assert!(workflow.contains("Sospesa (") && workflow.contains("Sospendi ("), "{slug}: {workflow}");
    }
}

/// After onboarding the console owns the ente's look too: `tenant apply` says
/// when the recipe's look replaces a published one, and refuses while an
/// admin has an unpublished branding draft (nothing of it is touched).
#[tokio::test]
async fn tenant_apply_names_the_look_it_replaces_and_refuses_over_a_branding_draft() {
    let app = spawn_app().await;
    let dir = scratch().join(format!("admin-{}", uuid::Uuid::new_v4())).join("valmora");
    copy_dir(&root().join("tenants/valmora"), &dir);
    assert!(!apply(&app, &dir).await.unwrap().branding_replaced, "the recipe's look is the published one");

    // The look published from the console (the function the console calls) differs.
    let mut tx = valmora(&app).await;
    sqlx::query(
        "select publish_tenant_branding(theme, 'Il motto scelto in console', profile->'quick_links', profile->'branding')
         from tenants where id = $1",
    )
    .bind(tx.tenant_id)
    .execute(tx.conn())
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let report = apply(&app, &dir).await.unwrap();
    assert!(report.branding_replaced && report.changes > 0, "said, not silent");
    assert!(!apply(&app, &dir).await.unwrap().branding_replaced, "a second apply replaces nothing");

    // An admin's unpublished draft: apply refuses, naming who, and leaves it.
    let mut tx = valmora(&app).await;
    sqlx::query(
        "insert into branding_drafts (tenant_id, content, version, updated_by) values ($1, '{}'::jsonb, 1, 'Mario Rossi')",
    )
    .bind(tx.tenant_id)
    .execute(tx.conn())
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let refused = apply(&app, &dir).await.unwrap_err().to_string();
    assert!(refused.contains("Mario Rossi") && refused.contains("/admin/aspetto"), "{refused}");
    let drafts: i64 =
        sqlx::query_scalar("select count(*) from branding_drafts").fetch_one(valmora(&app).await.conn()).await.unwrap();
    assert_eq!(drafts, 1);
}
