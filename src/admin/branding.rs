//! The branding section of the console (`/admin/aspetto`): the ente's theme,
//! primary colour (refused below WCAG AA contrast with the white text the
//! header and buttons put on it), home page texts, quick links, logo and
//! banner — edited on a draft, previewed as the real home page, then published
//! for every node at once — and the access banner's snippet to copy.
//!
//! The draft is saved whole or not at all: a refused colour, link or image
//! says why next to its input and nothing is kept, so what the preview shows
//! is always a draft that can be published.

pub mod contrast;
pub mod draft;
pub mod image;

use std::{collections::BTreeMap, sync::Arc};

use axum::{
    body::Body,
    extract::{DefaultBodyLimit, Multipart, Path, Query},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Form,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use self::draft::{BrandingContent, Draft, Link, Saved};
use super::{context, db, Admin, Section, READ, WRITE};
use crate::{
    audit,
    auth::{authz::RouteSpec, page::Page},
    db::TenantTx,
    error::{AppError, AppResult},
    i18n::Text,
    tenancy::{
        model::{Branding, Profile},
        Site,
    },
    web::{base_context, render_page},
};

pub fn routes() -> Vec<RouteSpec> {
    // Two images and the texts; each image is checked against its own limit
    // while it arrives, so a bigger file is refused with a sentence, not a 413.
    let body_limit = DefaultBodyLimit::max(3 * image::MAX_BYTES);
    vec![
        RouteSpec::new("/admin/aspetto", &["GET", "POST"], WRITE, get(editor).post(save).layer(body_limit)),
        RouteSpec::new("/admin/aspetto/anteprima", &["GET"], READ, get(preview)),
        RouteSpec::new("/admin/aspetto/anteprima/tema.css", &["GET"], READ, get(preview_css)),
        RouteSpec::new("/admin/aspetto/anteprima/immagini/{kind}", &["GET"], READ, get(preview_image)),
        RouteSpec::new("/admin/aspetto/pubblica", &["POST"], WRITE, post(publish)),
        RouteSpec::new("/admin/aspetto/scarta", &["POST"], WRITE, post(discard)),
    ]
}

const IMAGE_KINDS: [&str; 2] = ["logo", "banner"];

/// Rows of quick links the editor offers beyond those filled (no JavaScript needed).
const SPARE_LINK_ROWS: usize = 2;

/// Outcomes a redirect may announce (`?esito=`), each a message key.
const OUTCOMES: &[(&str, &str)] = &[
    ("bozza-salvata", "admin.branding.outcome.draft_saved"),
    ("pubblicata", "admin.branding.outcome.published"),
    ("bozza-scartata", "admin.branding.outcome.draft_discarded"),
];

#[derive(Deserialize, Default)]
pub struct Outcome {
    #[serde(default)]
    esito: Option<String>,
}

impl Outcome {
    fn message(&self) -> Option<&'static str> {
        let code = self.esito.as_deref()?;
        OUTCOMES.iter().find(|(c, _)| *c == code).map(|(_, key)| *key)
    }
}

/// How the visitor writes a decimal number (the measured contrast).
fn decimal_separator(lang: &str) -> char {
    match lang {
        "en" => '.',
        _ => ',',
    }
}

/// The procedures a quick link may point to: online ones, as `(slug, title)`.
async fn link_targets(tx: &mut TenantTx) -> sqlx::Result<Vec<(String, String)>> {
    Ok(db::procedures(tx).await?.into_iter().filter(|p| p.published).map(|p| (p.slug, p.title)).collect())
}

fn problems_of(page: &Page, content: &BrandingContent, targets: &[(String, String)]) -> BTreeMap<String, Text> {
    let slugs: Vec<String> = targets.iter().map(|(slug, _)| slug.clone()).collect();
    content.problems(page.state.renderer.themes(), &slugs, decimal_separator(page.lang()))
}

/// Where the editor and the preview find an image: the draft's pending one,
/// else the published one.
fn image_url(page: &Page, draft: Option<&Draft>, kind: &str) -> Option<String> {
    if let Some(pending) = draft.and_then(|d| d.image(kind)) {
        return Some(format!("/admin/aspetto/anteprima/immagini/{kind}?v={}", &pending.sha256[..12]));
    }
    let branding = &page.tenant.0.profile.branding;
    if kind == "logo" {
        branding.logo_url.clone()
    } else {
        branding.banner_url.clone()
    }
}

