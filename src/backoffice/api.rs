//! The REST API for the ente's own systems (`/api/v1` on the ente's host):
//! list and read cases, run a transition, add a message or a document. A
//! bearer token belongs to one ente (the host's), holds one role and the
//! offices it works for, and a set of scopes. The OpenAPI description is at
//! `/api/v1/openapi.json`. Errors are JSON: `{"error": {"code", "request_id"}}`
//! and, for refused input, `fields`.

use axum::{
    body::Body,
    extract::{FromRequestParts, Path, Query, State},
    http::{header, request::Parts, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json,
};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::{
    access::{self, CaseToProcess, CaseToRead},
    db::{self as bdb, InboxFilter, PAGE_SIZE},
    desk::{self, today},
};
use crate::procedure::engine::{self, Operator, OperatorKind, Refusal, TransitionInput};
use crate::{
    auth::{
        authz::{Access, RouteSpec},
        session::{new_token, token_hash},
    },
    db::TenantTx,
    error::{AppError, AppResult},
    fascicolo::{names::safe_file_name, UploadPolicy, AGID_FORMATS},
    i18n::Text,
    procedure::{
        clock, integrations, messages,
        store::{self, Actor, NewDocument},
    },
    state::AppState,
    tenancy::Tenant,
    users,
    web::{download, CurrentTenant},
};

pub const SCOPES: &[&str] = &["cases:read", "cases:transition", "cases:message", "cases:document"];

pub fn routes() -> Vec<RouteSpec> {
    // The token is checked by the `ApiClient` extractor: the routes are public
    // to the session-based policy, which knows nothing of tokens.
    let open = Access::Public;
    vec![
        RouteSpec::new("/api/v1/openapi.json", &["GET"], open, get(openapi)),
        RouteSpec::new("/api/v1/pratiche", &["GET"], open, get(list)),
        RouteSpec::new("/api/v1/pratiche/{id}", &["GET"], open, get(read)),
        RouteSpec::new("/api/v1/pratiche/{id}/transizioni/{key}", &["POST"], open, post(transition)),
        RouteSpec::new("/api/v1/pratiche/{id}/messaggi", &["POST"], open, post(message)),
        RouteSpec::new("/api/v1/pratiche/{id}/documenti", &["POST"], open, post(upload)),
        RouteSpec::new("/api/v1/pratiche/{id}/documenti/{document}", &["GET"], open, get(download)),
    ]
}

/// A caller authenticated by its bearer token, as an operator.
pub struct ApiClient {
    pub operator: Operator,
    pub scopes: Vec<String>,
}

impl ApiClient {
    fn require(&self, scope: &str) -> AppResult<()> {
        if self.scopes.iter().any(|s| s == scope) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }
}

impl FromRequestParts<AppState> for ApiClient {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let tenant = CurrentTenant::from_request_parts(parts, state).await?;
        let secret = bearer(&parts.headers).ok_or(AppError::Unauthorized)?;
        let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
        let row = bdb::use_token(&mut tx, &token_hash(secret)).await?;
        tx.commit().await?;
        // Another ente's token is just an unknown token here (RLS).
        let bdb::ApiToken { name, role, offices, scopes } = row.ok_or(AppError::Unauthorized)?;
        let subjects = vec![role.clone()];
        // A token listing offices works exactly those; one listing none, what its role may.
        let codes = super::office_codes(state, &tenant.0).await?;
        let mut rights = state.authz.office_rights(state, &tenant.0, &subjects, &codes).await?;
        if !offices.is_empty() {
            let listed: Vec<String> = codes.into_iter().filter(|c| offices.contains(c)).collect();
            (rights.read, rights.process) = (listed.clone(), listed);
            rights.assign.retain(|c| offices.contains(c));
        }
        let operator = Operator {
            kind: OperatorKind::Api,
            user_id: None,
            label: format!("API {name}"),
            roles: vec![role],
            read_offices: rights.read,
            process_offices: rights.process,
            assign_offices: rights.assign,
        };
        Ok(ApiClient { operator, scopes })
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer "))?.trim();
    (!token.is_empty()).then_some(token)
}

/// Creates a token (owner connection; `sportello token create`); the secret is
/// returned once and only its SHA-256 is kept.
pub async fn create_token(
    admin: &sqlx::PgPool,
    tenant_id: Uuid,
    name: &str,
    role: &str,
    offices: &[String],
    scopes: &[String],
) -> anyhow::Result<String> {
    if let Some(bad) = scopes.iter().find(|s| !SCOPES.contains(&s.as_str())) {
        anyhow::bail!("unknown scope {bad:?} (known: {})", SCOPES.join(", "));
    }
    let secret = format!("spt_{}", new_token().0);
    let mut tx = TenantTx::begin(admin, tenant_id).await?;
    let secret_sha256 = token_hash(&secret);
    bdb::insert_token(&mut tx, bdb::NewApiToken { name, secret_sha256: &secret_sha256, role, offices, scopes }).await?;
    tx.commit().await?;
    Ok(secret)
}

pub async fn revoke_token(admin: &sqlx::PgPool, tenant_id: Uuid, name: &str) -> anyhow::Result<bool> {
    let mut tx = TenantTx::begin(admin, tenant_id).await?;
    let done = bdb::revoke_token(&mut tx, name).await?;
    tx.commit().await?;
    Ok(done)
}

async fn list(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    client: ApiClient,
    Query(filter): Query<InboxFilter>,
) -> AppResult<Json<Value>> {
    client.require("cases:read")?;
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let mut rows = bdb::inbox(&mut tx, &client.operator.read_offices, None, &filter, today()).await?;
    tx.commit().await?;
    let next = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    Ok(Json(json!({ "cases": rows, "page": filter.pagina.unwrap_or(1).max(1), "has_next": next })))
}

async fn read(
    tenant: CurrentTenant,
    CaseToRead { by: client, mut tx, case }: CaseToRead<ApiClient>,
) -> AppResult<Json<Value>> {
    client.require("cases:read")?;
    let id = case.id;
    let workflow = case.workflow();
    let citizen = users::by_id(&mut tx, case.user_id).await?.ok_or(AppError::NotFound)?;
    let clock = clock::clock_of(&mut tx, &case).await?;
    let documents = store::documents(&mut tx, id).await?;
    let events = store::events(&mut tx, id, true).await?;
    let requests = integrations::of_case(&mut tx, id).await?;
    let thread = messages::of_case(&mut tx, id).await?;
    tx.commit().await?;
    let status = case.state.as_deref().and_then(|s| workflow.status(s));
    let transitions: Vec<Value> = engine::offered(&case, &workflow, &client.operator)
        .into_iter()
        .map(|t| json!({ "key": t.key, "label": t.label, "to": t.to, "reason": t.reason }))
        .collect();
    Ok(Json(json!({
        "id": case.id,
        "reference": case.reference,
        "procedure": { "slug": case.procedure_slug, "title": case.procedure_title },
        "office": case.office_code,
        "status": { "phase": case.status, "key": case.state, "label": status.map(|s| &s.label), "final": status.map(|s| s.is_final) },
        "registry": { "year": case.registry_year, "number": case.registry_number, "mark": case.registry_mark(&tenant.0.profile.ipa_code) },
        "submitted_at": case.submitted_at,
        "citizen": { "name": format!("{} {}", citizen.given_name, citizen.family_name), "fiscal_code": citizen.fiscal_code },
        "assignee_id": case.assignee_id,
        "answers": case.answers.0,
        "clock": clock,
        "documents": documents,
        "integration_requests": requests,
        "messages": thread,
        "events": events,
        "transitions": transitions,
    })))
}

#[derive(Deserialize)]
struct TransitionBody {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    due_date: Option<NaiveDate>,
}

async fn transition(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    CaseToProcess { by: client, mut tx, case }: CaseToProcess<ApiClient>,
    Path((_, key)): Path<(Uuid, String)>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    client.require("cases:transition")?;
    let body: TransitionBody = serde_json::from_slice(&body).map_err(|_| AppError::BadRequest("JSON body"))?;
    let input = TransitionInput { reason: body.reason, due_date: body.due_date };
    match engine::run_transition(state.env(), &tenant.0, &mut tx, &case, &key, &client.operator, &input).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Err(Refusal::Invalid(fields)) => {
            tx.rollback().await?;
            Err(AppError::Invalid(fields))
        }
        Err(other) => {
            tx.rollback().await?;
            Err(desk::refusal_error(other))
        }
    }
}

