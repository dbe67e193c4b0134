//! The workflow editor over HTTP: an admin makes the standard workflow the
//! procedure's own, adds a status and a transition, is refused (in Italian,
//! next to the input, nothing saved) what the loader refuses, publishes, and
//! the operator's desk offers the new action on cases of the new revision only
//! — a case submitted before keeps the workflow it started on.

use super::{hidden, valmora, ADMIN};
use crate::{
    auth::VALMORA,
    backoffice::{offices, staff},
    cases::{citizen, submitted_case, GENERIC},
    helpers::{location, spawn_app, Browser},
};

const OPERATOR: &str = "giulia.bianchi@valmora.example";

fn flusso(rest: &str) -> String {
    format!("/admin/procedure/{GENERIC}/flusso{rest}")
}

/// Posts an element's editor as the browser would: the hidden inputs of the
/// page at `query`, then `fields` (repeated names are sent as given).
async fn save(admin: &mut Browser, element: &str, query: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let page = admin.get_text(&format!("{}?{query}", flusso(&format!("/{element}")))).await;
    let (version, key) = (hidden(&page, "version"), hidden(&page, "key"));
    let mut sent: Vec<(&str, &str)> = vec![("version", &version), ("key", &key)];
    sent.extend_from_slice(fields);
    admin.post(&flusso(&format!("/{element}")), &sent).await
}

async fn draft_version(app: &crate::helpers::TestApp) -> i32 {
    sqlx::query_scalar("select version from procedure_drafts where procedure_slug = $1")
        .bind(GENERIC)
        .fetch_one(valmora(app).await.conn())
        .await
        .unwrap()
}

async fn state_of(app: &crate::helpers::TestApp, case: uuid::Uuid) -> String {
    sqlx::query_scalar("select state from cases where id = $1")
        .bind(case)
        .fetch_one(valmora(app).await.conn())
        .await
        .unwrap()
}

/// Posts an element that must be refused: 422, the message in Italian next
/// to an input, and nothing saved.
async fn refused(
    app: &crate::helpers::TestApp,
    admin: &mut Browser,
    (element, fields): (&str, &[(&str, &str)]),
    words: &str,
) {
    let before = draft_version(app).await;
    let response = save(admin, element, "", fields).await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    assert!(page.contains("data-element=\"field-error\"") || page.contains("data-element=\"element-refused\""));
    assert!(page.contains(words), "{words} not in {page}");
    assert_eq!(draft_version(app).await, before, "nothing saved");
}