/// The `<iframe>` the ente's webmaster pastes: the same snippet as the public
/// `/banner-accesso` page (`portal::banner_instructions`) writes.
fn embed_snippet(page: &Page) -> String {
    format!(
        "<iframe src=\"https://{host}/embed/banner\" title=\"{title}\" width=\"100%\" height=\"220\" style=\"border:0\" loading=\"lazy\"></iframe>",
        host = page.tenant.0.primary_host,
        title = tera::escape_html(&page.state.renderer.translate_in(page.lang(), "embed.iframe_title")),
    )
}

/// What the editor shows besides the values.
struct Editor<'a> {
    content: &'a BrandingContent,
    /// The version a save from this page names.
    version: i32,
    /// Messages next to the inputs, in the visitor's language.
    errors: BTreeMap<String, String>,
    status: StatusCode,
    outcome: Option<&'static str>,
    /// A sentence above the form: a conflict, or why nothing was saved.
    notice: Option<String>,
}

#[derive(Serialize)]
struct LinkRow<'a> {
    at: usize,
    link: &'a Link,
}

async fn editor_page(page: &Page, admin: &Admin, draft: Option<&Draft>, editor: Editor<'_>) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let targets = link_targets(&mut tx).await?;
    tx.commit().await?;
    let spare = Link::default();
    let filled = editor.content.quick_links.len();
    let rows = filled + SPARE_LINK_ROWS.min(draft::MAX_LINKS.saturating_sub(filled));
    let links: Vec<LinkRow> =
        (0..rows).map(|at| LinkRow { at, link: editor.content.quick_links.get(at).unwrap_or(&spare) }).collect();
    let mut context = context(page, admin, Section::Branding);
    context.insert("values", editor.content);
    context.insert("version", &editor.version);
    context.insert("links", &links);
    context.insert("filled_links", &filled);
    context.insert("errors", &editor.errors);
    context.insert("themes", page.state.renderer.themes());
    context.insert("targets", &targets);
    context.insert("draft", &draft);
    context.insert("logo_url", &image_url(page, draft, "logo"));
    context.insert("banner_url", &image_url(page, draft, "banner"));
    context.insert("outcome", &editor.outcome);
    context.insert("notice", &editor.notice);
    context.insert("snippet", &embed_snippet(page));
    page.render_with(editor.status, "admin/branding.html", &context)
}

async fn load_draft(page: &Page) -> AppResult<Option<Draft>> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let draft = draft::load(&mut tx).await?;
    tx.commit().await?;
    Ok(draft)
}

fn say(page: &Page, problems: BTreeMap<String, Text>) -> BTreeMap<String, String> {
    problems.into_iter().map(|(input, text)| (input, page.text(&text))).collect()
}

pub async fn editor(page: Page, admin: Admin, Query(outcome): Query<Outcome>) -> AppResult<Response> {
    let draft = load_draft(&page).await?;
    let content =
        draft.as_ref().map(|d| d.content.clone()).unwrap_or_else(|| BrandingContent::published(&page.tenant.0));
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let targets = link_targets(&mut tx).await?;
    tx.commit().await?;
    // What stands between this content and its publication, shown at once.
    let errors = say(&page, problems_of(&page, &content, &targets));
    let editor = Editor {
        content: &content,
        version: draft.as_ref().map_or(0, |d| d.version),
        errors,
        status: StatusCode::OK,
        outcome: outcome.message(),
        notice: None,
    };
    editor_page(&page, &admin, draft.as_ref(), editor).await
}

/// The editor's form as it arrived: the texts, and each image read up to one
/// byte over its limit (what lies beyond is never read).
#[derive(Default)]
struct Received {
    fields: Vec<(String, String)>,
    images: BTreeMap<&'static str, Vec<u8>>,
}

const MAX_TEXT_BYTES: usize = 64 * 1024;