#[derive(Deserialize)]
struct MessageBody {
    text: String,
}

async fn message(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    CaseToProcess { by: client, mut tx, case }: CaseToProcess<ApiClient>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    client.require("cases:message")?;
    let body: MessageBody = serde_json::from_slice(&body).map_err(|_| AppError::BadRequest("JSON body"))?;
    let text = body.text.trim();
    let Some(text) = desk::checked_text(text) else {
        let mut fields = engine::Problems::new();
        fields.insert("text".into(), desk::text_problem());
        return Err(AppError::Invalid(fields));
    };
    let message =
        messages::office_writes(state.env(), &tenant.0, &mut tx, case.id, &client.operator.label, text).await?;
    let after = json!({ "message": message, "text": text });
    engine::audit(&mut tx, &client.operator, "case.message", case.id, None, Some(after)).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": message }))).into_response())
}

#[derive(Deserialize)]
struct UploadQuery {
    /// The file name (`?nome=parere.pdf`).
    nome: String,
}

/// The body is the file itself, streamed to storage; its format is judged on
/// its bytes against the AgID list.
async fn upload(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    client: ApiClient,
    Path(id): Path<Uuid>,
    Query(query): Query<UploadQuery>,
    body: Body,
) -> AppResult<Response> {
    client.require("cases:document")?;
    let name = match safe_file_name(&query.nome) {
        Ok(name) => name,
        Err(e) => {
            let mut fields = engine::Problems::new();
            fields.insert("nome".into(), e.message());
            return Err(AppError::Invalid(fields));
        }
    };
    // The case first: no object is stored for a case the client cannot touch —
    // checked in a transaction of its own, so that no connection is held while
    // the body arrives; the document is recorded in a second, short one.
    // Upload slots: the staff member's own, or one shared by the ente's API tokens.
    let _slot = state.uploads.acquire(tenant.0.id, client.operator.user_id.unwrap_or(tenant.0.id))?;
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    access::load_to_process(&mut tx, id, &client.operator).await?;
    tx.commit().await?;
    let policy = UploadPolicy { max_bytes: state.settings.upload_max_bytes, accepted: AGID_FORMATS.to_vec() };
    let stream = body.into_data_stream();
    let stored = match state.store.put_stream(tenant.0.id, stream, &policy).await {
        Ok(stored) => stored,
        Err(e) => {
            if matches!(e, crate::fascicolo::UploadError::Storage(_)) {
                return Err(AppError::Unavailable);
            }
            if let crate::fascicolo::UploadError::Client(cause) = &e {
                if crate::web::server::is_body_timeout(cause.as_ref()) {
                    return Err(AppError::RequestTimeout);
                }
            }
            let mut fields = engine::Problems::new();
            fields.insert("file".into(), e.message());
            return Err(AppError::Invalid(fields));
        }
    };
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let case = access::load_to_process(&mut tx, id, &client.operator).await?;
    let document = store::add_document(
        &mut tx,
        &state.store,
        NewDocument {
            case_id: case.id,
            field_key: None,
            origin: "office",
            name: &name,
            format: stored.format.extension(),
            mime: stored.format.mime(),
            size: stored.size,
            sha256: &stored.sha256,
            integration_id: None,
            message_id: None,
        },
    )
    .await?;
    store::add_event(
        &mut tx,
        case.id,
        "document_added",
        Actor::Office,
        &state
            .renderer
            .catalogues()
            .text(tenant.0.default_lang(), &Text::new("desk.event_office_document").with("name", &name)),
        json!({ "document": document.id, "by": client.operator.label }),
    )
    .await?;
    let after = json!({ "document": document.id, "name": name, "sha256": document.sha256, "size": document.size });
    engine::audit(&mut tx, &client.operator, "case.document_added", case.id, None, Some(after)).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": document.id, "sha256": document.sha256, "size": document.size })))
        .into_response())
}

