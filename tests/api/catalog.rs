//! The public catalogue: home, tree, procedure pages, search.

use crate::helpers::{assert_translated, spawn_app};

const VALMORA: &str = "valmora.localhost";
const ROCCAMARE: &str = "roccamare.localhost";

#[tokio::test]
async fn each_tenant_home_shows_its_own_branding() {
    let app = spawn_app().await;
    let valmora = app.get(&format!("{VALMORA}:8080"), "/").await;
    assert_eq!(valmora.status(), 200);
    let html = valmora.text().await.unwrap();
    assert_translated(&html);
    assert!(html.contains("Comune di Valmora"));
    assert!(html.contains("logo.svg?v="), "logo");
    assert!(html.contains("banner.svg?v="), "banner");
    assert!(html.contains("data-element=\"quick-links\""));
    assert!(html.contains("/servizi/categoria/anagrafe-stato-civile"), "catalogue categories");
    assert!(html.contains("name=\"q\""), "search box");
    assert!(!html.contains("Roccamare"));

    let roccamare = app.get(ROCCAMARE, "/").await.text().await.unwrap();
    assert_translated(&roccamare);
    assert!(roccamare.contains("Comune di Roccamare"));
    assert!(roccamare.contains("/themes/mare/mare.css\""), "the mare theme overrides the home page");
    assert!(!roccamare.contains("Valmora"));
}

#[tokio::test]
async fn branding_colours_and_assets_are_served_per_tenant() {
    let app = spawn_app().await;
    let css = app.get(VALMORA, "/branding/tema.css").await;
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert!(css.text().await.unwrap().contains("#0066cc"));
    let css = app.get(ROCCAMARE, "/branding/tema.css").await.text().await.unwrap();
    assert!(css.contains("#00695c") && css.contains("Seaside theme"));

    let logo = app.get(VALMORA, "/branding/logo.svg").await;
    assert_eq!(logo.status(), 200);
    assert_eq!(logo.headers()["content-type"], "image/svg+xml");
    assert!(logo.text().await.unwrap().contains("<svg"));
    assert_eq!(app.get(VALMORA, "/branding/nothing.svg").await.status(), 404);
}

#[tokio::test]
async fn catalogue_is_a_two_level_tree_of_categories_and_procedures() {
    let app = spawn_app().await;
    let response = app.get(VALMORA, "/servizi").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert_translated(&html);
    let categories = html.matches("<section class=\"mt-5\"").count();
    let procedures = html.matches("data-element=\"service-link\"").count();
    assert!(categories >= 4, "{categories} categories");
    assert!(procedures >= 10, "{procedures} procedures");

    let category = app.get(VALMORA, "/servizi/categoria/tributi").await.text().await.unwrap();
    assert!(category.contains("/servizi/rimborso-tari"));
    assert!(!category.contains("/servizi/cambio-residenza"));
    assert_eq!(app.get(VALMORA, "/servizi/categoria/non-esiste").await.status(), 404);
}

#[tokio::test]
async fn procedure_page_follows_the_modello_comuni_service_page() {
    let app = spawn_app().await;
    let response = app.get(VALMORA, "/servizi/cambio-residenza").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert_translated(&html);
    for element in [
        "service-title",
        "service-description",
        "service-addressed",
        "service-how-to",
        "service-needed",
        "service-achieved",
        "service-calendar-text",
        "service-online-access",
        "service-area",
        "breadcrumb",
        "page-index",
        "metadata",
    ] {
        assert!(html.contains(&format!("data-element=\"{element}\"")), "missing data-element {element}");
    }
    for section in [
        "A chi è rivolto",
        "Come fare",
        "Cosa serve",
        "Cosa si ottiene",
        "Tempi e scadenze",
        "Quanto costa",
        "Accedi al servizio",
        "Contatti",
    ] {
        assert!(html.contains(section), "missing section {section}");
    }
    assert!(html.contains("Responsabile del procedimento"));
    assert!(html.contains("Normativa di riferimento"));
    assert!(html.contains("223"), "legal basis (DPR 223/1989)");

    let start = html.find("<script type=\"application/ld+json\">").expect("JSON-LD block") + 35;
    let end = start + html[start..].find("</script>").unwrap();
    let json: serde_json::Value = serde_json::from_str(&html[start..end]).expect("valid JSON-LD");
    assert_eq!(json["@type"], "GovernmentService");
    assert_eq!(json["provider"]["name"], "Comune di Valmora");
    assert!(json["url"].as_str().unwrap().ends_with("/servizi/cambio-residenza"));
    assert!(json["availableChannel"]["processingTime"].as_str().unwrap().starts_with('P'));
}

