//! The branding section of the console over HTTP: a draft of the ente's look
//! (theme, colour, home texts, quick links, logo and banner) saved, previewed
//! as the real home page and published for every visitor; images judged by
//! their content, SVGs with anything that runs or fetches refused; colours
//! below WCAG AA contrast and plain-http links refused, saying why; each
//! ente's draft its own; operators without `admin` kept out.

use reqwest::multipart::{Form, Part};

use super::{hidden, valmora, ADMIN, OPERATOR};
use crate::{
    auth::{ROCCAMARE, VALMORA},
    backoffice::{offices, staff},
    helpers::{location, spawn_app, wait_for, Browser, TestApp},
};

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49,
    0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0xf8, 0xff, 0xff, 0x3f, 0x00, 0x05, 0xfe, 0x02, 0xfe, 0xa7, 0xd6, 0xa4, 0xc8,
    0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// The editor's fields as a browser sends them: the published values of
/// Valmora's tenant.toml with `changes` over them, the quick links as rows of
/// (label, procedure, url), and `files` as (field, file name, bytes).
fn editor_form(
    version: &str,
    changes: &[(&str, &str)],
    links: &[(&str, &str, &str)],
    files: Vec<(&str, &str, Vec<u8>)>,
) -> Form {
    let mut fields = vec![
        ("version", version.to_string()),
        ("theme", "base".to_string()),
        ("primary_color", "#0066cc".to_string()),
        ("tagline", "Servizi online del Comune di Valmora".to_string()),
        ("banner_title", "Benvenuti nei servizi online del Comune di Valmora".to_string()),
        ("banner_text", "Presenta domande e segui le tue pratiche.".to_string()),
    ];
    for (name, value) in changes {
        fields.retain(|(n, _)| n != name);
        fields.push((name, value.to_string()));
    }
    let mut form = Form::new();
    for (name, value) in fields {
        form = form.text(name.to_string(), value);
    }
    for (label, procedure, url) in links {
        form = form
            .text("link_label", label.to_string())
            .text("link_description", String::new())
            .text("link_procedure", procedure.to_string())
            .text("link_url", url.to_string());
    }
    for (field, file_name, bytes) in files {
        form = form.part(field.to_string(), Part::bytes(bytes).file_name(file_name.to_string()));
    }
    form
}

async fn editor_version(admin: &mut Browser) -> String {
    hidden(&admin.get_text("/admin/aspetto").await, "version")
}

async fn save(admin: &mut Browser, form: Form) -> reqwest::Response {
    admin.post_multipart("/admin/aspetto", form).await
}

async fn drafts_of(app: &TestApp, slug: &str) -> (i64, i64) {
    let mut tx = sportello::db::TenantTx::begin(&app.db.admin, app.tenant_id_of(slug).await).await.unwrap();
    let drafts = sqlx::query_scalar("select count(*) from branding_drafts").fetch_one(tx.conn()).await.unwrap();
    let images = sqlx::query_scalar("select count(*) from branding_draft_images").fetch_one(tx.conn()).await.unwrap();
    tx.commit().await.unwrap();
    (drafts, images)
}

/// `text` as Tera writes it into a page (slashes and quotes escaped).
fn escaped(text: &str) -> String {
    text.replace('/', "&#x2F;").replace('\'', "&#x27;")
}

/// The first address in the page's attributes that starts with `prefix`
/// (written as it is, or escaped), unescaped.
fn address(html: &str, prefix: &str) -> String {
    let at = html
        .find(&format!("=\"{prefix}"))
        .or_else(|| html.find(&format!("=\"{}", escaped(prefix))))
        .unwrap_or_else(|| panic!("no {prefix} in the page"));
    let rest = &html[at + 2..];
    rest[..rest.find('"').unwrap()].replace("&#x2F;", "/").replace("&amp;", "&")
}