async fn download(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    CaseToRead { by: client, mut tx, case }: CaseToRead<ApiClient>,
    Path((_, document_id)): Path<(Uuid, Uuid)>,
) -> AppResult<Response> {
    client.require("cases:read")?;
    let document = store::document(&mut tx, case.id, document_id).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    download::stream_document(&state, tenant.0.id, &document).await
}

async fn openapi(tenant: CurrentTenant) -> Json<Value> {
    Json(openapi_document(&tenant.0))
}

/// The OpenAPI 3.1 description of this API, with the ente's host as server.
pub fn openapi_document(tenant: &Tenant) -> Value {
    let id = json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string", "format": "uuid" } });
    let error = json!({ "$ref": "#/components/responses/Error" });
    let errors = |scope: &str| {
        json!({
            "401": { "$ref": "#/components/responses/Error", "description": "Missing, unknown or revoked token" },
            "403": { "$ref": "#/components/responses/Error", "description": format!("The token lacks the {scope} scope, or its role does not allow it") },
            "404": { "$ref": "#/components/responses/Error", "description": "No such case, or not visible to the token" },
        })
    };
    let merge = |mut a: Value, b: Value| {
        if let (Some(a), Value::Object(b)) = (a.as_object_mut(), b) {
            a.extend(b);
        }
        a
    };
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": format!("Sportello — API of {}", tenant.name),
            "version": "1.0.0",
            "description": "The ente's cases for its own systems: list, detail, workflow transitions, messages and documents. Every token belongs to one ente and has a role, the offices it works for, and scopes.",
        },
        "servers": [ { "url": format!("https://{}", tenant.primary_host) } ],
        "security": [ { "bearer": [] } ],
        "paths": {
            "/api/v1/pratiche": { "get": {
                "summary": "The cases of the token's offices, by due date",
                "parameters": [
                    { "name": "stato", "in": "query", "schema": { "type": "string", "enum": ["aperte", "tutte", "submitted", "in_progress", "awaiting_integration", "accepted", "rejected", "closed"] } },
                    { "name": "procedura", "in": "query", "schema": { "type": "string" } },
                    { "name": "scadenza", "in": "query", "schema": { "type": "string", "enum": ["scadute", "7", "30"] } },
                    { "name": "q", "in": "query", "description": "Registry number, case code, fiscal code or family name", "schema": { "type": "string" } },
                    { "name": "pagina", "in": "query", "schema": { "type": "integer", "minimum": 1 } },
                ],
                "responses": merge(json!({ "200": { "description": "A page of cases (50)", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/CaseList" } } } } }), errors("cases:read")),
                "x-scope": "cases:read",
            }},
            "/api/v1/pratiche/{id}": { "get": {
                "summary": "One case: status, registry, deadline, answers, documents, events, available transitions",
                "parameters": [id],
                "responses": merge(json!({ "200": { "description": "The case", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Case" } } } } }), errors("cases:read")),
                "x-scope": "cases:read",
            }},
            "/api/v1/pratiche/{id}/transizioni/{key}": { "post": {
                "summary": "Runs a workflow transition",
                "parameters": [id, { "name": "key", "in": "path", "required": true, "schema": { "type": "string" } }],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/TransitionInput" } } } },
                "responses": merge(json!({
                    "204": { "description": "Done" },
                    "409": error.clone(),
                    "422": { "$ref": "#/components/responses/Invalid" },
                }), errors("cases:transition")),
                "x-scope": "cases:transition",
            }},
            "/api/v1/pratiche/{id}/messaggi": { "post": {
                "summary": "Writes to the citizen (who also gets an e-mail)",
                "parameters": [id],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["text"], "properties": { "text": { "type": "string", "maxLength": 5000 } } } } } },
                "responses": merge(json!({ "201": { "description": "Sent" }, "422": { "$ref": "#/components/responses/Invalid" } }), errors("cases:message")),
                "x-scope": "cases:message",
            }},
            "/api/v1/pratiche/{id}/documenti": { "post": {
                "summary": "Adds an office document to the case file (the body is the file)",
                "parameters": [id, { "name": "nome", "in": "query", "required": true, "schema": { "type": "string" } }],
                "requestBody": { "required": true, "content": { "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } } },
                "responses": merge(json!({ "201": { "description": "Stored (SHA-256 in the body)" }, "422": { "$ref": "#/components/responses/Invalid" } }), errors("cases:document")),
                "x-scope": "cases:document",
            }},
            "/api/v1/pratiche/{id}/documenti/{document}": { "get": {
                "summary": "Downloads a document of the case file",
                "parameters": [id, { "name": "document", "in": "path", "required": true, "schema": { "type": "string", "format": "uuid" } }],
                "responses": merge(json!({ "200": { "description": "The file" } }), errors("cases:read")),
                "x-scope": "cases:read",
            }},
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "description": "A token of the ente (`sportello token create`)" } },
            "responses": {
                "Error": { "description": "Error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                "Invalid": { "description": "Invalid input: a message per field, in the request's language (Accept-Language)", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
            },
            "schemas": {
                "Error": { "type": "object", "properties": { "error": { "type": "object", "required": ["code", "request_id"], "properties": {
                    "code": { "type": "string", "enum": ["unauthorized", "forbidden", "not_found", "conflict", "invalid", "bad_request", "unavailable", "internal"] },
                    "request_id": { "type": "string" },
                    "fields": { "type": "object", "additionalProperties": { "type": "string" } } } } } },
                "TransitionInput": { "type": "object", "properties": {
                    "reason": { "type": "string", "maxLength": 5000 },
                    "due_date": { "type": "string", "format": "date", "description": "For integration requests" } } },
                "CaseList": { "type": "object", "properties": { "cases": { "type": "array", "items": { "type": "object" } }, "page": { "type": "integer" }, "has_next": { "type": "boolean" } } },
                "Case": { "type": "object", "properties": {
                    "id": { "type": "string", "format": "uuid" }, "reference": { "type": "string" },
                    "status": { "type": "object" }, "registry": { "type": "object" }, "clock": { "type": "object" },
                    "documents": { "type": "array" }, "events": { "type": "array" }, "transitions": { "type": "array" } } },
            },
        },
    })
}