async fn receive(mut multipart: Multipart) -> AppResult<Received> {
    let mut received = Received::default();
    let bad_body = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge
        } else {
            AppError::BadRequest("the branding form's body is not a readable multipart form")
        }
    };
    let mut text_bytes = 0;
    while let Some(mut field) = multipart.next_field().await.map_err(bad_body)? {
        let name = field.name().unwrap_or_default().to_string();
        let kind = IMAGE_KINDS.into_iter().find(|k| *k == name);
        match (kind, field.file_name().is_some()) {
            (Some(kind), true) => {
                let mut body = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(bad_body)? {
                    body.extend_from_slice(&chunk);
                    if body.len() > image::MAX_BYTES {
                        break;
                    }
                }
                // An empty file input arrives as a part without content: no new image.
                if !body.is_empty() {
                    received.images.insert(kind, body);
                }
            }
            (None, true) => return Err(AppError::BadRequest("a file in a field that takes none")),
            (_, false) => {
                let bytes = field.bytes().await.map_err(bad_body)?;
                text_bytes += bytes.len();
                if bytes.len() > MAX_TEXT_BYTES || text_bytes > 4 * MAX_TEXT_BYTES {
                    return Err(AppError::PayloadTooLarge);
                }
                let value = String::from_utf8(bytes.to_vec()).map_err(|_| AppError::BadRequest("text is not UTF-8"))?;
                received.fields.push((name, value));
            }
        }
    }
    Ok(received)
}

/// A request to move a quick link's row: `su-<row>` or `giu-<row>`.
fn apply_move(links: &mut [Link], request: &str) {
    let (by, row) = match request.split_once('-') {
        Some(("su", row)) => (-1, row),
        Some(("giu", row)) => (1, row),
        _ => return,
    };
    let Ok(row) = row.parse::<usize>() else { return };
    let Some(to) = row.checked_add_signed(by) else { return };
    if row < links.len() && to < links.len() {
        links.swap(row, to);
    }
}

/// The content the form describes, the version it was made from, and whether
/// it asked to move a row.
fn content_of(fields: &[(String, String)]) -> (BrandingContent, Option<i32>, bool) {
    let mut content = BrandingContent::default();
    let (mut labels, mut descriptions, mut procedures, mut urls) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut version, mut movement) = (None, None);
    let clean = |value: &str| value.replace("\r\n", "\n").trim().to_string();
    for (name, value) in fields {
        match name.as_str() {
            "theme" => content.theme = clean(value),
            "primary_color" => content.primary_color = clean(value).to_ascii_lowercase(),
            "tagline" => content.tagline = clean(value),
            "banner_title" => content.banner_title = clean(value),
            "banner_text" => content.banner_text = clean(value),
            "link_label" => labels.push(clean(value)),
            "link_description" => descriptions.push(clean(value)),
            "link_procedure" => procedures.push(clean(value)),
            "link_url" => urls.push(clean(value)),
            "version" => version = value.trim().parse().ok(),
            "move" => movement = Some(value.clone()),
            _ => {}
        }
    }
    // Every row sends its four inputs, so the n-th of each belong together.
    let mut links: Vec<Link> = labels
        .into_iter()
        .enumerate()
        .map(|(at, label)| Link {
            label,
            description: descriptions.get(at).cloned().unwrap_or_default(),
            procedure: procedures.get(at).cloned().unwrap_or_default(),
            url: urls.get(at).cloned().unwrap_or_default(),
        })
        .collect();
    // Rows are numbered as the page showed them, spare ones included.
    if let Some(request) = &movement {
        apply_move(&mut links, request);
    }
    content.quick_links = links.into_iter().filter(|l| !l.is_empty()).collect();
    (content, version, movement.is_some())
}

pub async fn save(page: Page, admin: Admin, multipart: Multipart) -> AppResult<Response> {
    let received = receive(multipart).await?;
    let (content, version, moved) = content_of(&received.fields);
    let version = version.ok_or(AppError::BadRequest("the editor always sends the draft's version"))?;
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let targets = link_targets(&mut tx).await?;
    tx.commit().await?;
    let mut problems = problems_of(&page, &content, &targets);
    let mut images = Vec::new();
    for (kind, body) in &received.images {
        match image::check(body) {
            Ok(format) => images.push((*kind, format, body)),
            Err(refusal) => {
                problems.insert(kind.to_string(), refusal.text());
            }
        }
    }
    if !problems.is_empty() {
        let draft = load_draft(&page).await?;
        let editor = Editor {
            content: &content,
            version,
            errors: say(&page, problems),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            outcome: None,
            notice: Some(page.text(&Text::new("admin.branding.not_saved"))),
        };
        return editor_page(&page, &admin, draft.as_ref(), editor).await;
    }
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    match draft::save(&mut tx, &content, version, &admin.actor).await? {
        Saved::Saved(_) => {
            for (kind, format, body) in images {
                draft::set_image(&mut tx, kind, format, body, &admin.actor).await?;
            }
            tx.commit().await?;
            let anchor = if moved { "#collegamenti" } else { "" };
            Ok(Redirect::to(&format!("/admin/aspetto?esito=bozza-salvata{anchor}")).into_response())
        }
        Saved::Conflict(theirs) => {
            tx.rollback().await?;
            // Shown with this admin's values and the current version: saving
            // again is a deliberate choice to keep these over theirs.
            let notice = match &theirs {
                Some(d) => Text::new("admin.branding.conflict").with("who", &d.updated_by),
                None => Text::new("admin.branding.conflict_gone"),
            };
            let editor = Editor {
                content: &content,
                version: theirs.as_ref().map_or(0, |d| d.version),
                errors: BTreeMap::new(),
                status: StatusCode::CONFLICT,
                outcome: None,
                notice: Some(page.text(&notice)),
            };
            editor_page(&page, &admin, theirs.as_deref(), editor).await
        }
    }
}

