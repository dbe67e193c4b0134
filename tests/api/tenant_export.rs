//! `sportello tenant export`: the recipe of an ente as its database holds it,
//! byte for byte the same after a round trip through an empty database, with
//! no secret in it.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Command,
};

use sportello::{
    audit::Actor,
    catalog::revisions,
    db::TenantTx,
    onboarding::{self, TenantRecipe},
    web::render::Renderer,
};

use crate::helpers::{empty_db, root, scratch, test_db, test_settings};

fn out_dir() -> PathBuf {
    scratch().join(format!("export-{}", uuid::Uuid::new_v4().simple()))
}

/// Every file under `dir`, by its path relative to `dir`.
fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, files: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, files);
            } else {
                let name = path.strip_prefix(base).unwrap().display().to_string();
                files.insert(name, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(dir, dir, &mut files);
    files
}

fn load(dir: &Path) -> TenantRecipe {
    let settings = test_settings();
    let renderer = Renderer::load(&settings.themes_dir, &settings.locales_dir).unwrap();
    TenantRecipe::load(dir, renderer.themes(), &renderer.languages()).unwrap()
}

async fn tenant_id(pool: &sqlx::PgPool, slug: &str) -> uuid::Uuid {
    sqlx::query_scalar("select id from tenants where slug = $1").bind(slug).fetch_one(pool).await.unwrap()
}

/// The catalogue as the public pages order it.
async fn catalogue(pool: &sqlx::PgPool) -> Vec<(String, String, i32, i32)> {
    sqlx::query_as(
        "select p.slug, c.name, c.position, p.position from procedures p join categories c
             on c.tenant_id = p.tenant_id and c.slug = p.category_slug
         join tenants t on t.id = p.tenant_id
         where t.slug = 'valmora' and p.published order by c.position, p.position",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn an_export_applied_to_an_empty_database_exports_the_same_bytes() {
    let db = test_db().await;
    let valmora = tenant_id(&db.admin, "valmora").await;
    // What the console changes, so that the export is not just the repository's
    // files: a new revision, a renamed category, a reordered catalogue, an
    // unpublished procedure, a wider policy, a custom domain.
    let mut tx = TenantTx::begin(&db.admin, valmora).await.unwrap();
    let (_, mut content) = revisions::published(&mut tx, "cambio-residenza").await.unwrap().unwrap();
    content.title = "Cambio di residenza e di indirizzo".into();
    content.keywords.push("trasloco".into());
    revisions::publish(&mut tx, "cambio-residenza", &content, &Actor::system("test"))
        .await
        .unwrap()
        .expect("published");
    for statement in [
        "update categories set name = 'Anagrafe, stato civile ed elezioni' where slug = 'anagrafe-stato-civile'",
        // First by file name: last in the catalogue now.
        "update procedures set position = 99 where slug = 'accesso-atti'",
        "update procedures set published = false where slug = 'albo-scrutatori'",
    ] {
        sqlx::query(statement).execute(tx.conn()).await.unwrap();
    }
    sqlx::query(
        "insert into authz_rules (tenant_id, ptype, v0, v1, v2, v3)
         values ($1, 'p', 'uo:UO-SEGR', 'valmora', 'office:UO-TEC', 'read')",
    )
    .bind(valmora)
    .execute(tx.conn())
    .await
    .unwrap();
    tx.commit().await.unwrap();
    onboarding::add_domain(&db.admin, "valmora", "servizi.valmora.example").await.unwrap();

    // Through the command line.
    let out = out_dir();
    let output = Command::new(env!("CARGO_BIN_EXE_sportello"))
        .args(["tenant", "export", "valmora", out.to_str().unwrap()])
        .current_dir(root())
        .env("DATABASE_URL", db.url("sportello_app"))
        .env("DATABASE_ADMIN_URL", db.url("sportello_owner"))
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout} {}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("valmora: exported to") && stdout.contains("14 procedures"), "{stdout}");

    let first_dir = out.join("valmora");
    let first = read_tree(&first_dir);
    let text = |name: &str| String::from_utf8(first[name].clone()).unwrap();
    for name in ["tenant.toml", "logo.svg", "banner.svg", "policy.csv", "procedures/cambio-residenza.toml"] {
        assert!(first.contains_key(name), "{name} in {:?}", first.keys());
    }
    assert!(!first.contains_key("procedures/albo-scrutatori.toml"), "an unpublished procedure stays out");
    assert_eq!(first["logo.svg"], std::fs::read(root().join("tenants/valmora/logo.svg")).unwrap());
    let tenant = text("tenant.toml");
    assert!(tenant.contains("Anagrafe, stato civile ed elezioni") && tenant.contains("servizi.valmora.example"));
    assert!(!tenant.contains("valmora.localhost"), "the primary host is the platform's, not the recipe's");
    assert!(tenant.contains("fiscal_code = \"RSSMRA75B12A794R\""), "{tenant}");
    let policy = text("policy.csv");
    assert!(policy.contains("\np, uo:UO-SEGR, office:UO-TEC, read\n"), "{policy}");
    assert!(policy.contains("\np, admin, office:*, process\n"), "the default lines stay: the file replaces them");
    assert!(!policy.contains("uo:UO-TEC, office:UO-TEC") && !policy.contains("staff:"), "{policy}");
    let procedure = text("procedures/cambio-residenza.toml");
    assert!(procedure.contains("Cambio di residenza e di indirizzo") && procedure.contains("trasloco"));
    assert!(text("procedures/accesso-atti.toml").contains("\nposition = 99\n"));

    // Applied where it came from, it changes nothing and publishes nothing.
    let recipe = load(&first_dir);
    let report = onboarding::apply(&db.admin, &recipe, &test_settings().base_domain).await.unwrap();
    assert!(report.published.is_empty(), "{:?}", report.published);
    assert_eq!(report.changes, 0);

    // Applied to an empty database and exported again: the same bytes.
    let fresh = empty_db().await;
    let report = onboarding::apply(&fresh.admin, &recipe, &test_settings().base_domain).await.unwrap();
    assert!(report.created && report.published.len() == 14, "{report:?}");
    let out = out_dir();
    let exported = onboarding::export(&fresh.admin, "valmora", &out).await.unwrap();
    let second = read_tree(&exported.dir);
    assert_eq!(first.keys().collect::<Vec<_>>(), second.keys().collect::<Vec<_>>());
    for (name, body) in &first {
        assert!(body == &second[name], "{name} differs after the round trip");
    }
    assert_eq!(exported.files, first.keys().cloned().collect::<Vec<_>>());
    assert_eq!(catalogue(&db.admin).await, catalogue(&fresh.admin).await, "the catalogue keeps its order");
}

