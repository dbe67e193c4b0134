//! The form builder over HTTP: an admin builds a three-step form with a
//! conditional field and a file field, the builder refuses what the loader
//! refuses (next to the field), the procedure is published and lived by
//! citizens, and the later revisions move an open draft only when they fit.

use reqwest::multipart::{Form, Part};

use super::{hidden, revision_of, save_details, valmora, ADMIN};
use crate::{
    auth::VALMORA,
    backoffice::{offices, staff},
    cases::{citizen, start, PDF},
    helpers::{location, spawn_app, Browser},
};

const SLUG: &str = "contributo-sport-giovani";
const SPORTS: &str = "calcio | Calcio\nnuoto | Nuoto\naltro | Altro";

/// Posts the field editor as the browser would: its hidden inputs from the page, then `fields`.
async fn save_field(admin: &mut Browser, query: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let page = admin.get_text(&format!("/admin/procedure/{SLUG}/modulo/campo?{query}")).await;
    let mut sent: Vec<(String, String)> =
        ["version", "key", "kind", "step", "group"].iter().map(|n| (n.to_string(), hidden(&page, n))).collect();
    for (name, value) in fields {
        sent.retain(|(n, _)| n != name || *name == "accept");
        sent.push((name.to_string(), value.to_string()));
    }
    let borrowed: Vec<(&str, &str)> = sent.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    admin.post(&format!("/admin/procedure/{SLUG}/modulo/campo"), &borrowed).await
}

async fn publish(admin: &mut Browser) -> String {
    let page = admin.get_text(&format!("/admin/procedure/{SLUG}/pubblica")).await;
    let done =
        admin.post(&format!("/admin/procedure/{SLUG}/pubblica"), &[("version", &hidden(&page, "version"))]).await;
    assert_eq!(location(&done), format!("/admin/procedure/{SLUG}?esito=pubblicata"), "{page}");
    page
}

/// Fills the generic steps (applicant, request) and the sport step, with the certificate.
async fn fill(citizen: &mut Browser, case: uuid::Uuid, certificate: bool) {
    let step = |n: usize| format!("/area-personale/pratiche/{case}/passo/{n}");
    let applicant = Form::new()
        .text("given_name", "Maria")
        .text("family_name", "Rossi")
        .text("fiscal_code", "RSSMRA85T10A562S")
        .text("email", "maria@example.it")
        .text("phone", "347 123 4567");
    assert_eq!(citizen.post_multipart(&step(1), applicant).await.status(), 303);
    let request = Form::new().text("subject", "Contributo per la stagione di nuoto.");
    assert_eq!(citizen.post_multipart(&step(2), request).await.status(), 303);
    let mut sport = Form::new().text("sport_praticato", "altro").text("quale_altro_sport", "Canottaggio");
    if certificate {
        sport = sport.part("certificato_medico", Part::bytes(PDF.to_vec()).file_name("certificato.pdf"));
    }
    let response = citizen.post_multipart(&step(3), sport).await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
}

