//! Messages leave through real peers: SMS through the Skebby REST adapter,
//! against a local HTTP server standing in for Skebby (no real provider can run
//! here), and e-mail over SMTP to an aiosmtpd server writing a Maildir.

use std::{
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    extract::State,
    http::HeaderMap,
    routing::{get, post},
    Json, Router,
};
use sportello::config::Secret;

use crate::helpers::{root, scratch, spawn_app_with, test_settings, Browser};

#[derive(Default)]
struct Skebby {
    sent: Mutex<Vec<(HeaderMap, serde_json::Value)>>,
}

async fn skebby_login(
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> (axum::http::StatusCode, String) {
    if q.get("username").map(String::as_str) == Some("comune")
        && q.get("password").map(String::as_str) == Some("segreta")
    {
        (axum::http::StatusCode::OK, "USERKEY1;SESSIONKEY1".into())
    } else {
        (axum::http::StatusCode::UNAUTHORIZED, String::new())
    }
}

async fn skebby_send(
    State(skebby): State<Arc<Skebby>>,
    headers: HeaderMap,
    Json(body): Json<serde_json::Value>,
) -> (axum::http::StatusCode, Json<serde_json::Value>) {
    skebby.sent.lock().unwrap().push((headers, body));
    (
        axum::http::StatusCode::CREATED,
        Json(serde_json::json!({ "result": "OK", "order_id": "ORD-42", "total_sent": 1 })),
    )
}

async fn start_skebby() -> (String, Arc<Skebby>) {
    let skebby = Arc::new(Skebby::default());
    let app = Router::new()
        .route("/API/v1.0/REST/login", get(skebby_login))
        .route("/API/v1.0/REST/sms", post(skebby_send))
        .with_state(skebby.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/API/v1.0/REST/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, skebby)
}

struct Smtp {
    child: Child,
    maildir: std::path::PathBuf,
    port: u16,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_smtp() -> Smtp {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let maildir = scratch().join(format!("maildir-{port}"));
    std::fs::create_dir_all(scratch()).unwrap();
    let child = Command::new(root().join(".venv-test/bin/aiosmtpd"))
        .args(["-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
        .arg(&maildir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("aiosmtpd (scripts/setup.sh --test installs it)");
    let mut smtp = Smtp { child, maildir, port };
    for _ in 0..300 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return smtp;
        }
        if smtp.child.try_wait().unwrap().is_some() {
            let mut err = String::new();
            std::io::Read::read_to_string(smtp.child.stderr.as_mut().unwrap(), &mut err).unwrap();
            panic!("aiosmtpd exited: {err}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("aiosmtpd did not listen within 30 s");
}

fn mails(maildir: &std::path::Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(maildir.join("new")) else { return Vec::new() };
    entries.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok()).collect()
}

#[tokio::test]
async fn registration_codes_leave_by_sms_gateway_and_smtp() {
    let (skebby_url, skebby) = start_skebby().await;
    let smtp = start_smtp();
    let mut settings = test_settings();
    settings.sms_gateway = "skebby".into();
    settings.skebby_url = skebby_url;
    settings.skebby_username = "comune".into();
    settings.skebby_password = Some(Secret::new("segreta"));
    settings.smtp_url = Some(Secret::new(format!("smtp://127.0.0.1:{}", smtp.port)));
    settings.mail_from = "servizi@comune.valmora.bg.it".into();
    let app = spawn_app_with(settings).await;

    let mut browser = Browser::new(&app, "valmora.localhost");
    browser.get_text("/registrazione").await;
    let response = browser
        .post(
            "/registrazione",
            &[
                ("given_name", "Paolo"),
                ("family_name", "Verdi"),
                ("fiscal_code", "RSSMRA85T10A562S"),
                ("email", "paolo.verdi@example.it"),
                ("mobile", "+39 340 5556666"),
                ("password", "Corretto-Cavallo-9"),
                ("password_confirm", "Corretto-Cavallo-9"),
                ("privacy", "1"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);

    // Delivery runs after the commit: wait for both peers (bounded).
    let mut sms = None;
    let mut mail = None;
    for _ in 0..100 {
        sms = skebby.sent.lock().unwrap().first().cloned();
        mail = mails(&smtp.maildir).into_iter().next();
        if sms.is_some() && mail.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (headers, body) = sms.expect("the SMS reached the gateway");
    assert_eq!(headers["user_key"], "USERKEY1");
    assert_eq!(headers["Session_key"], "SESSIONKEY1");
    assert_eq!(body["recipient"], serde_json::json!(["+393405556666"]));
    assert_eq!(body["sender"], "ComValmora");
    assert_eq!(body["message_type"], "GP");
    let sms_text = body["message"].as_str().unwrap().to_string();
    let mail = mail.expect("the e-mail reached the SMTP server");
    assert!(mail.contains("To: paolo.verdi@example.it"));
    assert!(mail.contains("servizi@comune.valmora.bg.it"));

    let code_in = |text: &str| text.split(|c: char| !c.is_ascii_digit()).find(|w| w.len() == 6).unwrap().to_string();
    let sms_code = code_in(&sms_text);
    let body_start = mail.find("\n\n").unwrap();
    let email_code = code_in(&mail[body_start..]);
    let response =
        browser.post("/registrazione/verifica", &[("email_code", &email_code), ("sms_code", &sms_code)]).await;
    assert_eq!(response.status(), 303, "codes delivered by the real peers verify the account");

    // Once the gateway has it, the code is not kept in our outbox.
    let id = app.tenant_id_of("valmora").await;
    let mut tx = sportello::db::TenantTx::begin(&app.db.admin, id).await.unwrap();
    let (stored, reference): (String, Option<String>) =
        sqlx::query_as("select body, provider_ref from sms_outbox").fetch_one(tx.conn()).await.unwrap();
    tx.commit().await.unwrap();
    assert!(!stored.contains(&sms_code) && stored.contains("******"));
    assert_eq!(reference.as_deref(), Some("ORD-42"));
}
