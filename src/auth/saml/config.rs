//! Per-tenant SPID service-provider configuration.
//!
//! One [`SpConfig`] per municipality (tenant). The portal builds it from the
//! tenant's configuration file; [`SpConfig::validate`] is called at start-up so
//! that a bad key or certificate stops the tenant from loading instead of
//! failing at the first login.

use super::crypto::SigningCredentials;
use super::errors::SpidError;

/// `md:Organization` (SPID wants Italian `xml:lang="it"` values).
#[derive(Debug, Clone)]
pub struct Organization {
    pub name: String,
    pub display_name: String,
    pub url: String,
}

/// One `md:AttributeConsumingService` (its index is its position in
/// [`SpConfig::attribute_sets`]).
#[derive(Debug, Clone)]
pub struct AttributeConsumingService {
    pub service_name: String,
    /// SPID attribute names, e.g. `fiscalNumber`, `name`, `familyName`.
    pub attributes: Vec<String>,
}

impl AttributeConsumingService {
    /// Index-0 set used by the portal: the identity attributes the citizen
    /// profile needs.
    pub fn default_citizen_set() -> Self {
        Self::named(
            "Accesso ai servizi online",
            &["spidCode", "name", "familyName", "fiscalNumber", "email", "mobilePhone"],
        )
    }

    /// The CIE set: "Entra con CIE" releases only the eIDAS minimum dataset.
    pub fn cie_citizen_set() -> Self {
        Self::named("Accesso ai servizi online", CIE_ATTRIBUTES)
    }

    fn named(service_name: &str, attributes: &[&str]) -> Self {
        Self { service_name: service_name.into(), attributes: attributes.iter().map(|s| s.to_string()).collect() }
    }
}

/// Which federation's metadata profile the SP publishes. SPID and "Entra con
/// CIE" share the protocol but not the census part of the metadata: SPID wants
/// one `ContactPerson contactType="other"` with `spid:` extensions, CIE one
/// `contactType="administrative"` with `cie:` extensions, a `Company` and the
/// cadastral code of the seat (Manuale tecnico CIE, "Informazioni di censimento").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataProfile {
    Spid,
    Cie {
        /// Codice catastale ("Belfiore") of the municipality of the legal seat, e.g. `H501`.
        cadastral_code: String,
        /// Province abbreviation, e.g. `RM` (optional in the CIE profile).
        province: String,
    },
}

/// The attributes the CIE identity provider can release (eIDAS minimum dataset).
pub const CIE_ATTRIBUTES: &[&str] = &["name", "familyName", "dateOfBirth", "fiscalNumber"];

/// Whether `code` looks like a cadastral code: a letter and three digits.
pub fn is_cadastral_code(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == 4 && b[0].is_ascii_uppercase() && b[1..].iter().all(u8::is_ascii_digit)
}

/// SPID SP configuration of a tenant.
#[derive(Debug, Clone)]
pub struct SpConfig {
    /// SP entity id; by convention the metadata URL,
    /// e.g. `https://valmora.example.it/accesso/spid/metadata`.
    pub entity_id: String,
    /// `AssertionConsumerService` URLs (HTTP-POST). Index 0 is the default.
    pub acs_urls: Vec<String>,
    /// `SingleLogoutService` URL (HTTP-POST).
    pub slo_url: String,
    /// PEM private key (PKCS#1 or PKCS#8, RSA ≥ 2048 bits).
    pub key_pem: String,
    /// PEM certificate (SPID profile per Avviso 29 v3).
    pub cert_pem: String,
    pub organization: Organization,
    /// IPA code of the municipality (`spid:IPACode`), e.g. `c_a123`.
    pub ipa_code: String,
    /// `ContactPerson contactType="other"` e-mail (mandatory).
    pub contact_email: String,
    /// `ContactPerson` telephone (optional; `+39…`, no spaces).
    pub contact_phone: Option<String>,
    /// Attribute consuming services; index 0 must exist.
    pub attribute_sets: Vec<AttributeConsumingService>,
    /// SPID or CIE metadata profile.
    pub profile: MetadataProfile,
}