/// The ente as it would look with the draft: a copy of the tenant with the
/// draft's theme and profile, images from the draft where it has new ones.
fn previewed(page: &Page, draft: Option<&Draft>) -> crate::tenancy::Tenant {
    let mut tenant = (*page.tenant.0).clone();
    let content = draft.map(|d| d.content.clone()).unwrap_or_else(|| BrandingContent::published(&tenant));
    tenant.theme = content.theme.clone();
    tenant.profile.tagline = content.tagline.clone();
    tenant.profile.quick_links = content.quick_links.iter().map(Link::published).collect();
    let branding = &mut tenant.profile.branding;
    branding.primary_color = content.primary_color.clone();
    branding.banner_title = content.banner_title.clone();
    branding.banner_text = content.banner_text.clone();
    branding.logo_url = image_url(page, draft, "logo");
    branding.banner_url = image_url(page, draft, "banner");
    branding.css_version = PREVIEW_CSS_VERSION.into();
    tenant
}

/// The stylesheet version the preview's copy of the tenant carries, so that
/// its link to `/branding/tema.css` can be found and pointed at the draft's.
const PREVIEW_CSS_VERSION: &str = "anteprima";

/// Answers only for the admin who asked: never stored by a cache on the way.
fn private(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    response
}

/// The ente's home page as the public sees it (what `portal::home` renders:
/// the categories and `portal/home.html` in the ente's theme), with the
/// draft applied and a notice on top saying it is a preview.
pub async fn preview(page: Page, _admin: Admin) -> AppResult<Response> {
    let draft = load_draft(&page).await?;
    let tenant = previewed(&page, draft.as_ref());
    let mut visit = page.tenant.site();
    visit.site = Site::Tenant(Arc::new(tenant));
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let categories = crate::catalog::db::categories(&mut tx).await?;
    tx.commit().await?;
    let mut context = base_context(&visit);
    context.insert("categories", &categories);
    let html = render_page(&page.state, &visit, "portal/home.html", &context)?.0;
    let mut notice_context = base_context(&visit);
    notice_context.insert("draft", &draft);
    let notice = render_page(&page.state, &visit, "admin/branding_preview_notice.html", &notice_context)?.0;
    // The layout links the published stylesheet and opens <main> itself; the
    // preview swaps the one for the draft's and puts its notice in the other.
    let published_css = format!("href=\"/branding/tema.css?v={PREVIEW_CSS_VERSION}\"");
    let draft_css = format!("href=\"/admin/aspetto/anteprima/tema.css?v={}\"", draft.as_ref().map_or(0, |d| d.version));
    let main = "<main id=\"main-container\">";
    if !html.contains(&published_css) || !html.contains(main) {
        return Err(
            anyhow::anyhow!("the page layout no longer links tema.css or opens <main> as the preview expects").into()
        );
    }
    let html = html.replacen(&published_css, &draft_css, 1).replacen(main, &format!("{main}\n{notice}"), 1);
    Ok(private(axum::response::Html(html).into_response()))
}

/// The colour stylesheet of the draft (what `/branding/tema.css` will serve once published).
pub async fn preview_css(page: Page, _admin: Admin) -> AppResult<Response> {
    let draft = load_draft(&page).await?;
    let tenant = previewed(&page, draft.as_ref());
    let mut visit = page.tenant.site();
    let (theme, primary) = (tenant.theme.clone(), tenant.profile.branding.primary_color.clone());
    visit.site = Site::Tenant(Arc::new(tenant));
    let mut context = base_context(&visit);
    context.insert("primary", &primary);
    let css = page.state.renderer.render(&theme, "layout/branding.css", &context)?;
    Ok(private(([(header::CONTENT_TYPE, "text/css; charset=utf-8")], css).into_response()))
}

