//! IPA's open data on the "Unità Organizzative" of every public body, read for
//! one ente, and the changes a synchronisation would make to its offices.
//!
//! The national file holds some 130,000 rows; only those whose `Codice_IPA` is
//! the ente's are kept. The file is CSV (comma or semicolon separated, UTF-8,
//! with its header) or JSON (an array of objects with the same names). Reading
//! is all or nothing: a missing column, a byte that is not UTF-8, a truncated
//! row, an office without code or name, a code twice, a parent that is not one
//! of the ente's offices or a cycle refuses the whole file, naming the line.
//! The key is IPA's `Codice_uni_uo`.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::i18n::Text;

/// The columns a synchronisation reads; a file without one of them is refused.
pub const COLUMNS: &[&str] = &[
    "Codice_IPA",
    "Codice_uni_uo",
    "Codice_uni_uo_padre",
    "Descrizione_uo",
    "Nome_responsabile",
    "Cognome_responsabile",
    "Mail_responsabile",
    "Telefono_responsabile",
    "Indirizzo",
    "CAP",
    "Mail1",
    "Tipo_Mail1",
    "Mail2",
    "Tipo_Mail2",
    "Mail3",
    "Tipo_Mail3",
    "Data_aggiornamento",
];

/// One of the ente's offices as IPA describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpaOffice {
    /// Where it is in the file (the CSV line, or the JSON record's number).
    pub line: usize,
    /// `Codice_uni_uo`.
    pub code: String,
    /// `Codice_uni_uo_padre`; none for the root of the tree.
    pub parent: Option<String>,
    pub name: String,
    /// The head's name and surname.
    pub head: String,
    /// The first ordinary e-mail address (`Tipo_Mail` other than PEC).
    pub email: String,
    /// The first PEC address.
    pub pec: String,
    /// `Telefono` when the file has it, else the head's.
    pub phone: String,
    /// `Indirizzo`, then the `CAP`.
    pub address: String,
    /// `Data_aggiornamento`, as written.
    pub updated: String,
}

/// Why a file is refused: the line (none: the file as a whole) and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub line: Option<usize>,
    pub message: Text,
}

impl Refusal {
    fn at(line: usize, key: &'static str) -> Self {
        Self { line: Some(line), message: Text::new(key) }
    }
}

/// The ente's rows of `bytes` (its `Codice_IPA` is `ipa_code`), checked.
pub fn read(bytes: &[u8], ipa_code: &str) -> Result<Vec<IpaOffice>, Refusal> {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let line = bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() + 1;
            return Err(Refusal::at(line, "ipa.encoding"));
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rows = if text.trim_start().starts_with('[') { json_rows(text)? } else { csv_rows(text)? };
    let wanted = ipa_code.trim();
    let mut offices = Vec::new();
    let mut seen = HashSet::new();
    for (line, row) in rows {
        let field = |name: &str| row.get(name).map(|v| v.trim().to_string()).unwrap_or_default();
        if !field("Codice_IPA").eq_ignore_ascii_case(wanted) {
            continue;
        }
        let code = field("Codice_uni_uo");
        if code.is_empty() {
            return Err(Refusal::at(line, "ipa.no_code"));
        }
        if code.len() > 40 || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            return Err(Refusal { line: Some(line), message: Text::new("ipa.bad_code").with("code", &code) });
        }
        if !seen.insert(code.clone()) {
            return Err(Refusal { line: Some(line), message: Text::new("ipa.code_twice").with("code", &code) });
        }
        let name = field("Descrizione_uo");
        if name.is_empty() {
            return Err(Refusal::at(line, "ipa.no_name"));
        }
        let parent = Some(field("Codice_uni_uo_padre")).filter(|p| !p.is_empty() && *p != code);
        let (mut email, mut pec) = (String::new(), String::new());
        for i in 1..=3 {
            let address = field(&format!("Mail{i}"));
            let kind = field(&format!("Tipo_Mail{i}"));
            let slot = if kind.eq_ignore_ascii_case("pec") { &mut pec } else { &mut email };
            if slot.is_empty() && !address.is_empty() {
                *slot = address;
            }
        }
        let phone = Some(field("Telefono")).filter(|p| !p.is_empty()).unwrap_or_else(|| field("Telefono_responsabile"));
        let address = match (field("Indirizzo"), field("CAP")) {
            (street, cap) if cap.is_empty() => street,
            (street, cap) if street.is_empty() => cap,
            (street, cap) => format!("{street}, {cap}"),
        };
        let head = format!("{} {}", field("Nome_responsabile"), field("Cognome_responsabile")).trim().to_string();
        offices.push(IpaOffice {
            line,
            code,
            parent,
            name: name.chars().take(300).collect(),
            head,
            email,
            pec,
            phone,
            address,
            updated: field("Data_aggiornamento"),
        });
    }
    if offices.is_empty() {
        return Err(Refusal { line: None, message: Text::new("ipa.no_rows").with("ipa", wanted) });
    }
    check_tree(&offices)?;
    Ok(offices)
}

