//! CRS/CNS smart-card sign-in: a test CA and cards made on the spot, presented
//! on the built-in TLS listener and forwarded by a trusted reverse proxy.

use std::path::PathBuf;

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use reqwest::redirect::Policy;
use sportello::config::Settings;

use crate::helpers::{assert_translated, location, scratch, spawn_app_with, test_settings, Browser, TestApp};

const VALMORA: &str = "valmora.localhost";
const ROCCAMARE: &str = "roccamare.localhost";
const FISCAL_CODE: &str = "RSSMRA85T10A562S";
const HEADER: &str = "X-SSL-Client-Cert";

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::OrganizationName, name);
        params.distinguished_name.push(DnType::CommonName, format!("{name} CA"));
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self { cert, key }
    }

    /// Writes the CA certificate where the application can read it.
    fn file(&self, name: &str) -> PathBuf {
        let dir = scratch().join("crs");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}-{}.pem", uuid::Uuid::new_v4().simple()));
        std::fs::write(&path, self.cert.pem()).unwrap();
        path
    }
}

/// A CA file for tests that only need card sign-in to be configured.
pub fn a_ca_file() -> PathBuf {
    Ca::new("Regione Test").file("ca")
}

/// A card certificate as CNS/CRS issuers make them.
struct Card {
    cert_pem: String,
    key_pem: String,
}

#[derive(Clone, Copy)]
enum Validity {
    Current,
    Expired,
}

fn card(ca: &Ca, common_name: &str, validity: Validity) -> Card {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CountryName, "IT");
    params.distinguished_name.push(DnType::CommonName, common_name);
    if let Some(code) = common_name.split('/').next().filter(|c| c.len() == 16) {
        params.distinguished_name.push(DnType::CustomDnType(vec![2, 5, 4, 5]), format!("TINIT-{code}"));
    }
    params.distinguished_name.push(DnType::CustomDnType(vec![2, 5, 4, 42]), "MARIA");
    params.distinguished_name.push(DnType::CustomDnType(vec![2, 5, 4, 4]), "ROSSI");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    (params.not_before, params.not_after) = match validity {
        Validity::Current => (rcgen::date_time_ymd(2024, 1, 1), rcgen::date_time_ymd(2099, 12, 31)),
        Validity::Expired => (rcgen::date_time_ymd(2018, 1, 1), rcgen::date_time_ymd(2024, 1, 1)),
    };
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.cert, &ca.key).unwrap();
    Card { cert_pem: cert.pem(), key_pem: key.serialize_pem() }
}

fn valid_card(ca: &Ca) -> Card {
    card(ca, &format!("{FISCAL_CODE}/7420091000012345.abcdef0123456789"), Validity::Current)
}

impl Card {
    /// The header value nginx sends: `$ssl_client_escaped_cert`.
    fn escaped(&self) -> String {
        percent_encoding::utf8_percent_encode(&self.cert_pem, percent_encoding::NON_ALPHANUMERIC).to_string()
    }
}

fn settings(ca_file: PathBuf, trusted_proxy: bool) -> Settings {
    Settings {
        crs_ca_files: vec![ca_file],
        trusted_proxies: if trusted_proxy { vec!["127.0.0.1/32".parse().unwrap()] } else { Vec::new() },
        ..test_settings()
    }
}

/// Signs in on `browser`'s ente as if through the proxy; returns the response.
async fn through_proxy(browser: &mut Browser, card: &Card, next: &str) -> reqwest::Response {
    let path =
        format!("/accesso/crs?next={}", url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>());
    browser.get_with(&path, &[(HEADER, &card.escaped())]).await
}

async fn session_of(app: &TestApp, slug: &str) -> Vec<(String, i16, String)> {
    let id = app.tenant_id_of(slug).await;
    let mut tx = sportello::db::TenantTx::begin(&app.db.admin, id).await.unwrap();
    let rows =
        sqlx::query_as("select s.method, s.level, u.fiscal_code from sessions s join users u on u.id = s.user_id")
            .fetch_all(tx.conn())
            .await
            .unwrap();
    tx.commit().await.unwrap();
    rows
}