/// SPID attribute names (Tabella attributi SPID) accepted in `RequestedAttribute`.
pub const SPID_ATTRIBUTES: &[&str] = &[
    "spidCode",
    "name",
    "familyName",
    "placeOfBirth",
    "countyOfBirth",
    "dateOfBirth",
    "gender",
    "companyName",
    "registeredOffice",
    "fiscalNumber",
    "ivaCode",
    "idCard",
    "mobilePhone",
    "email",
    "address",
    "expirationDate",
    "digitalAddress",
    "domicileStreetAddress",
    "domicilePostalCode",
    "domicileMunicipality",
    "domicileProvince",
    "domicileNation",
    "companyFiscalNumber",
];

impl SpConfig {
    /// The default ACS URL (index 0).
    pub fn acs_url(&self) -> &str {
        self.acs_urls.first().map(String::as_str).unwrap_or("")
    }

    /// ACS URL for an `AssertionConsumerServiceIndex`.
    pub fn acs_url_for(&self, index: u16) -> Option<&str> {
        self.acs_urls.get(index as usize).map(String::as_str)
    }

    /// Loads the signing key and certificate.
    pub fn credentials(&self) -> Result<SigningCredentials, SpidError> {
        SigningCredentials::from_pem(&self.key_pem, &self.cert_pem)
    }

    /// Checks everything that would otherwise fail at login time.
    pub fn validate(&self) -> Result<(), SpidError> {
        let err = |m: &str| Err(SpidError::Config(m.to_string()));
        if !self.entity_id.starts_with("https://") && !self.entity_id.starts_with("http://") {
            return err("entity_id must be an absolute http(s) URL");
        }
        if self.acs_urls.is_empty() || self.acs_urls.iter().any(|u| !u.starts_with("http")) {
            return err("at least one absolute acs_url is required");
        }
        if !self.slo_url.starts_with("http") {
            return err("slo_url must be an absolute URL");
        }
        if self.organization.name.trim().is_empty()
            || self.organization.display_name.trim().is_empty()
            || !self.organization.url.starts_with("http")
        {
            return err("organization name, display name and url are required");
        }
        let ipa_ok = !self.ipa_code.is_empty()
            && self.ipa_code.len() <= 11
            && self.ipa_code.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
        if !ipa_ok {
            return err("ipa_code must be the IPA code of the entity (e.g. c_a123)");
        }
        if !self.contact_email.contains('@') || self.contact_email.contains(char::is_whitespace) {
            return err("contact_email is not an e-mail address");
        }
        if let Some(p) = &self.contact_phone {
            if !p.starts_with('+') || p.contains(' ') || !p[1..].bytes().all(|c| c.is_ascii_digit()) {
                return err("contact_phone must be like +39061234567 (no spaces)");
            }
        }
        if self.attribute_sets.is_empty() {
            return err("attribute consuming service index 0 is required");
        }
        for set in &self.attribute_sets {
            if set.attributes.is_empty() {
                return err("an attribute consuming service needs at least one attribute");
            }
            if let Some(a) = set.attributes.iter().find(|a| !SPID_ATTRIBUTES.contains(&a.as_str())) {
                return Err(SpidError::Config(format!("unknown SPID attribute {a}")));
            }
            if let MetadataProfile::Cie { .. } = self.profile {
                if let Some(a) = set.attributes.iter().find(|a| !CIE_ATTRIBUTES.contains(&a.as_str())) {
                    return Err(SpidError::Config(format!("CIE cannot release the attribute {a}")));
                }
            }
        }
        if let MetadataProfile::Cie { cadastral_code, .. } = &self.profile {
            if !is_cadastral_code(cadastral_code) {
                return err("CIE needs the cadastral code of the municipality (cadastral_code, e.g. H501)");
            }
        }
        let creds = self.credentials()?;
        creds.check_for_signing(chrono::Utc::now())?;
        Ok(())
    }
}