#[tokio::test]
async fn an_admin_uploads_a_logo_previews_and_publishes_and_the_public_home_shows_it() {
    let app = spawn_app().await;
    let _provider = offices(&app).await;
    let mut mario = staff(&app, VALMORA, ADMIN).await;

    let editor = mario.get_text("/admin/aspetto").await;
    assert!(editor.contains("value=\"#0066cc\""), "the published colour is the starting point");
    assert!(editor.contains("data-element=\"branding-draft-status\""));
    assert!(!editor.contains("data-element=\"branding-publish\""), "nothing to publish without a draft");
    // The access banner's snippet, with a copy button that only its script shows.
    assert!(
        editor.contains("id=\"embed-snippet\"")
            && editor.contains("https:&#x2F;&#x2F;valmora.localhost&#x2F;embed&#x2F;banner")
    );
    assert!(editor.contains("type=\"button\" hidden data-copy-from=\"embed-snippet\""));
    assert!(editor.contains("copy-snippet.js\" defer></script>"));
    assert_eq!(hidden(&editor, "version"), "0");

    // A PNG sent under an SVG's name: the content decides.
    let title = "Valmora, i servizi a portata di clic";
    let form = editor_form(
        "0",
        &[("primary_color", "#004D99"), ("banner_title", title)],
        &[("Cambio di residenza", "cambio-residenza", ""), ("ANPR", "", "https://www.anagrafenazionale.interno.it/")],
        vec![("logo", "logo.svg", PNG.to_vec())],
    );
    let saved = save(&mut mario, form).await;
    assert_eq!(saved.status(), 303);
    assert_eq!(location(&saved), "/admin/aspetto?esito=bozza-salvata");
    assert_eq!(drafts_of(&app, "valmora").await, (1, 1));

    // The public home keeps the published look; the preview is the draft.
    let public = Browser::new(&app, VALMORA).get_text("/").await;
    assert!(!public.contains(title));
    let preview = mario.get("/admin/aspetto/anteprima").await;
    assert_eq!(preview.status(), 200);
    assert_eq!(preview.headers()["cache-control"], "private, no-store");
    let preview = preview.text().await.unwrap();
    assert!(preview.contains(title), "the preview shows the draft's banner title");
    assert!(preview.contains("data-element=\"preview-notice\"") && preview.contains("Anteprima della bozza"));
    assert!(
        preview.contains("data-element=\"quick-links\"")
            && preview.contains(&escaped("href=\"/servizi/cambio-residenza\""))
    );
    assert!(!preview.contains("/branding/tema.css"), "the published colours are not linked");
    assert!(preview.find("Cambio di residenza</a>").unwrap() < preview.find("ANPR").unwrap(), "in the order saved");
    let css = mario.get_text(&address(&preview, "/admin/aspetto/anteprima/tema.css")).await;
    assert!(css.contains("--sp-primary: #004d99;"), "{css}");
    assert!(preview.contains(&escaped("src=\"/admin/aspetto/anteprima/immagini/logo?v=")));
    let logo = mario.get("/admin/aspetto/anteprima/immagini/logo").await;
    assert_eq!(logo.headers()["content-type"], "image/png");
    assert_eq!(logo.bytes().await.unwrap().as_ref(), PNG);
    let anonymous = Browser::new(&app, VALMORA).get("/admin/aspetto/anteprima/immagini/logo").await;
    assert_eq!(anonymous.status(), 303, "the draft's images are not public");

    // Moving a link is a save of the draft; it works without JavaScript.
    let editor = mario.get_text("/admin/aspetto").await;
    assert!(editor.contains("name=\"move\" value=\"giu-0\""));
    let version = hidden(&editor, "version");
    let form = editor_form(
        &version,
        &[("primary_color", "#004d99"), ("banner_title", title), ("move", "giu-0")],
        &[("Cambio di residenza", "cambio-residenza", ""), ("ANPR", "", "https://www.anagrafenazionale.interno.it/")],
        vec![],
    );
    assert_eq!(location(&save(&mut mario, form).await), "/admin/aspetto?esito=bozza-salvata#collegamenti");
    let preview = mario.get_text("/admin/aspetto/anteprima").await;
    assert!(preview.find("ANPR").unwrap() < preview.find("Cambio di residenza</a>").unwrap(), "ANPR comes first now");
    assert_eq!(drafts_of(&app, "valmora").await, (1, 1), "the logo stays in the draft");

    // Publish: the public home shows the new title, logo and colour.
    let version = editor_version(&mut mario).await;
    let published = mario.post("/admin/aspetto/pubblica", &[("version", &version)]).await;
    assert_eq!(location(&published), "/admin/aspetto?esito=pubblicata");
    let home = wait_for(10, "the public home shows the published look", async || {
        let home = Browser::new(&app, VALMORA).get_text("/").await;
        home.contains(title).then_some(home)
    })
    .await;
    assert!(home.contains(&escaped("src=\"/branding/logo.png?v=")), "stored under the detected format's name");
    let mut visitor = Browser::new(&app, VALMORA);
    let logo = visitor.get(&address(&home, "/branding/logo.png")).await;
    assert_eq!(logo.status(), 200);
    assert_eq!(logo.headers()["content-type"], "image/png");
    assert_eq!(logo.bytes().await.unwrap().as_ref(), PNG);
    let css = visitor.get_text(&address(&home, "/branding/tema.css")).await;
    assert!(css.contains("--sp-primary: #004d99;"), "{css}");
    assert!(home.find("ANPR").unwrap() < home.find("Cambio di residenza</a>").unwrap());
    assert_eq!(drafts_of(&app, "valmora").await, (0, 0), "publishing used the draft up");
    let editor = mario.get_text("/admin/aspetto?esito=pubblicata").await;
    assert!(editor.contains("Aspetto pubblicato") && editor.contains(&format!("value=\"{title}\"")));

    // The audit trail: who published, with digests of before and after.
    let mut tx = valmora(&app).await;
    let entries: Vec<(String, String, serde_json::Value, serde_json::Value)> = sqlx::query_as(
        "select action, actor_label, coalesce(before, 'null'), coalesce(after, 'null') from audit_log
         where object_type = 'branding' order by seq",
    )
    .fetch_all(tx.conn())
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(actions, ["branding.draft_save", "branding.draft_image", "branding.draft_save", "branding.publish"]);
    let (_, who, before, after) = entries.last().unwrap();
    assert!(who.contains("Mario Rossi"), "{who}");
    assert_eq!(before["primary_color"], "#0066cc");
    assert_eq!(after["primary_color"], "#004d99");
    let digest = |v: &serde_json::Value| v["sha256"].as_str().unwrap().to_string();
    assert_eq!(digest(before).len(), 64);
    assert_ne!(digest(before), digest(after));
    assert_eq!(after["images"][0]["kind"], "logo");
}

