//! The catalogue as written in a tenant's recipe: categories and offices in
//! `tenant.toml`, one `procedures/<slug>.toml` per procedure.

use std::{collections::HashSet, path::Path};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use super::revision::ProcedureContent;
use crate::tenancy::is_valid_slug;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategorySpec {
    pub slug: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficeSpec {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub opening_hours: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fee {
    pub label: String,
    pub amount: String,
}

/// `procedures/<slug>.toml`: the procedure's category and place, then its content.
#[derive(Debug, Clone)]
pub struct ProcedureSpec {
    /// The file name: the procedure's address, never changed.
    pub slug: String,
    pub category: String,
    /// Its place in the catalogue (`procedures.position`). Absent: the file's
    /// place among the recipe's files sorted by name. `tenant export` writes it,
    /// because the console may have reordered what file names cannot say.
    pub position: Option<i32>,
    pub content: ProcedureContent,
}

impl ProcedureSpec {
    /// Parses a procedure file: `category`, the optional `position` and every
    /// key of [`ProcedureContent`].
    pub fn parse(slug: &str, text: &str) -> anyhow::Result<Self> {
        let mut table: toml::Table = toml::from_str(text)?;
        let category = match table.remove("category") {
            Some(toml::Value::String(c)) => c,
            Some(_) => bail!("category: expected the slug of a category"),
            None => bail!("missing field `category`"),
        };
        let position = match table.remove("position") {
            Some(toml::Value::Integer(n)) if (0..=i64::from(i32::MAX)).contains(&n) => Some(n as i32),
            Some(_) => bail!("position: expected a whole number, 0 or more (the place in the catalogue)"),
            None => None,
        };
        let content = ProcedureContent::deserialize(toml::Value::Table(table))?;
        Ok(Self { slug: slug.to_string(), category, position, content })
    }

    /// The file `parse` reads back into the same spec: its place first, then
    /// the content in the order of [`ProcedureContent`]'s fields (title,
    /// summary … form, workflow), as one would write it by hand.
    pub fn to_toml(&self) -> anyhow::Result<String> {
        let mut place = toml::Table::new();
        place.insert("category".into(), toml::Value::String(self.category.clone()));
        if let Some(position) = self.position {
            place.insert("position".into(), toml::Value::Integer(position.into()));
        }
        // Plain keys only, so they belong to the root table ahead of the
        // content's own keys (which a serialised struct also puts before its tables).
        Ok(format!("{}{}", toml::to_string(&place)?, toml::to_string(&self.content)?))
    }
}

pub struct CatalogSpec {
    pub categories: Vec<CategorySpec>,
    pub offices: Vec<OfficeSpec>,
    pub procedures: Vec<ProcedureSpec>,
}

impl CatalogSpec {
    /// Reads `dir/procedures/*.toml` and checks every reference.
    pub fn load(dir: &Path, categories: &[CategorySpec], offices: &[OfficeSpec]) -> anyhow::Result<Self> {
        let mut seen = HashSet::new();
        for c in categories {
            if !is_valid_slug(&c.slug) || !seen.insert(c.slug.as_str()) {
                bail!("{}/tenant.toml: category slug {:?} is invalid or repeated", dir.display(), c.slug);
            }
        }
        let mut seen = HashSet::new();
        for o in offices {
            let ok = !o.code.is_empty() && o.code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !ok || !seen.insert(o.code.as_str()) {
                bail!("{}/tenant.toml: office code {:?} is invalid or repeated", dir.display(), o.code);
            }
        }
        let mut procedures = Vec::new();
        let proc_dir = dir.join("procedures");
        if proc_dir.is_dir() {
            let mut paths: Vec<_> = std::fs::read_dir(&proc_dir)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect();
            paths.sort();
            for path in paths {
                let slug = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
                if !is_valid_slug(&slug) {
                    bail!(
                        "{}: the file name is the procedure slug: lowercase letters, digits, hyphens",
                        path.display()
                    );
                }
                let text = std::fs::read_to_string(&path)?;
                let spec = ProcedureSpec::parse(&slug, &text).with_context(|| format!("{}", path.display()))?;
                if !categories.iter().any(|c| c.slug == spec.category) {
                    bail!("{}: category {:?} is not defined in tenant.toml", path.display(), spec.category);
                }
                let content = &spec.content;
                if !offices.iter().any(|o| o.code == content.office) {
                    bail!("{}: office {:?} is not defined in tenant.toml", path.display(), content.office);
                }
                if content.title.trim().is_empty() || content.summary.trim().is_empty() {
                    bail!("{}: title and summary must not be empty", path.display());
                }
                if !(1..=3).contains(&content.min_level) {
                    bail!("{}: min_level must be 1, 2 or 3", path.display());
                }
                if content.time_limit_days <= 0 {
                    bail!("{}: time_limit_days must be a positive number of days", path.display());
                }
                if let Some(form) = &content.form {
                    form.check().map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                }
                let codes: Vec<&str> = offices.iter().map(|o| o.code.as_str()).collect();
                if let Some(workflow) = &content.workflow {
                    workflow.check(&codes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                }
                // The console's checks (the same content, the same rules): what the
                // explicit messages above do not already name.
                if let Some(problem) = content.problems(&codes).first() {
                    bail!("{}: {} is refused ({})", path.display(), problem.at, problem.message.key);
                }
                procedures.push(spec);
            }
        }
        Ok(Self { categories: categories.to_vec(), offices: offices.to_vec(), procedures })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_repository_procedure_reads_back_from_to_toml() {
        let tenants = Path::new(env!("CARGO_MANIFEST_DIR")).join("tenants");
        let mut read = 0;
        for tenant in std::fs::read_dir(tenants).unwrap() {
            let Ok(files) = std::fs::read_dir(tenant.unwrap().path().join("procedures")) else { continue };
            for file in files {
                let path = file.unwrap().path();
                let spec = ProcedureSpec::parse("p", &std::fs::read_to_string(&path).unwrap()).unwrap();
                let text = spec.to_toml().unwrap();
                let again = ProcedureSpec::parse("p", &text).unwrap();
                assert_eq!((&again.category, &again.content), (&spec.category, &spec.content), "{}", path.display());
                assert_eq!(again.to_toml().unwrap(), text, "{}", path.display());
                read += 1;
            }
        }
        assert!(read >= 20, "{read} procedure files");
    }

    #[test]
    fn the_position_is_optional_and_survives_to_toml() {
        let text = r#"
title = "Prova"
category = "c"
summary = "Una procedura di prova."
office = "UO"
time_limit_days = 30
"#;
        let spec = ProcedureSpec::parse("prova", text).unwrap();
        assert_eq!(spec.position, None, "absent: the file's place decides");
        assert!(!spec.to_toml().unwrap().contains("position"));

        let placed = ProcedureSpec::parse("prova", &format!("position = 7\n{text}")).unwrap();
        assert_eq!(placed.position, Some(7));
        let again = ProcedureSpec::parse("prova", &placed.to_toml().unwrap()).unwrap();
        assert_eq!((again.position, again.category.as_str(), &again.content), (Some(7), "c", &placed.content));

        for wrong in ["position = -1", "position = \"primo\"", "position = 4294967296"] {
            let error = ProcedureSpec::parse("prova", &format!("{wrong}\n{text}")).expect_err(wrong).to_string();
            assert!(error.contains("position"), "{wrong}: {error}");
        }
    }

    #[test]
    fn a_broken_form_stops_the_load_naming_the_file() {
        let dir = std::env::temp_dir().join(format!("sportello-spec-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(dir.join("procedures")).unwrap();
        let procedure = r#"
title = "Prova"
category = "c"
summary = "Una procedura di prova."
office = "UO"
time_limit_days = 30

[[form.steps]]
title = "Dati"
fields = [ { key = "a", label = "A", type = "file" } ]
"#;
        std::fs::write(dir.join("procedures/prova.toml"), procedure).unwrap();
        let categories = [CategorySpec { slug: "c".into(), name: "C".into(), description: String::new() }];
        let offices = [OfficeSpec {
            code: "UO".into(),
            name: "Ufficio".into(),
            email: String::new(),
            phone: String::new(),
            address: String::new(),
            opening_hours: String::new(),
        }];
        let error = CatalogSpec::load(&dir, &categories, &offices).err().expect("refused").to_string();
        assert!(error.contains("prova.toml") && error.contains("needs `accept`"), "{error}");

        std::fs::write(dir.join("procedures/prova.toml"), procedure.replace(r#"type = "file""#, r#"type = "text""#))
            .unwrap();
        let catalog = CatalogSpec::load(&dir, &categories, &offices).unwrap();
        assert_eq!(catalog.procedures[0].content.form.as_ref().unwrap().steps[0].fields[0].key, "a");

        // A workflow is checked the same way, naming the file and the culprit.
        let fixed = procedure.replace(r#"type = "file""#, r#"type = "text""#);
        let workflow = r#"
[workflow]
initial = "nuova"
statuses = [ { key = "nuova", label = "Nuova", phase = "submitted" } ]
transitions = [ { key = "chiudi", label = "Chiudi", from = ["nuova"], to = "chiusa", roles = ["operator"] } ]
"#;
        std::fs::write(dir.join("procedures/prova.toml"), format!("{fixed}{workflow}")).unwrap();
        let error = CatalogSpec::load(&dir, &categories, &offices).err().expect("refused").to_string();
        assert!(error.contains("prova.toml") && error.contains("unknown status \"chiusa\""), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