#[tokio::test]
async fn an_admin_edits_the_workflow_and_only_cases_of_the_new_revision_follow_it() {
    let app = spawn_app().await;
    let _provider = offices(&app).await;
    let mut maria = citizen(&app, VALMORA, "maria@example.it", "347 123 4567").await;
    let before = submitted_case(&app, &mut maria).await;
    let mut mario = staff(&app, VALMORA, ADMIN).await;

    // The standard workflow to begin with; "customise" makes it the draft's own.
    let page = mario.get_text(&flusso("")).await;
    assert!(page.contains("data-element=\"workflow-standard\""));
    let own = mario.post(&flusso(""), &[("version", &hidden(&page, "version")), ("action", "own")]).await;
    assert_eq!(location(&own), flusso("?esito=flusso-salvato"));
    let page = mario.get_text(&location(&own)).await;
    assert!(!page.contains("data-element=\"workflow-standard\"") && page.contains("Flusso di lavoro salvato"));

    // A status and the transition into it.
    let status = [
        ("label", "Sospesa per sopralluogo"),
        ("phase", "in_progress"),
        ("colour", "warning"),
        ("action_kind", "notify_citizen"),
        ("action_text", "La pratica è sospesa in attesa del sopralluogo."),
        ("action_office", ""),
    ];
    let added = save(&mut mario, "stato", "", &status).await;
    assert_eq!(location(&added), flusso("?esito=flusso-salvato#stato-sospesa_per_sopralluogo"));
    let transition = [
        ("label", "Sospendi per sopralluogo"),
        ("from", "in_istruttoria"),
        ("to", "sospesa_per_sopralluogo"),
        ("roles", "operator"),
        ("roles", "admin"),
        ("reason", "required"),
    ];
    let added = save(&mut mario, "azione", "", &transition).await;
    assert_eq!(location(&added), flusso("?esito=flusso-salvato#azione-sospendi_per_sopralluogo"));
    let page = mario.get_text(&flusso("")).await;
    assert!(page.contains("id=\"stato-sospesa_per_sopralluogo\"") && page.contains("Sospendi per sopralluogo"));
    assert!(page.contains("<g data-status=\"sospesa_per_sopralluogo\">"), "drawn");

    // What the loader refuses, the editor refuses, next to the input.
    let silence = [("status", "presentata"), ("after_days", "30"), ("does", "transition"), ("transition", "accogli")];
    refused(&app, &mut mario, ("scadenza", &silence), "deve partire dallo stato").await;
    let unreadable = [("status", "in_istruttoria"), ("after_days", "trenta"), ("does", "remind"), ("remind", "x")];
    refused(&app, &mut mario, ("scadenza", &unreadable), "Scrivi un numero").await;
    let waiting = [("label", "Attesa del parere"), ("phase", "awaiting_integration"), ("colour", "info")];
    refused(&app, &mut mario, ("stato", &waiting), "dove torna la pratica").await;
    let no_roles = [("label", "Chiudi d'ufficio"), ("from", "in_istruttoria"), ("to", "chiusa"), ("reason", "none")];
    refused(&app, &mut mario, ("azione", &no_roles), "almeno un ruolo").await;
    let broken = [("label", "Verbale di sopralluogo"), ("body", "Il {{ case.number")];
    refused(&app, &mut mario, ("documento", &broken), "errore di sintassi").await;
    let page = mario.get_text(&flusso("")).await;
    let version = hidden(&page, "version");
    let remove = [("version", version.as_str()), ("action", "remove_status"), ("key", "sospesa_per_sopralluogo")];
    let in_use = mario.post(&flusso(""), &remove).await;
    assert_eq!(in_use.status(), 422);
    assert!(in_use.text().await.unwrap().contains("usato da: Sospendi per sopralluogo. Modifica o elimina prima"));
    assert_eq!(draft_version(&app).await.to_string(), version, "nothing saved");
    // An existing status's key never changes when it is renamed.
    let renamed = save(
        &mut mario,
        "stato",
        "chiave=in_istruttoria",
        &[("label", "In lavorazione"), ("phase", "in_progress"), ("colour", "primary")],
    )
    .await;
    assert_eq!(location(&renamed), flusso("?esito=flusso-salvato#stato-in_istruttoria"));
    // A reminder after ten days in it.
    let reminder = [("status", "in_istruttoria"), ("after_days", "10"), ("does", "remind"), ("remind", "Sollecita")];
    assert_eq!(
        location(&save(&mut mario, "scadenza", "", &reminder).await),
        flusso("?esito=flusso-salvato#scadenza-1")
    );

    // Publishing lists the changes in words.
    let page = mario.get_text(&format!("/admin/procedure/{GENERIC}/pubblica")).await;
    assert!(page.contains("stato «Sospesa per sopralluogo» aggiunto al flusso"), "{page}");
    assert!(page.contains("azione «Sospendi per sopralluogo» aggiunta al flusso"), "{page}");
    let done =
        mario.post(&format!("/admin/procedure/{GENERIC}/pubblica"), &[("version", &hidden(&page, "version"))]).await;
    assert_eq!(location(&done), format!("/admin/procedure/{GENERIC}?esito=pubblicata"));

    // A case of the new revision offers the new action; the one submitted before does not.
    let after = submitted_case(&app, &mut maria).await;
    let mut giulia = staff(&app, VALMORA, OPERATOR).await;
    for case in [before, after] {
        let taken = giulia.post(&format!("/backoffice/pratiche/{case}/transizioni/prendi_in_carico"), &[]).await;
        assert_eq!(taken.status(), 303);
    }
    let desk = giulia.get_text(&format!("/backoffice/pratiche/{after}")).await;
    assert!(desk.contains("Sospendi per sopralluogo") && desk.contains("In lavorazione"), "{desk}");
    let old_desk = giulia.get_text(&format!("/backoffice/pratiche/{before}")).await;
    assert!(!old_desk.contains("Sospendi per sopralluogo") && old_desk.contains("In istruttoria"));
    let suspend = |case| format!("/backoffice/pratiche/{case}/transizioni/sospendi_per_sopralluogo");
    assert_ne!(giulia.post(&suspend(before), &[("motivazione", "Sopralluogo")]).await.status(), 303);
    assert_eq!(state_of(&app, before).await, "in_istruttoria");
    // Its reason is required, as the admin chose.
    assert_eq!(giulia.post(&suspend(after), &[("motivazione", " ")]).await.status(), 422);
    assert_eq!(state_of(&app, after).await, "in_istruttoria");
    assert_eq!(giulia.post(&suspend(after), &[("motivazione", "Sopralluogo il 12")]).await.status(), 303);
    assert_eq!(state_of(&app, after).await, "sospesa_per_sopralluogo");
    // The citizen reads the new status's label and its message.
    let page = maria.get_text(&format!("/area-personale/pratiche/{after}")).await;
    assert!(page.contains("Sospesa per sopralluogo") && page.contains("in attesa del sopralluogo"), "{page}");

    // Back to the standard workflow: the draft drops its own.
    let page = mario.get_text(&flusso("")).await;
    let back = mario.post(&flusso(""), &[("version", &hidden(&page, "version")), ("action", "standard")]).await;
    assert_eq!(location(&back), flusso("?esito=flusso-standard"));
    assert!(mario.get_text(&flusso("")).await.contains("data-element=\"workflow-standard\""));
}