/// A pending image of the draft, with the same guard as a published one.
pub async fn preview_image(page: Page, _admin: Admin, Path(kind): Path<String>) -> AppResult<Response> {
    if !IMAGE_KINDS.contains(&kind.as_str()) {
        return Err(AppError::NotFound);
    }
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let (content_type, body) = draft::image_body(&mut tx, &kind).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(&content_type).map_err(anyhow::Error::from)?);
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox; frame-ancestors 'none'"),
    );
    Ok(private(response))
}

#[derive(Deserialize)]
pub struct VersionForm {
    #[serde(default)]
    version: i32,
}

/// What the audit trail records of the published look: the readable choices
/// and the digest of all of it.
fn published_record(theme: &str, profile: &Profile) -> serde_json::Value {
    let look = json!({
        "theme": theme,
        "tagline": profile.tagline,
        "quick_links": profile.quick_links,
        "branding": profile.branding,
    });
    json!({ "theme": theme, "primary_color": profile.branding.primary_color, "sha256": draft::digest_of(&look) })
}

pub async fn publish(page: Page, admin: Admin, Form(form): Form<VersionForm>) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let draft = draft::load(&mut tx).await?;
    // What the admin read on the page must be what is published.
    let Some(draft) = draft.filter(|d| d.version == form.version) else {
        tx.rollback().await?;
        let draft = load_draft(&page).await?;
        let content =
            draft.as_ref().map(|d| d.content.clone()).unwrap_or_else(|| BrandingContent::published(&page.tenant.0));
        let editor = Editor {
            content: &content,
            version: draft.as_ref().map_or(0, |d| d.version),
            errors: BTreeMap::new(),
            status: StatusCode::CONFLICT,
            outcome: None,
            notice: Some(page.text(&Text::new("admin.branding.stale"))),
        };
        return editor_page(&page, &admin, draft.as_ref(), editor).await;
    };
    let targets = link_targets(&mut tx).await?;
    let problems = problems_of(&page, &draft.content, &targets);
    if !problems.is_empty() {
        tx.rollback().await?;
        let editor = Editor {
            content: &draft.content,
            version: draft.version,
            errors: say(&page, problems),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            outcome: None,
            notice: Some(page.text(&Text::new("admin.branding.not_publishable"))),
        };
        return editor_page(&page, &admin, Some(&draft), editor).await;
    }
    // The row as it is now, not as this node's cache last saw it.
    let (theme, profile): (String, sqlx::types::Json<Profile>) =
        sqlx::query_as("select theme, profile from tenants where id = $1")
            .bind(tx.tenant_id)
            .fetch_one(tx.conn())
            .await?;
    let before = published_record(&theme, &profile.0);
    let old = profile.0.branding.clone();
    let mut branding = Branding {
        primary_color: draft.content.primary_color.clone(),
        banner_title: draft.content.banner_title.clone(),
        banner_text: draft.content.banner_text.clone(),
        css_version: css_version(&draft.content.theme, &draft.content.primary_color),
        ..old
    };
    for pending in &draft.images {
        let url = publish_image(&mut tx, pending).await?;
        match pending.kind.as_str() {
            "logo" => branding.logo_url = Some(url),
            _ => branding.banner_url = Some(url),
        }
    }
    let quick_links: Vec<_> = draft.content.quick_links.iter().map(Link::published).collect();
    sqlx::query("select publish_tenant_branding($1, $2, $3, $4)")
        .bind(&draft.content.theme)
        .bind(&draft.content.tagline)
        .bind(sqlx::types::Json(&quick_links))
        .bind(sqlx::types::Json(&branding))
        .execute(tx.conn())
        .await?;
    sqlx::query("delete from branding_drafts").execute(tx.conn()).await?;
    let mut after_profile = profile.0.clone();
    after_profile.tagline = draft.content.tagline.clone();
    after_profile.quick_links = quick_links;
    after_profile.branding = branding;
    let mut after = published_record(&draft.content.theme, &after_profile);
    after["images"] = draft.images.iter().map(|i| json!({ "kind": i.kind, "sha256": i.sha256 })).collect();
    audit::append(
        &mut tx,
        &admin.actor,
        audit::Change {
            action: "branding.publish",
            object_type: "branding",
            object_id: page.tenant.0.slug.clone(),
            before: Some(before),
            after: Some(after),
        },
    )
    .await?;
    // Every node drops its cached tenant and pages on the notification.
    super::catalogue::changed(&page.state, tx).await?;
    Ok(Redirect::to("/admin/aspetto?esito=pubblicata").into_response())
}