#[tokio::test]
async fn an_export_holds_no_secret_and_refuses_unknown_enti_and_full_folders() {
    let db = test_db().await;
    let valmora = tenant_id(&db.admin, "valmora").await;
    let client_secret = format!("segreto-{}", uuid::Uuid::new_v4().simple());
    sqlx::query(
        r#"update tenants set auth = jsonb_set(auth, '{oidc}', '{"issuer": "https://idp.valmora.example",
               "client_id": "sportello", "client_secret_env": "VALMORA_OIDC_SECRET", "level": 2,
               "label": "Accedi con l''account del Comune"}') where id = $1"#,
    )
    .bind(valmora)
    .execute(&db.admin)
    .await
    .unwrap();
    let mut tx = TenantTx::begin(&db.admin, valmora).await.unwrap();
    sqlx::query("insert into tenant_secrets (tenant_id, name, value) values ($1, 'oidc_client_secret', $2)")
        .bind(valmora)
        .bind(&client_secret)
        .execute(tx.conn())
        .await
        .unwrap();
    let saml_key: String = sqlx::query_scalar("select value from tenant_secrets where name = 'saml_sp_key'")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // A line of the key's body: whatever the export might wrap it in.
    let key_line = saml_key.lines().nth(1).expect("a PEM body").to_string();
    assert!(key_line.len() > 40, "{key_line}");

    let out = out_dir();
    let exported = onboarding::export(&db.admin, "valmora", &out).await.unwrap();
    let files = read_tree(&exported.dir);
    for (name, body) in &files {
        let body = String::from_utf8_lossy(body);
        for secret in [client_secret.as_str(), key_line.as_str(), "PRIVATE KEY"] {
            assert!(!body.contains(secret), "{name} holds a secret");
        }
    }
    let tenant = String::from_utf8(files["tenant.toml"].clone()).unwrap();
    assert!(
        tenant.contains("client_secret_env = \"VALMORA_OIDC_SECRET\"")
            && tenant.contains("https://idp.valmora.example"),
        "the name of the secret's variable is exported, not its value: {tenant}"
    );
    assert!(!files.contains_key("policy.csv"), "the platform default keeps applying");

    let error = onboarding::export(&db.admin, "nessuno", &out).await.expect_err("refused").to_string();
    assert!(error.contains("no ente with slug \"nessuno\""), "{error}");
    assert!(!out.join("nessuno").exists());
    let error = onboarding::export(&db.admin, "valmora", &out).await.expect_err("refused").to_string();
    assert!(error.contains("not empty"), "{error}");
    assert_eq!(read_tree(&exported.dir), files, "the earlier export is untouched");
}

#[tokio::test]
async fn every_repository_tenant_round_trips_as_applied() {
    let db = test_db().await;
    let fresh = empty_db().await;
    for dir in onboarding::tenant_dirs(&root().join("tenants")).unwrap() {
        let slug = dir.file_name().unwrap().to_str().unwrap().to_string();
        let first = onboarding::export(&db.admin, &slug, &out_dir()).await.unwrap();
        let recipe = load(&first.dir);
        let report = onboarding::apply(&db.admin, &recipe, &test_settings().base_domain).await.unwrap();
        assert!(report.changes == 0 && report.published.is_empty(), "{slug}: {report:?}");
        onboarding::apply(&fresh.admin, &recipe, &test_settings().base_domain).await.unwrap();
        let second = onboarding::export(&fresh.admin, &slug, &out_dir()).await.unwrap();
        assert!(read_tree(&first.dir) == read_tree(&second.dir), "{slug} differs after the round trip");
        assert!(!first.files.contains(&"policy.csv".to_string()), "{slug}: the platform default keeps applying");
    }
}