async fn users_of(app: &TestApp, slug: &str) -> i64 {
    let id = app.tenant_id_of(slug).await;
    let mut tx = sportello::db::TenantTx::begin(&app.db.admin, id).await.unwrap();
    let count = sqlx::query_scalar("select count(*) from users").fetch_one(tx.conn()).await.unwrap();
    tx.commit().await.unwrap();
    count
}

#[tokio::test]
async fn a_valid_card_through_a_trusted_proxy_signs_in_at_level_two() {
    let ca = Ca::new("Regione Test");
    let app = spawn_app_with(settings(ca.file("ca"), true)).await;
    let mut browser = Browser::new(&app, VALMORA);
    // The sign-in page offers the card.
    let page = browser.get_text("/accesso?next=%2Farea-personale%2Fprofilo").await;
    assert!(page.contains("href=\"/accesso/crs?next=%2Farea-personale%2Fprofilo\""));

    let response = through_proxy(&mut browser, &valid_card(&ca), "/area-personale/profilo").await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    assert_eq!(location(&response), "/area-personale/profilo");
    let profile = browser.get_text("/area-personale/profilo").await;
    assert_translated(&profile);
    assert!(profile.contains(FISCAL_CODE), "the fiscal code is on the profile");
    let home = browser.get_text("/area-personale").await;
    assert!(home.contains("Benvenuto, MARIA ROSSI"), "{home}");
    assert!(home.contains("Carta Regionale dei Servizi (livello di sicurezza 2)"), "{home}");
    assert_eq!(session_of(&app, "valmora").await, [("crs".to_string(), 2, FISCAL_CODE.to_string())]);

    // Signing in again rotates the session and finds the same person.
    let before = browser.cookies["sportello_sid"].clone();
    let response = through_proxy(&mut browser, &valid_card(&ca), "//evil.example/").await;
    assert_eq!(location(&response), "/area-personale", "never a foreign `next`");
    assert_ne!(browser.cookies["sportello_sid"], before);
    let sessions = session_of(&app, "valmora").await;
    assert_eq!(sessions.len(), 1, "the previous session is gone");
    assert_eq!(users_of(&app, "valmora").await, 1);
}

#[tokio::test]
async fn expired_foreign_and_codeless_cards_are_refused_with_the_reason() {
    let ca = Ca::new("Regione Test");
    let other = Ca::new("Altra Autorita");
    let app = spawn_app_with(settings(ca.file("ca"), true)).await;
    let cases = [
        (card(&ca, &format!("{FISCAL_CODE}/1.ab"), Validity::Expired), "è scaduto"),
        (valid_card(&other), "autorità di certificazione riconosciuta"),
        (card(&ca, "Maria Rossi", Validity::Current), "non contiene un codice fiscale valido"),
    ];
    for (card, message) in cases {
        let mut browser = Browser::new(&app, VALMORA);
        let response = through_proxy(&mut browser, &card, "/area-personale").await;
        assert_eq!(response.status(), 403, "{message}");
        let page = response.text().await.unwrap();
        assert_translated(&page);
        assert!(page.contains(message), "{message}: {page}");
        assert!(page.contains("Riprova") && page.contains("inserisci la carta"), "explains how to retry");
        assert!(!browser.cookies.contains_key("sportello_sid"));
        assert_eq!(browser.get("/area-personale").await.status(), 303, "not signed in");
    }
    // No certificate at all: the instructions.
    let mut browser = Browser::new(&app, VALMORA);
    let response = browser.get("/accesso/crs").await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains("Non abbiamo ricevuto il certificato della tua carta."));
    assert_eq!(users_of(&app, "valmora").await, 0);
}

#[tokio::test]
async fn the_header_from_an_untrusted_peer_is_ignored() {
    let ca = Ca::new("Regione Test");
    let app = spawn_app_with(settings(ca.file("ca"), false)).await;
    let mut browser = Browser::new(&app, VALMORA);
    let response = through_proxy(&mut browser, &valid_card(&ca), "/area-personale").await;
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("Non abbiamo ricevuto il certificato della tua carta."));
    assert!(!browser.cookies.contains_key("sportello_sid"));
    assert_eq!(browser.get("/area-personale").await.status(), 303);
}

