//! Staff sign-in through the ente's identity provider (OpenID Connect, code +
//! PKCE, state and nonce), against a real local provider: npm `oidc-provider`
//! driven by infra/test/oidc/op.mjs (see its README for the login sequence).

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
};

use reqwest::header::LOCATION;
use sportello::{onboarding, web::render::Renderer};

use crate::helpers::{client, copy_dir, location, root, scratch, spawn_app, test_settings, Browser, TestApp};

const SECRET: &str = "sportello-valmora-secret";

pub struct Provider {
    pub issuer: String,
    child: Child,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_provider() -> Provider {
    start_provider_with(None)
}

/// The provider with its defaults, or with the clients and users of `config`.
pub fn start_provider_with(config: Option<&std::path::Path>) -> Provider {
    let mut command = Command::new("node");
    command.arg(root().join("infra/test/oidc/op.mjs")).args(["--port", "0", "--exit-with-stdin"]);
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node (scripts/setup.sh installs it)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let issuer = line.trim().strip_prefix("READY ").expect("READY line").to_string();
    Provider { issuer, child }
}

/// Valmora's recipe with its corporate IdP, applied with the secret in the
/// environment (as an operator would).
async fn configure_valmora(app: &TestApp, issuer: &str) {
    configure(app, "valmora", issuer, SECRET).await;
}

/// Applies `slug`'s recipe with the provider as its staff IdP (client id
/// `sportello-<slug>`, the secret through the environment).
pub async fn configure(app: &TestApp, slug: &str, issuer: &str, secret: &str) {
    let dir = scratch().join(format!("oidc-{}", uuid::Uuid::new_v4().simple())).join(slug);
    copy_dir(&root().join("tenants").join(slug), &dir);
    let env = format!("VALMORA_OIDC_SECRET_{}", uuid::Uuid::new_v4().simple());
    let mut toml = std::fs::read_to_string(dir.join("tenant.toml")).unwrap();
    toml.push_str(&format!(
        "\n[auth.oidc]\nissuer = \"{issuer}\"\nclient_id = \"sportello-{slug}\"\nclient_secret_env = \"{env}\"\nlabel = \"Accedi con l'account del Comune\"\n"
    ));
    std::fs::write(dir.join("tenant.toml"), toml).unwrap();
    // SAFETY: a variable name unique to this test; nothing else reads it.
    unsafe { std::env::set_var(&env, secret) };
    let settings = test_settings();
    let renderer = Renderer::load(&settings.themes_dir, &settings.locales_dir).unwrap();
    let recipe = onboarding::TenantRecipe::load(&dir, renderer.themes(), &renderer.languages()).unwrap();
    let report = onboarding::apply(&app.db.admin, &recipe, &settings.base_domain).await.unwrap();
    assert!(report.changes > 0);
}

/// The person at the IdP: signs in there and comes back with code and state.
pub async fn sign_in_at_provider(authorize_url: &str, login: &str) -> String {
    let idp =
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = idp.get(authorize_url).send().await.unwrap();
    assert_eq!(response.status(), 303, "authorization request accepted");
    let interaction = response.headers()[LOCATION].to_str().unwrap().to_string();
    let response = idp.post(&interaction).form(&[("login", login), ("password", "password")]).send().await.unwrap();
    assert_eq!(response.status(), 303);
    let resume = response.headers()[LOCATION].to_str().unwrap().to_string();
    let response = idp.get(&resume).send().await.unwrap();
    assert_eq!(response.status(), 303);
    response.headers()[LOCATION].to_str().unwrap().to_string()
}

/// Path and query of the callback the IdP sends the browser back to.
pub fn callback_path(url: &str) -> String {
    let url = url::Url::parse(url).unwrap();
    assert_eq!(url.path(), "/backoffice/accesso/oidc/callback");
    format!("{}?{}", url.path(), url.query().unwrap())
}

#[tokio::test]
async fn staff_sign_in_with_the_entes_identity_provider() {
    let provider = start_provider();
    let app = spawn_app().await;
    configure_valmora(&app, &provider.issuer).await;
    let mut browser = Browser::new(&app, "valmora.localhost");
    let page = browser.get_text("/accesso").await;
    assert!(page.contains("Accedi con l&#x27;account del Comune") || page.contains("Accedi con l'account del Comune"));

    let response = browser.get("/accesso/staff").await;
    assert_eq!(response.status(), 303);
    let authorize = location(&response);
    assert!(authorize.starts_with(&provider.issuer));
    for part in ["code_challenge_method=S256", "state=", "nonce=", "client_id=sportello-valmora"] {
        assert!(authorize.contains(part), "{part} in {authorize}");
    }
    assert!(!authorize.contains(SECRET));
    let back = sign_in_at_provider(&authorize, "mario.rossi@valmora.example").await;
    let callback = callback_path(&back);
    let response = browser.get(&callback).await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    assert_eq!(location(&response), "/backoffice");
    let home = browser.get_text("/backoffice").await;
    assert!(home.contains("Mario") && home.contains("operator") && home.contains("admin"), "{home}");
    assert!(!home.contains(SECRET));

    // The same code again: the sign-in it belonged to is over.
    let mut replay = Browser::new(&app, "valmora.localhost");
    assert_eq!(replay.get(&callback).await.status(), 403);
    // Even inside a fresh sign-in (its own state), the provider refuses a used code.
    let response = replay.get("/accesso/staff").await;
    let fresh_state =
        url::Url::parse(&location(&response)).unwrap().query_pairs().find(|(k, _)| k == "state").unwrap().1.to_string();
    let old_code = url::Url::parse(&back).unwrap().query_pairs().find(|(k, _)| k == "code").unwrap().1.to_string();
    let response = replay.get(&format!("/backoffice/accesso/oidc/callback?code={old_code}&state={fresh_state}")).await;
    assert_eq!(response.status(), 403, "replayed code refused");
    assert_eq!(replay.get("/backoffice").await.status(), 303, "not signed in");
}

#[tokio::test]
async fn a_wrong_state_or_an_unverified_email_is_refused() {
    let provider = start_provider();
    let app = spawn_app().await;
    configure_valmora(&app, &provider.issuer).await;
    let mut browser = Browser::new(&app, "valmora.localhost");
    let response = browser.get("/accesso/staff").await;
    let back = sign_in_at_provider(&location(&response), "giulia.bianchi@valmora.example").await;
    let tampered = callback_path(&back).replace("state=", "state=x");
    let response = browser.get(&tampered).await;
    assert_eq!(response.status(), 403);
    assert!(response.text().await.unwrap().contains("non corrisponde"));
    assert_eq!(browser.get("/backoffice").await.status(), 303);

    // luca.verdi's provider account has no verified e-mail.
    let mut browser = Browser::new(&app, "valmora.localhost");
    let response = browser.get("/accesso/staff").await;
    let back = sign_in_at_provider(&location(&response), "luca.verdi@valmora.example").await;
    let response = browser.get(&callback_path(&back)).await;
    assert_eq!(response.status(), 403);
    assert!(response.text().await.unwrap().contains("e-mail verificato"));
}

#[tokio::test]
async fn citizens_cannot_reach_the_back_office_and_other_entes_have_no_staff_sign_in() {
    let app = spawn_app().await;
    let mut citizen = crate::auth::register(&app, "valmora.localhost", "cittadina@example.it", "3471231234").await;
    crate::auth::sign_in_with_otp(&app, &mut citizen, "cittadina@example.it", "3471231234").await;
    let response = citizen.get("/backoffice").await;
    assert_eq!(response.status(), 403, "a citizen session has no staff role");
    let mut other = Browser::new(&app, "roccamare.localhost");
    assert_eq!(other.get("/accesso/staff").await.status(), 404);
    let _ = client();
}