#[tokio::test]
async fn an_admin_builds_a_form_citizens_fill_it_and_later_revisions_move_drafts_that_fit() {
    let app = spawn_app().await;
    let _provider = offices(&app).await;
    let mut mario = staff(&app, VALMORA, ADMIN).await;
    mario
        .post(
            "/admin/procedure",
            &[("title", "Contributo sport giovani"), ("category", "anagrafe-stato-civile"), ("office", "UO-SEGR")],
        )
        .await;
    let details = [
        ("title", "Contributo sport giovani"),
        ("summary", "Un contributo per lo sport dei ragazzi."),
        ("office", "UO-SEGR"),
        ("min_level", "1"),
    ];
    assert_eq!(save_details(&mut mario, SLUG, &details).await.status(), 303);

    // The generic form to begin with; a third step opens with a required choice.
    assert!(mario.get_text(&format!("/admin/procedure/{SLUG}/modulo")).await.contains("data-element=\"form-generic\""));
    let sport = save_field(
        &mut mario,
        "passo=3&tipo=select",
        &[("label", "Sport praticato"), ("required", "on"), ("options", SPORTS), ("step_title", "Attività sportiva")],
    )
    .await;
    assert_eq!(sport.status(), 303, "{}", sport.text().await.unwrap());
    // A field shown only for "altro", and a required certificate (PDF).
    assert_eq!(
        save_field(
            &mut mario,
            "passo=3&tipo=text",
            &[("label", "Quale altro sport"), ("show_if_field", "sport_praticato"), ("show_if_values", "altro")]
        )
        .await
        .status(),
        303
    );
    // A file field without formats is refused next to the formats, and nothing is saved.
    let refused = save_field(
        &mut mario,
        "passo=3&tipo=file",
        &[("label", "Certificato medico"), ("required", "on"), ("accept", "")],
    )
    .await;
    assert_eq!(refused.status(), 422);
    let page = refused.text().await.unwrap();
    assert!(page.contains("id=\"accept-error\"") && page.contains("Scegli almeno un formato"), "{page}");
    assert!(!mario.get_text(&format!("/admin/procedure/{SLUG}/modulo")).await.contains("certificato_medico"));
    assert_eq!(
        save_field(
            &mut mario,
            "passo=3&tipo=file",
            &[("label", "Certificato medico"), ("required", "on"), ("accept", "pdf")]
        )
        .await
        .status(),
        303
    );

    // A condition on a later field is refused with the loader's rule, next to the condition.
    let later = save_field(
        &mut mario,
        "chiave=sport_praticato",
        &[
            ("label", "Sport praticato"),
            ("required", "on"),
            ("options", SPORTS),
            ("show_if_field", "certificato_medico"),
        ],
    )
    .await;
    assert_eq!(later.status(), 422);
    let page = later.text().await.unwrap();
    assert!(page.contains("id=\"show_if_field-error\"") && page.contains("non è un campo precedente"), "{page}");
    // Removing the field a condition depends on is refused on the builder, naming it.
    let version = hidden(&mario.get_text(&format!("/admin/procedure/{SLUG}/modulo")).await, "version");
    let refused = mario
        .post(
            &format!("/admin/procedure/{SLUG}/modulo"),
            &[("version", &version), ("action", "remove_field"), ("key", "sport_praticato")],
        )
        .await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("data-element=\"form-refused\""));
    // Keys are made from labels and never repeat.
    assert_eq!(save_field(&mut mario, "passo=3&tipo=checkbox", &[("label", "Sport praticato")]).await.status(), 303);
    let builder = mario.get_text(&format!("/admin/procedure/{SLUG}/modulo")).await;
    assert!(builder.contains("data-key=\"sport_praticato_2\""), "{builder}");
    let version = hidden(&builder, "version");
    let removed = mario
        .post(
            &format!("/admin/procedure/{SLUG}/modulo"),
            &[("version", &version), ("action", "remove_field"), ("key", "sport_praticato_2")],
        )
        .await;
    assert_eq!(location(&removed), format!("/admin/procedure/{SLUG}/modulo?esito=modulo-salvato"));

    // The preview shows step 3 as the citizen will see it: the condition is wired.
    let preview = mario.get_text(&format!("/admin/procedure/{SLUG}/modulo/anteprima?passo=3")).await;
    assert!(
        preview.contains("name=\"sport_praticato\"") && preview.contains("data-show-if=\"sport_praticato\""),
        "{preview}"
    );
    assert!(preview.contains("name=\"certificato_medico\"") && preview.contains("accept=\".pdf\""));
    let publish_page = publish(&mut mario).await;
    assert!(publish_page.contains("Prima pubblicazione"));

    // Maria submits on revision 1; Luca leaves a draft.
    let mut maria = citizen(&app, VALMORA, "maria@example.it", "347 123 4567").await;
    let submitted = start(&mut maria, SLUG).await;
    fill(&mut maria, submitted, true).await;
    let sent = maria.post(&format!("/area-personale/pratiche/{submitted}/invia"), &[]).await;
    assert_eq!(sent.status(), 303);
    let mut luca = citizen(&app, VALMORA, "luca@example.it", "347 765 4321").await;
    let draft = start(&mut luca, SLUG).await;
    fill(&mut luca, draft, true).await;
    assert_eq!((revision_of(&app, submitted).await, revision_of(&app, draft).await), (1, 1));

    // An optional field: the change list says so, the draft moves, the submitted case stays.
    assert_eq!(save_field(&mut mario, "passo=3&tipo=textarea", &[("label", "Note")]).await.status(), 303);
    let page = publish(&mut mario).await;
    assert!(
        page.contains("campo «Note» aggiunto, facoltativo") && page.contains("passeranno alla nuova versione"),
        "{page}"
    );
    assert_eq!((revision_of(&app, submitted).await, revision_of(&app, draft).await), (1, 2));
    let step3 = luca.get_text(&format!("/area-personale/pratiche/{draft}/passo/3")).await;
    assert!(step3.contains("name=\"note\"") && step3.contains("value=\"Canottaggio\""), "the answers survive the move");

    // A mandatory field: the draft stays on revision 2.
    assert_eq!(
        save_field(&mut mario, "passo=3&tipo=iban", &[("label", "IBAN per il contributo"), ("required", "on")])
            .await
            .status(),
        303
    );
    let page = publish(&mut mario).await;
    assert!(
        page.contains("campo «IBAN per il contributo» aggiunto, obbligatorio")
            && page.contains("resteranno sulla versione"),
        "{page}"
    );
    assert_eq!(revision_of(&app, draft).await, 2);
    let form: serde_json::Value = sqlx::query_scalar("select form from cases where id = $1")
        .bind(draft)
        .fetch_one(valmora(&app).await.conn())
        .await
        .unwrap();
    assert!(!form.to_string().contains("iban_per_il_contributo"), "the kept draft keeps its form");
    let history = mario.get_text(&format!("/admin/procedure/{SLUG}/revisioni")).await;
    assert_eq!(history.matches("data-element=\"revision\"").count(), 3);
}