type Row = HashMap<String, String>;

fn missing_columns(names: &[String]) -> Option<Refusal> {
    let missing: Vec<&str> = COLUMNS.iter().copied().filter(|c| !names.iter().any(|n| n == c)).collect();
    (!missing.is_empty()).then(|| Refusal {
        line: Some(1),
        message: Text::new("ipa.missing_columns").with("columns", missing.join(", ")),
    })
}

fn csv_rows(text: &str) -> Result<Vec<(usize, Row)>, Refusal> {
    let header = text.lines().next().unwrap_or_default();
    let delimiter = if header.matches(';').count() > header.matches(',').count() { b';' } else { b',' };
    let mut reader = csv::ReaderBuilder::new().delimiter(delimiter).from_reader(text.as_bytes());
    let unreadable = |e: csv::Error| {
        let line = e.position().map(|p| p.line() as usize).unwrap_or(1);
        Refusal::at(
            line,
            if matches!(e.kind(), csv::ErrorKind::UnequalLengths { .. }) { "ipa.row_length" } else { "ipa.unreadable" },
        )
    };
    let names: Vec<String> = reader.headers().map_err(unreadable)?.iter().map(|h| h.trim().to_string()).collect();
    if let Some(refusal) = missing_columns(&names) {
        return Err(refusal);
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(unreadable)?;
        let line = record.position().map(|p| p.line() as usize).unwrap_or_default();
        rows.push((line, names.iter().cloned().zip(record.iter().map(str::to_string)).collect()));
    }
    Ok(rows)
}

fn json_rows(text: &str) -> Result<Vec<(usize, Row)>, Refusal> {
    let records: Vec<serde_json::Map<String, serde_json::Value>> = serde_json::from_str(text)
        .map_err(|e| Refusal { line: Some(e.line()), message: Text::new("ipa.unreadable") })?;
    let mut rows = Vec::new();
    for (i, record) in records.into_iter().enumerate() {
        let names: Vec<String> = record.keys().cloned().collect();
        if let Some(mut refusal) = missing_columns(&names) {
            refusal.line = Some(i + 1);
            return Err(refusal);
        }
        let row = record
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Null => String::new(),
                    other => other.to_string(),
                };
                (k, v)
            })
            .collect();
        rows.push((i + 1, row));
    }
    Ok(rows)
}

/// Every parent is one of the ente's offices, and following parents never comes back.
fn check_tree(offices: &[IpaOffice]) -> Result<(), Refusal> {
    let by_code: HashMap<&str, &IpaOffice> = offices.iter().map(|o| (o.code.as_str(), o)).collect();
    for office in offices {
        if let Some(parent) = &office.parent {
            if !by_code.contains_key(parent.as_str()) {
                let message = Text::new("ipa.unknown_parent").with("parent", parent).with("code", &office.code);
                return Err(Refusal { line: Some(office.line), message });
            }
        }
    }
    for office in offices {
        let mut seen = HashSet::new();
        let mut at = office;
        while let Some(parent) = &at.parent {
            if !seen.insert(at.code.as_str()) {
                return Err(Refusal {
                    line: Some(office.line),
                    message: Text::new("ipa.cycle").with("code", &office.code),
                });
            }
            at = by_code[parent.as_str()];
        }
    }
    Ok(())
}

/// An office as stored, as far as a synchronisation compares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Current {
    pub code: String,
    pub ipa_code: Option<String>,
    pub name: String,
    pub parent_code: Option<String>,
    pub head: String,
    pub email: String,
    pub pec: String,
    pub phone: String,
    pub address: String,
    pub closed: bool,
}

