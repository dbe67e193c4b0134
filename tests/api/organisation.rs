//! The ente's organisation over HTTP: IPA's "Unità Organizzative" file (a few
//! hundred rows over several enti, a three-level hierarchy, written here as
//! IPA publishes it) imported for one ente only, through the console's preview
//! and apply; the same file again changes nothing; a later file with an office
//! gone and one renamed closes the first (its cases intact) and renames the
//! second (its local opening hours kept); a broken file is refused with the
//! line and nothing is applied; another ente sees none of it.

mod staff;

use reqwest::multipart::{Form, Part};

use crate::{
    admin::{hidden, valmora, ADMIN},
    auth::{ROCCAMARE, VALMORA},
    backoffice::{offices as provider, staff},
    helpers::{location, spawn_app, spawn_app_with, test_settings, wait_for, Browser, TestApp},
};

const VALMORA_IPA: &str = "c_v412";
const COLUMNS: &str =
    "Codice_IPA,Denominazione_ente,Codice_fiscale_ente,Codice_uni_uo,Codice_uni_aoo,Codice_uni_uo_padre,\
Descrizione_uo,Nome_responsabile,Cognome_responsabile,Mail_responsabile,Telefono_responsabile,Codice_comune_ISTAT,\
Codice_catastale_comune,CAP,Indirizzo,Telefono,Fax,Mail1,Tipo_Mail1,Mail2,Tipo_Mail2,Mail3,Tipo_Mail3,\
Data_istituzione,Data_soppressione,Data_aggiornamento";

/// One row as IPA writes it.
fn row(ipa: &str, code: &str, parent: &str, name: &str, head: (&str, &str)) -> String {
    format!(
        "{ipa},Ente {ipa},00000000000,{code},A1B2C3,{parent},\"{name}\",{},{},resp@{ipa}.it,035 100,016001,A794,24010,\
\"Piazza Municipio, 1\",035 611200,,{code}@{ipa}.it,Altro,{code}@pec.{ipa}.it,Pec,,,2020-01-01,,2026-11-20",
        head.0, head.1
    )
}

/// Valmora: the ente (root), four areas under it, two services under each area
/// (three levels, 13 offices); twenty other enti of about fifteen rows each.
pub fn national_file(valmora: &[String]) -> Vec<u8> {
    let mut rows = Vec::new();
    for n in 0..20 {
        let ipa = format!("c_x{n:03}");
        rows.push(row(&ipa, &format!("X{n}ROOT"), "", "Comune", ("Ada", "Neri")));
        for k in 0..14 {
            rows.push(row(&ipa, &format!("X{n}U{k}"), &format!("X{n}ROOT"), &format!("Ufficio {k}"), ("Ada", "Neri")));
        }
    }
    rows.extend(valmora.iter().cloned());
    format!("{COLUMNS}\n{}\n", rows.join("\n")).into_bytes()
}

pub fn valmora_rows(rename: Option<&str>, without: Option<&str>) -> Vec<String> {
    let mut rows = vec![row(VALMORA_IPA, "VALROOT", "", "Comune di Valmora", ("Lucia", "Bassi"))];
    for (a, area) in ["Affari generali", "Servizi al cittadino", "Territorio", "Finanze"].iter().enumerate() {
        rows.push(row(VALMORA_IPA, &format!("VALA{a}"), "VALROOT", &format!("Area {area}"), ("Marco", "Conti")));
        for s in 0..2 {
            let code = format!("VALA{a}S{s}");
            let name = match rename {
                Some(new) if code == "VALA1S0" => new.to_string(),
                _ => format!("Servizio {s} dell'area {area}"),
            };
            if without != Some(code.as_str()) {
                rows.push(row(VALMORA_IPA, &code, &format!("VALA{a}"), &name, ("Sara", "Galli")));
            }
        }
    }
    rows
}

/// Uploads `file` and returns the preview page (or the refusal).
async fn upload(admin: &mut Browser, file: Vec<u8>) -> reqwest::Response {
    let form = Form::new().part("file", Part::bytes(file).file_name("Unita_Organizzative.csv"));
    admin.post_multipart("/admin/uffici/ipa", form).await
}