/// The version in the stylesheet's URL: it changes with what the stylesheet
/// says (the theme's file and the colour), so browsers fetch the new one.
fn css_version(theme: &str, primary_color: &str) -> String {
    let digest = Sha256::digest(format!("{theme}\n{primary_color}").as_bytes());
    hex::encode(&digest[..6])
}

/// Moves a pending image into `tenant_assets` as `<kind>.<ext>` (dropping the
/// ente's other files of that kind) and returns its immutable URL.
async fn publish_image(tx: &mut TenantTx, pending: &draft::PendingImage) -> AppResult<String> {
    let format = image::Format::of_content_type(&pending.content_type)
        .ok_or_else(|| anyhow::anyhow!("a pending image of type {}", pending.content_type))?;
    let name = format!("{}.{}", pending.kind, format.extension());
    sqlx::query(
        "insert into tenant_assets (tenant_id, name, content_type, sha256, body)
         select tenant_id, $2, content_type, sha256, body from branding_draft_images where kind = $1
         on conflict (tenant_id, name) do update set content_type = excluded.content_type,
             sha256 = excluded.sha256, body = excluded.body, updated_at = now()",
    )
    .bind(&pending.kind)
    .bind(&name)
    .execute(tx.conn())
    .await?;
    sqlx::query("delete from tenant_assets where name like $1 || '.%' and name <> $2")
        .bind(&pending.kind)
        .bind(&name)
        .execute(tx.conn())
        .await?;
    Ok(format!("/branding/{name}?v={}", &pending.sha256[..12]))
}

pub async fn discard(page: Page, admin: Admin) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    draft::discard(&mut tx, &admin.actor).await?;
    tx.commit().await?;
    Ok(Redirect::to("/admin/aspetto?esito=bozza-scartata").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    fn row(label: &str, url: &str) -> [(&'static str, String); 4] {
        [
            ("link_label", label.to_string()),
            ("link_description", String::new()),
            ("link_procedure", String::new()),
            ("link_url", url.to_string()),
        ]
    }

    fn labels(content: &BrandingContent) -> Vec<&str> {
        content.quick_links.iter().map(|l| l.label.as_str()).collect()
    }

    #[test]
    fn rows_move_as_the_page_numbered_them_and_empty_rows_go() {
        let mut form: Vec<(String, String)> = fields(&[("version", "3"), ("primary_color", " #0066CC ")]);
        for (label, url) in [("A", "https://a.it/"), ("", ""), ("C", "https://c.it/"), ("D", "https://d.it/")] {
            form.extend(row(label, url).map(|(n, v)| (n.to_string(), v)));
        }
        let (content, version, moved) = content_of(&form);
        assert_eq!((version, moved), (Some(3), false));
        assert_eq!(content.primary_color, "#0066cc");
        assert_eq!(labels(&content), ["A", "C", "D"]);
        // Row 3 of the page is D (the empty row 1 still counts).
        form.push(("move".into(), "su-3".into()));
        let (content, _, moved) = content_of(&form);
        assert!(moved);
        assert_eq!(labels(&content), ["A", "D", "C"]);
        form.pop();
        for request in ["su-0", "giu-3", "giu-99", "su-x", "sideways-1"] {
            form.push(("move".into(), request.into()));
            assert_eq!(labels(&content_of(&form).0), ["A", "C", "D"], "{request}");
            form.pop();
        }
    }

    #[test]
    fn a_move_swaps_neighbours() {
        let link = |label: &str| Link { label: label.into(), ..Link::default() };
        let mut links = vec![link("A"), link("B"), link("C")];
        apply_move(&mut links, "giu-0");
        assert_eq!(links.iter().map(|l| l.label.as_str()).collect::<Vec<_>>(), ["B", "A", "C"]);
        apply_move(&mut links, "su-2");
        assert_eq!(links.iter().map(|l| l.label.as_str()).collect::<Vec<_>>(), ["B", "C", "A"]);
    }

    #[test]
    fn the_stylesheet_version_follows_theme_and_colour() {
        assert_ne!(css_version("base", "#0066cc"), css_version("mare", "#0066cc"));
        assert_ne!(css_version("base", "#0066cc"), css_version("base", "#0066cd"));
        assert_eq!(css_version("base", "#0066cc").len(), 12);
    }
}