#[tokio::test]
async fn refused_images_colours_and_links_say_why_next_to_the_field_and_nothing_is_kept() {
    let app = spawn_app().await;
    let _provider = offices(&app).await;
    let mut mario = staff(&app, VALMORA, ADMIN).await;
    let svg = |inner: &str| {
        format!("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 10 10\">{inner}</svg>").into_bytes()
    };
    let refusals: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        ("logo", "logo.svg", svg("<script>alert(1)</script>"), "contiene l&#x27;elemento &lt;script&gt;"),
        ("banner", "banner.svg", svg("<rect onload=\"alert(1)\" width=\"1\" height=\"1\"/>"), "attributo onload"),
        (
            "logo",
            "logo.svg",
            svg("<image href=\"https://tracker.example/p.png\"/>"),
            "https:&#x2F;&#x2F;tracker.example",
        ),
        (
            "logo",
            "logo.png",
            b"<html><body>not an image</body></html>".to_vec(),
            "non è un&#x27;immagine PNG, JPEG o SVG",
        ),
        ("banner", "banner.png", vec![0x89; 2 * 1024 * 1024 + 1], "Il file supera 2 MiB"),
    ];
    for (field, name, bytes, reason) in refusals {
        let response = save(&mut mario, editor_form("0", &[], &[], vec![(field, name, bytes)])).await;
        assert_eq!(response.status(), 422, "{name}: {reason}");
        let page = response.text().await.unwrap();
        let error =
            page.find(&format!("id=\"{field}-error\"")).unwrap_or_else(|| panic!("{reason}: no message by {field}"));
        assert!(page[error..].starts_with(&format!("id=\"{field}-error\" data-element=\"field-error\">")));
        assert!(page[error..error + 400].contains(reason), "{reason}: {}", &page[error..error + 400]);
        assert!(page.contains(&format!("aria-describedby=\"{field}-current {field}-error\" aria-invalid=\"true\"")));
        assert!(page.contains("Nulla è stato salvato"));
    }
    // The same in English, for an admin reading Valmora's portal so.
    mario.cookies.insert("sportello_lang".into(), "en".into());
    let english =
        save(&mut mario, editor_form("0", &[], &[], vec![("logo", "logo.svg", svg("<foreignObject/>"))])).await;
    assert_eq!(english.status(), 422);
    let english = english.text().await.unwrap();
    assert!(english.contains("lang=\"en\""));
    assert!(english.contains("contains the &lt;foreignObject&gt; element"), "the reason in English");
    mario.cookies.remove("sportello_lang");

    // A colour white text cannot be read on: the measured ratio and the one needed.
    let response = save(&mut mario, editor_form("0", &[("primary_color", "#ffcc00")], &[], vec![])).await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    let error = page.find("id=\"primary_color-error\"").expect("the message is next to the colour");
    assert!(page[error..error + 300].contains("contrasto 1,5:1, serve almeno 4,5:1"), "{}", &page[error..error + 300]);
    assert!(page.contains("value=\"#ffcc00\""), "what was typed comes back");
    // A quick link to a plain-http address, and one to another ente's procedure.
    let links = [("Sito", "", "http://www.comune.valmora.example/"), ("Altro", "permesso-ztl", "")];
    let response = save(&mut mario, editor_form("0", &[], &links, vec![])).await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    let error = page.find("id=\"link-0-url-error\"").expect("the message is next to the address");
    assert!(page[error..error + 300].contains("deve iniziare con https:&#x2F;&#x2F;"));
    assert!(page.contains("id=\"link-1-procedure-error\""), "Roccamare's procedure is no target on Valmora");
    assert!(page.contains(&escaped("value=\"http://www.comune.valmora.example/\"")));

    assert_eq!(drafts_of(&app, "valmora").await, (0, 0), "nothing of any refused save was kept");
    let mut tx = valmora(&app).await;
    let assets: Vec<String> =
        sqlx::query_scalar("select name from tenant_assets order by name").fetch_all(tx.conn()).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(assets, ["banner.svg", "logo.svg"], "the published images are untouched");
}