/// Uploads, checks the preview names `expected`, applies; the outcome page.
async fn sync(admin: &mut Browser, file: Vec<u8>, expected: &[&str]) -> String {
    let preview = upload(admin, file).await;
    assert_eq!(preview.status(), 200);
    let preview = preview.text().await.unwrap();
    for words in expected {
        assert!(preview.contains(words), "{words} not in the preview:\n{preview}");
    }
    let applied = admin.post("/admin/uffici/ipa/applica", &[("upload", &hidden(&preview, "upload"))]).await;
    assert_eq!(applied.status(), 303);
    admin.get_text(&location(&applied)).await
}

async fn office(app: &TestApp, code: &str) -> (String, Option<String>, String, bool) {
    sqlx::query_as("select name, parent_code, opening_hours, closed_at is not null from offices where code = $1")
        .bind(code)
        .fetch_one(valmora(app).await.conn())
        .await
        .unwrap()
}

/// Runs `sql` in Valmora's scope and commits it.
async fn exec(app: &TestApp, sql: &str) {
    let mut tx = valmora(app).await;
    sqlx::query(sql).execute(tx.conn()).await.unwrap();
    tx.commit().await.unwrap();
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(valmora(app).await.conn()).await.unwrap()
}

#[tokio::test]
async fn an_ipa_file_is_imported_for_the_ente_only_and_resyncs_change_only_what_changed() {
    let app = spawn_app().await;
    let _provider = provider(&app).await;
    let mut mario = staff(&app, VALMORA, ADMIN).await;
    let before = count(&app, "select count(*) from offices").await;

    // The first import: Valmora's thirteen offices, none of the other enti's 300 rows.
    let page = sync(
        &mut mario,
        national_file(&valmora_rows(None, None)),
        &["13 da aggiungere, 0 da modificare, 0 da chiudere"],
    )
    .await;
    assert!(page.contains("Sincronizzazione con IPA applicata"), "{page}");
    assert_eq!(count(&app, "select count(*) from offices").await, before + 13);
    assert_eq!(count(&app, "select count(*) from offices where code like 'X%'").await, 0);
    assert_eq!(office(&app, "VALA1S0").await.1.as_deref(), Some("VALA1"), "three levels");
    assert_eq!(office(&app, "VALA1").await.1.as_deref(), Some("VALROOT"));
    let (pec, head): (String, String) = sqlx::query_as("select pec, head from offices where code = 'VALA1S0'")
        .fetch_one(valmora(&app).await.conn())
        .await
        .unwrap();
    assert_eq!((pec.as_str(), head.as_str()), ("VALA1S0@pec.c_v412.it", "Sara Galli"));
    assert!(page.contains("id=\"ufficio-VALA1S0\" data-element=\"office\" data-depth=\"2\""), "drawn as a tree");

    // The ente's own opening hours on one office; then the same file again: nothing changes.
    exec(&app, "update offices set opening_hours = 'Lun-Ven 9-12' where code = 'VALA1S0'").await;
    let audits = count(&app, "select count(*) from audit_log where action = 'offices.ipa_sync'").await;
    let page = sync(&mut mario, national_file(&valmora_rows(None, None)), &["già allineati a IPA"]).await;
    assert!(page.contains("Verifica registrata"), "{page}");
    assert_eq!(count(&app, "select count(*) from audit_log where action = 'offices.ipa_sync'").await, audits);

    // A case of an office that IPA then drops.
    exec(&app, "update procedures set office_code = 'VALA2S1' where slug = 'cila'").await;

    // One office renamed, one gone: renamed (hours kept), closed (never deleted).
    let later = national_file(&valmora_rows(Some("Servizi anagrafici"), Some("VALA2S1")));
    let page = sync(
        &mut mario,
        later,
        &[
            "1 da modificare, 1 da chiudere",
            "da «Servizio 0 dell&#x27;area Servizi al cittadino» a «Servizi anagrafici»",
        ],
    )
    .await;
    assert!(page.contains("Sincronizzazione con IPA applicata"));
    assert_eq!(
        office(&app, "VALA1S0").await,
        ("Servizi anagrafici".into(), Some("VALA1".into()), "Lun-Ven 9-12".into(), false)
    );
    assert!(office(&app, "VALA2S1").await.3, "closed");
    assert_eq!(
        count(&app, "select count(*) from procedures where office_code = 'VALA2S1'").await,
        1,
        "its procedure intact"
    );
    assert_eq!(count(&app, "select count(*) from audit_log where action = 'offices.ipa_sync'").await, audits + 1);
    // A closed office can no longer be chosen for a procedure.
    let editor = mario.get_text("/admin/procedure/rimborso-tari").await;
    assert!(editor.contains("value=\"VALA1S0\"") && !editor.contains("value=\"VALA2S1\""));

    // Roccamare's admin sees none of Valmora's offices, and an upload there reads Roccamare's rows only.
    let mut paolo = staff(&app, ROCCAMARE, "paolo.gialli@roccamare.example").await;
    let theirs = paolo.get_text("/admin/uffici").await;
    assert!(
        !theirs.contains("VALA1S0") && !theirs.contains("Servizi anagrafici") && !theirs.contains("Area Territorio")
    );
    let refused = upload(&mut paolo, national_file(&valmora_rows(None, None))).await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("nessun ufficio con codice IPA c_r287"));
    // An operator of Valmora without the admin role: 403.
    let mut giulia = staff(&app, VALMORA, "giulia.bianchi@valmora.example").await;
    assert_eq!(giulia.get("/admin/uffici").await.status(), 403);
    assert_eq!(upload(&mut giulia, national_file(&[])).await.status(), 403);
}