/// One field a synchronisation changes, in words for the preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// `name`, `parent`, `head`, `email`, `pec`, `phone`, `address` or `reopened`.
    pub field: &'static str,
    pub before: String,
    pub after: String,
}

/// What IPA would change of an office already there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Changed {
    /// The office's own code (IPA's, or the ente's when it had the same code).
    pub code: String,
    pub office: IpaOffice,
    /// The local code of its parent.
    pub parent_code: Option<String>,
    pub fields: Vec<FieldChange>,
}

/// What a synchronisation would do: offices to add, change and close (an
/// office IPA no longer lists is closed, never deleted).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub rows: usize,
    /// New offices, with the local code of their parent.
    pub added: Vec<(IpaOffice, Option<String>)>,
    pub changed: Vec<Changed>,
    /// Code and name of each office to close.
    pub closed: Vec<(String, String)>,
    /// Offices IPA lists that need no change.
    pub unchanged: usize,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.closed.is_empty()
    }
}

/// The changes that make the stored offices what IPA says. An office matches
/// by its `ipa_code`, or else by its own code when that is IPA's (linking an
/// office the ente created under IPA's code); new offices take IPA's code.
pub fn plan(read: &[IpaOffice], current: &[Current]) -> Plan {
    let by_ipa: HashMap<&str, &Current> =
        current.iter().filter_map(|c| c.ipa_code.as_deref().map(|k| (k, c))).collect();
    let by_code: HashMap<&str, &Current> = current.iter().map(|c| (c.code.as_str(), c)).collect();
    let matched = |ipa: &str| by_ipa.get(ipa).or_else(|| by_code.get(ipa).filter(|c| c.ipa_code.is_none())).copied();
    // The local code each IPA code has (or will have).
    let local: BTreeMap<&str, String> = read
        .iter()
        .map(|o| (o.code.as_str(), matched(&o.code).map(|c| c.code.clone()).unwrap_or(o.code.clone())))
        .collect();
    let mut plan = Plan { rows: read.len(), ..Plan::default() };
    for office in read {
        let parent_code = office.parent.as_deref().and_then(|p| local.get(p).cloned());
        let Some(now) = matched(&office.code) else {
            plan.added.push((office.clone(), parent_code));
            continue;
        };
        let mut fields = Vec::new();
        let mut compare = |field: &'static str, before: &str, after: &str| {
            if before != after {
                fields.push(FieldChange { field, before: before.to_string(), after: after.to_string() });
            }
        };
        compare("name", &now.name, &office.name);
        compare("parent", now.parent_code.as_deref().unwrap_or_default(), parent_code.as_deref().unwrap_or_default());
        compare("head", &now.head, &office.head);
        compare("email", &now.email, &office.email);
        compare("pec", &now.pec, &office.pec);
        compare("phone", &now.phone, &office.phone);
        compare("address", &now.address, &office.address);
        if now.closed {
            fields.push(FieldChange { field: "reopened", before: String::new(), after: String::new() });
        }
        if fields.is_empty() && now.ipa_code.is_some() {
            plan.unchanged += 1;
        } else {
            plan.changed.push(Changed { code: now.code.clone(), office: office.clone(), parent_code, fields });
        }
    }
    let listed: HashSet<&str> = read.iter().map(|o| o.code.as_str()).collect();
    for office in current {
        if let (Some(ipa), false) = (&office.ipa_code, office.closed) {
            if !listed.contains(ipa.as_str()) {
                plan.closed.push((office.code.clone(), office.name.clone()));
            }
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> String {
        format!("{},Denominazione_ente,Telefono", COLUMNS.join(","))
    }

    fn row(ipa: &str, code: &str, parent: &str, name: &str) -> String {
        format!(
            "{ipa},{code},{parent},{name},Anna,Verdi,anna@ente.it,0351,Via Roma 1,24010,uff@ente.it,Altro,uff@pec.ente.it,Pec,,,2026-01-10,Ente,035 111"
        )
    }

    fn file(rows: &[String]) -> Vec<u8> {
        format!("{}\n{}\n", header(), rows.join("\n")).into_bytes()
    }

    #[test]
    fn only_the_entes_rows_are_read_with_pec_and_ordinary_mail_told_apart() {
        let bytes = file(&[
            row("c_a794", "UO1", "", "Comune"),
            row("c_zzzz", "X1", "", "Altro ente"),
            row("c_a794", "UO2", "UO1", "Anagrafe"),
        ]);
        let read = read(&bytes, "c_a794").unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!((read[1].line, read[1].parent.as_deref()), (4, Some("UO1")));
        assert_eq!((read[1].email.as_str(), read[1].pec.as_str()), ("uff@ente.it", "uff@pec.ente.it"));
        assert_eq!((read[1].head.as_str(), read[1].phone.as_str()), ("Anna Verdi", "035 111"));
        assert_eq!(read[1].address, "Via Roma 1, 24010");
        // Semicolons and JSON read the same.
        let semicolons = String::from_utf8(bytes.clone()).unwrap().replace(',', ";");
        assert_eq!(super::read(semicolons.as_bytes(), "c_a794").unwrap(), read);
    }

    #[test]
    fn a_broken_file_is_refused_naming_the_line() {
        let refused = |bytes: &[u8]| read(bytes, "c_a794").unwrap_err();
        let missing = header().replace("Descrizione_uo,", "");
        let r = refused(format!("{missing}\n").as_bytes());
        assert_eq!(r.line, Some(1));
        assert_eq!(r.message.key.as_ref(), "ipa.missing_columns");
        let mut latin1 = file(&[row("c_a794", "UO1", "", "Comune")]);
        latin1.extend_from_slice(b"c_a794,UO2,UO1,Citt\xe0\n");
        assert_eq!(refused(&latin1), Refusal::at(3, "ipa.encoding"));
        let truncated = format!("{}\nc_a794,UO1,,Comune,Anna\n", header());
        assert_eq!(refused(truncated.as_bytes()).message.key.as_ref(), "ipa.row_length");
        assert_eq!(refused(truncated.as_bytes()).line, Some(2));
        let orphan = file(&[row("c_a794", "UO1", "", "Comune"), row("c_a794", "UO2", "UO9", "Anagrafe")]);
        assert_eq!((refused(&orphan).line, refused(&orphan).message.key.as_ref()), (Some(3), "ipa.unknown_parent"));
        let cycle = file(&[row("c_a794", "UO1", "UO2", "Comune"), row("c_a794", "UO2", "UO1", "Anagrafe")]);
        assert_eq!(refused(&cycle).message.key.as_ref(), "ipa.cycle");
        let twice = file(&[row("c_a794", "UO1", "", "Comune"), row("c_a794", "UO1", "", "Comune")]);
        assert_eq!(refused(&twice).message.key.as_ref(), "ipa.code_twice");
        assert_eq!(refused(&file(&[row("c_zzzz", "X", "", "Altro")])).line, None, "none of the ente's rows");
    }

    #[test]
    fn the_plan_adds_changes_closes_and_a_second_run_changes_nothing() {
        let read = read(
            &file(&[row("c_a794", "UO1", "", "Comune"), row("c_a794", "UO2", "UO1", "Servizi demografici")]),
            "c_a794",
        )
        .unwrap();
        let stored = |code: &str, ipa: Option<&str>, name: &str, parent: Option<&str>| Current {
            code: code.into(),
            ipa_code: ipa.map(String::from),
            name: name.into(),
            parent_code: parent.map(String::from),
            head: "Anna Verdi".into(),
            email: "uff@ente.it".into(),
            pec: "uff@pec.ente.it".into(),
            phone: "035 111".into(),
            address: "Via Roma 1, 24010".into(),
            closed: false,
        };
        let first = plan(&read, &[stored("UO-OLD", Some("UO0"), "Ufficio soppresso", None)]);
        assert_eq!(first.added.len(), 2);
        assert_eq!(first.added[1].1.as_deref(), Some("UO1"));
        assert_eq!(first.closed, vec![("UO-OLD".to_string(), "Ufficio soppresso".to_string())]);
        // After it: the same file again changes nothing; a renamed office is a change of its name only.
        let after = [stored("UO1", Some("UO1"), "Comune", None), stored("ANAG", Some("UO2"), "Anagrafe", Some("UO1"))];
        let again = plan(&read, &after);
        assert_eq!(again.changed.len(), 1);
        assert_eq!(again.changed[0].code, "ANAG");
        assert_eq!(again.changed[0].fields.iter().map(|f| f.field).collect::<Vec<_>>(), ["name"]);
        let mut renamed = after.clone();
        renamed[1].name = "Servizi demografici".into();
        assert!(plan(&read, &renamed).is_empty());
    }
}