#[tokio::test]
async fn an_ente_without_the_card_method_does_not_offer_it() {
    let ca = Ca::new("Regione Test");
    let app = spawn_app_with(settings(ca.file("ca"), true)).await;
    let mut browser = Browser::new(&app, ROCCAMARE);
    assert!(!browser.get_text("/accesso").await.contains("/accesso/crs"));
    assert_eq!(through_proxy(&mut browser, &valid_card(&ca), "/").await.status(), 404);
}

#[tokio::test]
async fn a_card_accepted_on_one_ente_makes_an_independent_user_on_another() {
    let ca = Ca::new("Regione Test");
    let app = spawn_app_with(settings(ca.file("ca"), true)).await;
    // Roccamare enables the card too, for this test.
    let roccamare = app.tenant_id_of("roccamare").await;
    sqlx::query("update tenants set auth = jsonb_set(auth, '{methods}', '[\"crs\", \"password_otp\"]') where id = $1")
        .bind(roccamare)
        .execute(&app.db.admin)
        .await
        .unwrap();
    sqlx::query("select pg_notify('sportello_tenants', $1::text)")
        .bind(roccamare)
        .execute(&app.db.admin)
        .await
        .unwrap();

    let card = valid_card(&ca);
    let mut on_valmora = Browser::new(&app, VALMORA);
    assert_eq!(through_proxy(&mut on_valmora, &card, "/area-personale").await.status(), 303);
    // Valmora learns something about the person.
    let valmora = app.tenant_id_of("valmora").await;
    let mut tx = sportello::db::TenantTx::begin(&app.db.admin, valmora).await.unwrap();
    sqlx::query("update users set email = 'maria@valmora.example', mobile = '+393470000001'")
        .execute(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut on_roccamare = Browser::new(&app, ROCCAMARE);
    let mut signed_in = false;
    for _ in 0..50 {
        // The NOTIFY reaches the node asynchronously.
        let response = through_proxy(&mut on_roccamare, &card, "/area-personale/profilo").await;
        if response.status() == 303 {
            signed_in = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(signed_in, "the card signs in on Roccamare too");
    let profile = on_roccamare.get_text("/area-personale/profilo").await;
    assert!(profile.contains(FISCAL_CODE));
    assert!(!profile.contains("maria@valmora.example") && !profile.contains("+393470000001"), "nothing of Valmora's");

    // One identity and one user per ente, each visible only to its ente: the
    // fiscal codes of one ente's citizens are out of another's reach.
    for tenant in [valmora, roccamare] {
        let mut tx = sportello::db::TenantTx::begin(&app.db.app, tenant).await.unwrap();
        let codes: Vec<String> =
            sqlx::query_scalar("select fiscal_code from identities").fetch_all(tx.conn()).await.unwrap();
        assert_eq!(codes, vec![FISCAL_CODE.to_string()]);
    }
    let mut ids = Vec::new();
    for tenant in [valmora, roccamare] {
        let mut tx = sportello::db::TenantTx::begin(&app.db.app, tenant).await.unwrap();
        let rows: Vec<(uuid::Uuid, Option<String>)> =
            sqlx::query_as("select id, email from users").fetch_all(tx.conn()).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(rows.len(), 1, "each ente sees only its own user");
        ids.push(rows[0].clone());
    }
    assert_ne!(ids[0].0, ids[1].0);
    assert_eq!(ids[1].1, None, "Roccamare's user has no e-mail from Valmora");
    // Valmora's session means nothing on Roccamare.
    let mut foreign = Browser::new(&app, ROCCAMARE);
    foreign.cookies.insert("sportello_sid".into(), on_valmora.cookies["sportello_sid"].clone());
    assert_eq!(foreign.get("/area-personale").await.status(), 303);
}

// --- The built-in TLS listener ---------------------------------------------

struct TlsSetup {
    settings: Settings,
    server_ca_pem: String,
}

/// A server certificate for the demo hosts, from a CA of its own.
fn tls_setup(card_ca: &Ca) -> TlsSetup {
    let server_ca = Ca::new("Server Test");
    let params = CertificateParams::new(vec![VALMORA.to_string(), ROCCAMARE.to_string()]).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &server_ca.cert, &server_ca.key).unwrap();
    let dir = scratch().join("crs");
    std::fs::create_dir_all(&dir).unwrap();
    let stem = uuid::Uuid::new_v4().simple().to_string();
    let (cert_file, key_file) = (dir.join(format!("{stem}-server.pem")), dir.join(format!("{stem}-server.key")));
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    TlsSetup {
        settings: Settings {
            tls_listen: Some("127.0.0.1:0".parse().unwrap()),
            tls_cert_file: Some(cert_file),
            tls_key_file: Some(key_file),
            ..settings(card_ca.file("ca"), false)
        },
        server_ca_pem: server_ca.cert.pem(),
    }
}

/// A browser over HTTPS to the TLS listener, with a card in the reader (or not).
fn tls_browser(app: &TestApp, setup: &TlsSetup, card: Option<&Card>) -> reqwest::Client {
    let port = app.tls_port.expect("the TLS listener is on");
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(setup.server_ca_pem.as_bytes()).unwrap())
        .resolve(VALMORA, ([127, 0, 0, 1], port).into())
        .redirect(Policy::none())
        .cookie_store(true);
    if let Some(card) = card {
        builder = builder
            .identity(reqwest::Identity::from_pem(format!("{}{}", card.cert_pem, card.key_pem).as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

fn tls_url(app: &TestApp, path: &str) -> String {
    format!("https://{VALMORA}:{}{path}", app.tls_port.unwrap())
}

#[tokio::test]
async fn a_card_on_the_built_in_tls_listener_signs_in() {
    let ca = Ca::new("Regione Test");
    let setup = tls_setup(&ca);
    let app = spawn_app_with(setup.settings.clone()).await;

    // Visitors without a card are welcome on the TLS listener too.
    let anonymous = tls_browser(&app, &setup, None);
    let response = anonymous.get(tls_url(&app, "/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let response = anonymous.get(tls_url(&app, "/accesso/crs")).send().await.unwrap();
    assert!(response.text().await.unwrap().contains("Non abbiamo ricevuto il certificato della tua carta."));

    let card = valid_card(&ca);
    let browser = tls_browser(&app, &setup, Some(&card));
    let response = browser.get(tls_url(&app, "/accesso/crs?next=%2Farea-personale%2Fprofilo")).send().await.unwrap();
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    assert_eq!(location(&response), "/area-personale/profilo");
    let profile = browser.get(tls_url(&app, "/area-personale/profilo")).send().await.unwrap();
    assert_eq!(profile.status(), 200);
    assert!(profile.text().await.unwrap().contains(FISCAL_CODE));
    assert_eq!(session_of(&app, "valmora").await, [("crs".to_string(), 2, FISCAL_CODE.to_string())]);
}

#[tokio::test]
async fn the_tls_listener_explains_expired_and_foreign_cards() {
    let ca = Ca::new("Regione Test");
    let other = Ca::new("Altra Autorita");
    let setup = tls_setup(&ca);
    let app = spawn_app_with(setup.settings.clone()).await;
    for (card, message) in [
        (card(&ca, &format!("{FISCAL_CODE}/1.ab"), Validity::Expired), "è scaduto"),
        (valid_card(&other), "autorità di certificazione riconosciuta"),
    ] {
        let browser = tls_browser(&app, &setup, Some(&card));
        let response = browser.get(tls_url(&app, "/accesso/crs")).send().await.unwrap();
        assert_eq!(response.status(), 403);
        assert!(response.headers().get("set-cookie").is_none_or(|c| !c.to_str().unwrap().contains("sportello_sid")));
        assert!(response.text().await.unwrap().contains(message), "{message}");
        assert_eq!(browser.get(tls_url(&app, "/area-personale")).send().await.unwrap().status(), 303);
    }
    assert_eq!(users_of(&app, "valmora").await, 0);
}