#[tokio::test]
async fn a_broken_ipa_file_is_refused_with_its_line_and_nothing_is_applied() {
    let app = spawn_app().await;
    let _provider = provider(&app).await;
    let mut mario = staff(&app, VALMORA, ADMIN).await;
    let before = count(&app, "select count(*) from offices").await;
    let good = valmora_rows(None, None);
    let mut orphan = good.clone();
    orphan.push(row(VALMORA_IPA, "VALX", "NOWHERE", "Ufficio orfano", ("A", "B")));
    let truncated = format!("{COLUMNS}\n{}\n{VALMORA_IPA},Ente,000,VALY\n", good.join("\n")).into_bytes();
    let mut latin1 = national_file(&good);
    latin1.extend_from_slice(b"c_v412,Ente,000,VALZ,,VALROOT,Citt\xe0,,,,,,,,,,,,,,,,,,,\n");
    let missing = String::from_utf8(national_file(&good)).unwrap().replacen("Descrizione_uo,", "", 1).into_bytes();
    let cycle = [row(VALMORA_IPA, "C1", "C2", "Uno", ("A", "B")), row(VALMORA_IPA, "C2", "C1", "Due", ("A", "B"))];
    for (file, words) in [
        (national_file(&orphan), format!("riga {}: l&#x27;ufficio «VALX» dipende da «NOWHERE»", 300 + 13 + 2)),
        (truncated, format!("riga {}: la riga ha un numero di colonne diverso", 13 + 2)),
        (latin1, format!("riga {}: il file non è in UTF-8", 300 + 13 + 2)),
        (missing, "riga 1: mancano le colonne Descrizione_uo".to_string()),
        (national_file(&cycle), "dipende, risalendo, da se stesso".to_string()),
    ] {
        let refused = upload(&mut mario, file).await;
        assert_eq!(refused.status(), 422);
        let page = refused.text().await.unwrap();
        assert!(page.contains(&words) && page.contains("data-element=\"field-error\""), "{words} not in {page}");
    }
    assert_eq!(count(&app, "select count(*) from offices").await, before, "nothing applied");
    assert_eq!(count(&app, "select count(*) from office_sync_uploads").await, 0, "nothing kept");
    // An application of a preview that is not there (applied, replaced) changes nothing either.
    let stale = mario.post("/admin/uffici/ipa/applica", &[("upload", &uuid::Uuid::new_v4().to_string())]).await;
    assert_eq!(location(&stale), "/admin/uffici?esito=ipa-scaduto");
}