#[tokio::test]
async fn unknown_procedure_is_404_with_a_translated_page() {
    let app = spawn_app().await;
    let response = app.get(VALMORA, "/servizi/non-esiste").await;
    assert_eq!(response.status(), 404);
    let html = response.text().await.unwrap();
    assert_translated(&html);
    assert!(html.contains("Pagina non trovata"));
    assert!(html.contains("Comune di Valmora"), "error pages keep the ente's branding");
}

#[tokio::test]
async fn search_finds_procedures_by_stem_and_prefix() {
    let app = spawn_app().await;
    let html = app.get(VALMORA, "/cerca?q=residenza").await.text().await.unwrap();
    assert_translated(&html);
    assert!(html.contains("/servizi/cambio-residenza"));
    // Italian stemming: "rimborsi" finds "Rimborso".
    let html = app.get(VALMORA, "/cerca?q=rimborsi").await.text().await.unwrap();
    assert!(html.contains("/servizi/rimborso-tari"));
    // A fragment of a word still finds it.
    let html = app.get(VALMORA, "/cerca?q=mens").await.text().await.unwrap();
    assert!(html.contains("/servizi/iscrizione-mensa-scolastica"));
    let html = app.get(VALMORA, "/cerca?q=zzzqqq").await.text().await.unwrap();
    assert!(html.contains("Nessun servizio trovato"));
    // Hostile input is just text.
    let response = app.get(VALMORA, "/cerca?q=%25%27%29%3B--%3Cscript%3E").await;
    assert_eq!(response.status(), 200);
    assert!(!response.text().await.unwrap().contains("<script>"));
}

#[tokio::test]
async fn anonymous_pages_are_served_from_the_page_cache() {
    let app = spawn_app().await;
    let first = app.get(VALMORA, "/servizi/cambio-residenza").await;
    assert_eq!(first.headers()["x-page-cache"], "miss");
    let first = first.text().await.unwrap();
    let second = app.get(VALMORA, "/servizi/cambio-residenza").await;
    assert_eq!(second.headers()["x-page-cache"], "hit");
    assert!(second.headers().contains_key("content-security-policy"));
    assert_eq!(second.text().await.unwrap(), first);
    // A personal request never gets a shared page.
    let personal = app.get_with(VALMORA, "/servizi/cambio-residenza", &[("cookie", "sportello_sid=abc")]).await;
    assert!(personal.headers().get("x-page-cache").is_none());
}

#[tokio::test]
async fn access_guide_explains_every_sign_in_method() {
    let app = spawn_app().await;
    let html = app.get(ROCCAMARE, "/accesso").await.text().await.unwrap();
    assert_translated(&html);
    for method in [
        "SPID",
        "CIE",
        "Carta Regionale dei Servizi",
        "codice via SMS",
        "Come ci si registra",
        "Gestire il proprio profilo",
    ] {
        assert!(html.contains(method), "{method}");
    }
}

#[tokio::test]
async fn the_service_page_names_the_sign_in_methods_strong_enough_for_it() {
    let app = spawn_app().await;
    // CILA needs level 2: the weak password is not offered.
    let html = app.get(VALMORA, "/servizi/cila").await.text().await.unwrap();
    assert_translated(&html);
    let access = html.split("data-element=\"service-access-methods\"").nth(1).unwrap().split("</p>").next().unwrap();
    assert!(access.contains("livello di sicurezza 2"), "{access}");
    assert!(access.contains("SPID") && access.contains("credenziali del portale con codice SMS"));
    assert!(!access.contains("credenziali del portale,") && !access.ends_with("credenziali del portale."), "{access}");
    // A level-1 service accepts the password alone too.
    let html = app.get(VALMORA, "/servizi/rimborso-tari").await.text().await.unwrap();
    let access = html.split("data-element=\"service-access-methods\"").nth(1).unwrap().split("</p>").next().unwrap();
    assert!(access.contains("credenziali del portale.") || access.contains("credenziali del portale,"), "{access}");
}