#[tokio::test]
async fn operators_are_refused_and_each_ente_sees_only_its_own_draft() {
    let app = spawn_app().await;
    let _provider = offices(&app).await;
    let gets = [
        "/admin/aspetto",
        "/admin/aspetto/anteprima",
        "/admin/aspetto/anteprima/tema.css",
        "/admin/aspetto/anteprima/immagini/logo",
    ];
    let mut giulia = staff(&app, VALMORA, OPERATOR).await;
    for path in gets {
        assert_eq!(giulia.get(path).await.status(), 403, "operator on {path}");
    }
    assert_eq!(save(&mut giulia, editor_form("0", &[], &[], vec![])).await.status(), 403);
    for path in ["/admin/aspetto/pubblica", "/admin/aspetto/scarta"] {
        assert_eq!(giulia.post(path, &[("version", "1")]).await.status(), 403, "operator posting {path}");
    }

    let mut mario = staff(&app, VALMORA, ADMIN).await;
    let title = "Un titolo che solo Valmora ha in bozza";
    let form = editor_form("0", &[("banner_title", title)], &[], vec![("banner", "b.png", PNG.to_vec())]);
    assert_eq!(save(&mut mario, form).await.status(), 303);

    // Roccamare's admin: his own (published) look, never Valmora's draft.
    let mut paolo = staff(&app, ROCCAMARE, "paolo.gialli@roccamare.example").await;
    let editor = paolo.get_text("/admin/aspetto").await;
    assert!(!editor.contains(title) && editor.contains("value=\"#00695c\""));
    assert!(!editor.contains("data-element=\"branding-publish\""), "Roccamare has no draft");
    assert!(!paolo.get_text("/admin/aspetto/anteprima").await.contains(title));
    assert_eq!(paolo.get("/admin/aspetto/anteprima/immagini/banner").await.status(), 404);
    assert_eq!(paolo.post("/admin/aspetto/scarta", &[]).await.status(), 303);
    let stale = paolo.post("/admin/aspetto/pubblica", &[("version", "1")]).await;
    assert_eq!(stale.status(), 409, "Valmora's draft version means nothing on Roccamare");
    let mut paolo_on_valmora = Browser::new(&app, VALMORA);
    paolo_on_valmora.cookies = paolo.cookies.clone();
    assert_eq!(paolo_on_valmora.get("/admin/aspetto").await.status(), 303, "another ente's session is no session here");
    assert_eq!(drafts_of(&app, "valmora").await, (1, 1), "Valmora's draft is untouched");
    assert_eq!(drafts_of(&app, "roccamare").await, (0, 0));

    // A save from an old version is refused, naming who saved since.
    let mut other_tab = Browser::new(&app, VALMORA);
    other_tab.cookies = mario.cookies.clone();
    let response = save(&mut other_tab, editor_form("0", &[("banner_title", "Vecchia scheda")], &[], vec![])).await;
    assert_eq!(response.status(), 409);
    let page = response.text().await.unwrap();
    assert!(page.contains("ha salvato la bozza nel frattempo") && page.contains("value=\"Vecchia scheda\""));
    assert_eq!(hidden(&page, "version"), "1", "saving again overrides, on purpose");

    // Discarding drops the draft and its images; the published look stays.
    assert_eq!(location(&mario.post("/admin/aspetto/scarta", &[]).await), "/admin/aspetto?esito=bozza-scartata");
    assert_eq!(drafts_of(&app, "valmora").await, (0, 0));
    assert!(!Browser::new(&app, VALMORA).get_text("/").await.contains(title));
}