/// The address the platform operator configures is fetched through the job
/// queue once a day for every ente with an IPA code (here a file served on
/// loopback): Valmora's offices arrive with no admin involved; Roccamare, with
/// none of its rows in the file, gets the refusal recorded where its admin sees it.
#[tokio::test]
async fn the_daily_fetch_applies_the_file_at_the_configured_address() {
    let served = national_file(&valmora_rows(None, None));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let downloads = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = downloads.clone();
    tokio::spawn(async move {
        let file = axum::routing::get(move || {
            let body = served.clone();
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move { body }
        });
        axum::serve(listener, axum::Router::new().route("/Unita_Organizzative.csv", file)).await.unwrap();
    });
    let url = format!("http://127.0.0.1:{port}/Unita_Organizzative.csv");
    let app = spawn_app_with(sportello::config::Settings { ipa_offices_url: Some(url), ..test_settings() }).await;
    let _provider = provider(&app).await;
    let before = count(&app, "select count(*) from offices").await;
    let now = chrono::Utc::now();
    let schedule = sportello::admin::offices::schedule;
    assert_eq!(schedule(&app.state, now).await.unwrap(), 2, "both enti have an IPA code");
    assert_eq!(schedule(&app.state, now).await.unwrap(), 0, "once a day");
    wait_for(60, "the daily synchronisation", async || {
        (count(&app, "select count(*) from offices").await == before + 13).then_some(())
    })
    .await;
    let mut mario = staff(&app, VALMORA, ADMIN).await;
    let page = mario.get_text("/admin/uffici").await;
    assert!(page.contains("data-element=\"daily-sync\"") && page.contains("sincronizzazione automatica"), "{page}");
    assert!(page.contains("13 uffici letti, 13 aggiunti"), "{page}");
    let mut paolo = staff(&app, ROCCAMARE, "paolo.gialli@roccamare.example").await;
    let page = wait_for(60, "Roccamare's refusal recorded", async || {
        Some(paolo.get_text("/admin/uffici").await).filter(|p| p.contains("data-element=\"last-sync-refused\""))
    })
    .await;
    assert!(page.contains("nessun ufficio con codice IPA c_r287"), "{page}");
    assert_eq!(downloads.load(std::sync::atomic::Ordering::SeqCst), 1, "one download per node and day");
}

/// Offices by hand: created under a parent, refused next to the field (a code
/// taken, an e-mail without domain, a parent under itself), closed only when
/// no published service uses it, reopened; audited; another ente's are not found.
#[tokio::test]
async fn an_admin_creates_moves_closes_and_reopens_offices() {
    let app = spawn_app().await;
    let _provider = provider(&app).await;
    let mut mario = staff(&app, VALMORA, ADMIN).await;
    let office = |code: &str, name: &str, parent: &str, email: &str| {
        vec![
            ("code".to_string(), code.to_string()),
            ("name".into(), name.into()),
            ("parent_code".into(), parent.into()),
            ("email".into(), email.into()),
            ("opening_hours".into(), "Mar e Gio 9-12".into()),
        ]
    };
    let post = async |browser: &mut Browser, path: &str, fields: Vec<(String, String)>| {
        let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        browser.post(path, &borrowed).await
    };
    let made =
        post(&mut mario, "/admin/uffici/nuovo", office("UO-SPORT", "Ufficio sport", "UO-SERV", "sport@valmora.it"))
            .await;
    assert_eq!(location(&made), "/admin/uffici?esito=ufficio-creato#ufficio-UO-SPORT");
    let tree = mario.get_text("/admin/uffici").await;
    assert!(tree.contains("id=\"ufficio-UO-SPORT\" data-element=\"office\" data-depth=\"1\""), "{tree}");

    for (fields, words) in [
        (office("UO-SERV", "Doppione", "", ""), "ha già questo codice"),
        (office("UO-X", "Ufficio X", "", "senza-dominio"), "Scrivi un indirizzo e-mail completo"),
        (office("uo x", "Ufficio X", "", ""), "Il codice può contenere solo"),
        (office("UO-Y", "", "", ""), "Indica il nome"),
    ] {
        let refused = post(&mut mario, "/admin/uffici/nuovo", fields).await;
        assert_eq!(refused.status(), 422);
        let page = refused.text().await.unwrap();
        assert!(page.contains(words) && page.contains("data-element=\"field-error\""), "{words}: {page}");
    }
    // Moved under its own child: refused.
    let mut under_child = office("", "Servizi alla persona", "UO-SPORT", "");
    under_child.remove(0);
    let refused = post(&mut mario, "/admin/uffici/UO-SERV", under_child).await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("non può dipendere da se stesso"));

    // Closing: refused while a published service uses it; allowed otherwise, and reopened.
    let refused = mario.post("/admin/uffici/UO-SERV/chiudi", &[]).await;
    assert_eq!(refused.status(), 422);
    let page = refused.text().await.unwrap();
    assert!(
        page.contains("finché dei servizi pubblicati lo usano") && page.contains("data-element=\"office-used-by\"")
    );
    assert_eq!(
        location(&mario.post("/admin/uffici/UO-SPORT/chiudi", &[]).await),
        "/admin/uffici?esito=ufficio-chiuso#ufficio-UO-SPORT"
    );
    assert_eq!(office_state(&app, "UO-SPORT").await, (true, "Mar e Gio 9-12".to_string()));
    mario.post("/admin/uffici/UO-SPORT/riapri", &[]).await;
    assert!(!office_state(&app, "UO-SPORT").await.0);
    let audited = count(
        &app,
        "select count(*) from audit_log where object_id = 'UO-SPORT' and action in ('offices.create', 'offices.close', 'offices.reopen')",
    )
    .await;
    assert_eq!(audited, 3);

    // A service's public page shows its office's contacts as they are now.
    let mut contacts = office("", "Servizi alla Persona", "", "servizi@valmora.it");
    contacts.remove(0);
    contacts.push(("pec".into(), "servizi@pec.comune.valmora.it".into()));
    assert_eq!(post(&mut mario, "/admin/uffici/UO-SERV", contacts).await.status(), 303);
    let public = app.get(VALMORA, "/servizi/iscrizione-mensa-scolastica").await.text().await.unwrap();
    assert!(
        public.contains("data-element=\"service-office-pec\">servizi@pec.comune.valmora.it<")
            && public.contains("Servizi alla Persona"),
        "{public}"
    );

    // Roccamare's admin: not found, to read or to change.
    let mut paolo = staff(&app, ROCCAMARE, "paolo.gialli@roccamare.example").await;
    assert_eq!(paolo.get("/admin/uffici/UO-SPORT").await.status(), 404);
    assert_eq!(paolo.post("/admin/uffici/UO-SPORT/chiudi", &[]).await.status(), 404);
    assert_eq!(post(&mut paolo, "/admin/uffici/UO-SPORT", office("", "Preso", "", "")).await.status(), 404);
}

async fn office_state(app: &TestApp, code: &str) -> (bool, String) {
    sqlx::query_as("select closed_at is not null, opening_hours from offices where code = $1")
        .bind(code)
        .fetch_one(valmora(app).await.conn())
        .await
        .unwrap()
}

/// The staff list: each staff member of the ente with roles, offices, how they
/// sign in and when they last did; another ente's staff never appear.
#[tokio::test]
async fn the_staff_list_shows_roles_offices_methods_and_last_sign_in() {
    let app = spawn_app().await;
    let _provider = provider(&app).await;
    let _giulia = staff(&app, VALMORA, "giulia.bianchi@valmora.example").await;
    let mut mario = staff(&app, VALMORA, ADMIN).await;
    let page = mario.get_text("/admin/personale").await;
    let row = |email: &str| {
        let at = page.find(&format!("data-email=\"{email}\"")).unwrap_or_else(|| panic!("{email} not listed"));
        page[at..at + page[at..].find("</tr>").unwrap()].to_string()
    };
    let giulia = row("giulia.bianchi@valmora.example");
    assert!(giulia.contains("Operatore") && giulia.contains("UO-TEC"), "{giulia}");
    assert!(
        giulia.contains("identità dell&#x27;ente") && !giulia.contains(">mai<"),
        "signed in through the provider: {giulia}"
    );
    let admin = row(ADMIN);
    assert!(admin.contains("Amministratore") && admin.contains("SPID o CIE"), "{admin}");
    assert!(!page.contains("roccamare.example"), "another ente's staff");
    let mut paolo = staff(&app, ROCCAMARE, "paolo.gialli@roccamare.example").await;
    assert!(!paolo.get_text("/admin/personale").await.contains("valmora.example"));
    assert_eq!(Browser::new(&app, VALMORA).get("/admin/personale").await.status(), 303);
}
