//! Signed SP metadata: SPID public-sector profile (Avviso SPID n.29 v3) or the
//! "Entra con CIE" public-sector profile (Manuale tecnico CIE, "Federazione").
//!
//! The document carries: `AuthnRequestsSigned`/`WantAssertionsSigned`, a
//! signing `KeyDescriptor`, HTTP-POST `SingleLogoutService`, transient
//! `NameIDFormat`, the `AssertionConsumerService`s (index 0 `isDefault`), the
//! `AttributeConsumingService`s, `Organization`, and one `ContactPerson`: for
//! SPID `contactType="other"` with `spid:IPACode` and `spid:Public`; for CIE
//! `contactType="administrative"` with `cie:Public`, `cie:IPACode`,
//! `cie:Municipality` (cadastral code), `cie:Province` and a `md:Company` equal
//! to the organisation name. It is enveloped-signed with the SP key.
//!
//! The `ID` is derived from the entity id, so the output is stable for a given
//! configuration (RSA PKCS#1 v1.5 signatures are deterministic): it can be
//! cached and served as-is.

use std::fmt::Write as _;

use super::config::{MetadataProfile, SpConfig};
use super::crypto::{sign_enveloped, SIGNATURE_MARKER};
use super::errors::SpidError;
use super::xml::esc;
use super::{BINDING_POST, NAMEID_TRANSIENT};

/// Builds and signs the SP metadata of a tenant.
pub fn sp_metadata(cfg: &SpConfig) -> Result<String, SpidError> {
    cfg.validate()?;
    let creds = cfg.credentials()?;
    let cert = creds.cert_base64()?;
    let id = format!("_{}", hex_lower(&openssl::sha::sha256(cfg.entity_id.as_bytes())[..16]));

    let mut x = String::with_capacity(8192);
    let _ = write!(
        x,
        concat!(
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" "#,
            r#"xmlns:ds="http://www.w3.org/2000/09/xmldsig#" "#,
            "{ext_ns}",
            r#"entityID="{eid}" ID="{id}">"#,
            "{sig}",
            r#"<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" "#,
            r#"AuthnRequestsSigned="true" WantAssertionsSigned="true">"#,
            r#"<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data>"#,
            r#"<ds:X509Certificate>{cert}</ds:X509Certificate>"#,
            r#"</ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
            r#"<md:SingleLogoutService Binding="{post}" Location="{slo}"/>"#,
            r#"<md:NameIDFormat>{transient}</md:NameIDFormat>"#
        ),
        ext_ns = match cfg.profile {
            MetadataProfile::Spid => r#"xmlns:spid="https://spid.gov.it/saml-extensions" "#,
            MetadataProfile::Cie { .. } => r#"xmlns:cie="https://www.cartaidentita.interno.gov.it/saml-extensions" "#,
        },
        eid = esc(&cfg.entity_id),
        id = id,
        sig = SIGNATURE_MARKER,
        cert = cert,
        post = BINDING_POST,
        slo = esc(&cfg.slo_url),
        transient = NAMEID_TRANSIENT,
    );
    for (i, acs) in cfg.acs_urls.iter().enumerate() {
        let _ = write!(
            x,
            r#"<md:AssertionConsumerService index="{i}"{def} Binding="{post}" Location="{loc}"/>"#,
            def = if i == 0 { r#" isDefault="true""# } else { "" },
            post = BINDING_POST,
            loc = esc(acs),
        );
    }
    for (i, set) in cfg.attribute_sets.iter().enumerate() {
        let _ = write!(
            x,
            r#"<md:AttributeConsumingService index="{i}"><md:ServiceName xml:lang="it">{}</md:ServiceName>"#,
            esc(&set.service_name)
        );
        for a in &set.attributes {
            let _ = write!(x, r#"<md:RequestedAttribute Name="{}"/>"#, esc(a));
        }
        x.push_str("</md:AttributeConsumingService>");
    }
    x.push_str("</md:SPSSODescriptor>");
    let o = &cfg.organization;
    let _ = write!(
        x,
        concat!(
            r#"<md:Organization>"#,
            r#"<md:OrganizationName xml:lang="it">{}</md:OrganizationName>"#,
            r#"<md:OrganizationDisplayName xml:lang="it">{}</md:OrganizationDisplayName>"#,
            r#"<md:OrganizationURL xml:lang="it">{}</md:OrganizationURL>"#,
            r#"</md:Organization>"#,
        ),
        esc(&o.name),
        esc(&o.display_name),
        esc(&o.url),
    );
    match &cfg.profile {
        MetadataProfile::Spid => {
            let _ = write!(
                x,
                concat!(
                    r#"<md:ContactPerson contactType="other"><md:Extensions>"#,
                    r#"<spid:IPACode>{}</spid:IPACode><spid:Public/>"#,
                    r#"</md:Extensions>"#,
                ),
                esc(&cfg.ipa_code),
            );
        }
        MetadataProfile::Cie { cadastral_code, province } => {
            let _ = write!(
                x,
                concat!(
                    r#"<md:ContactPerson contactType="administrative"><md:Extensions>"#,
                    r#"<cie:Public/><cie:IPACode>{}</cie:IPACode><cie:Municipality>{}</cie:Municipality>"#,
                ),
                esc(&cfg.ipa_code),
                esc(cadastral_code),
            );
            if !province.is_empty() {
                let _ = write!(x, "<cie:Province>{}</cie:Province>", esc(province));
            }
            let _ = write!(x, "</md:Extensions><md:Company>{}</md:Company>", esc(&o.name));
        }
    }
    let _ = write!(x, "<md:EmailAddress>{}</md:EmailAddress>", esc(&cfg.contact_email));
    if let Some(p) = &cfg.contact_phone {
        let _ = write!(x, "<md:TelephoneNumber>{}</md:TelephoneNumber>", esc(p));
    }
    x.push_str("</md:ContactPerson></md:EntityDescriptor>");

    sign_enveloped(&x, &id, &creds)
}

fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::super::crypto::verify_and_reduce;
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn metadata_is_signed_and_has_spid_extensions() {
        let kp = KeyPair::generate("sp", -1, 365);
        let md = sp_metadata(&sp_config(&kp)).unwrap();
        for needle in [
            "<spid:IPACode>c_x000</spid:IPACode>",
            "<spid:Public/>",
            r#"contactType="other""#,
            r#"use="signing""#,
            r#"index="0" isDefault="true""#,
            r#"<md:RequestedAttribute Name="fiscalNumber"/>"#,
            "SingleLogoutService",
            "<ds:SignatureValue>",
        ] {
            assert!(md.contains(needle), "{needle} missing in {md}");
        }
        // verifies with the SP certificate
        verify_and_reduce(&md, &[kp.cert.to_der().unwrap()]).unwrap();
        // deterministic
        assert_eq!(md, sp_metadata(&sp_config(&kp)).unwrap());
    }

    #[test]
    fn cie_metadata_has_the_cie_census_and_only_the_eidas_attributes() {
        let kp = KeyPair::generate("sp", -1, 365);
        let mut cfg = sp_config(&kp);
        cfg.profile = MetadataProfile::Cie { cadastral_code: "A794".into(), province: "BG".into() };
        // The SPID set asks for attributes CIE cannot release.
        assert_eq!(sp_metadata(&cfg).unwrap_err().code(), "spid.config");
        cfg.attribute_sets = vec![super::super::AttributeConsumingService::cie_citizen_set()];
        let md = sp_metadata(&cfg).unwrap();
        for needle in [
            r#"xmlns:cie="https://www.cartaidentita.interno.gov.it/saml-extensions""#,
            r#"<md:ContactPerson contactType="administrative"><md:Extensions><cie:Public/>"#,
            "<cie:IPACode>c_x000</cie:IPACode><cie:Municipality>A794</cie:Municipality><cie:Province>BG</cie:Province>",
            "</md:Extensions><md:Company>Comune di Valmora</md:Company><md:EmailAddress>",
        ] {
            assert!(md.contains(needle), "{needle} missing in {md}");
        }
        assert!(!md.contains("spid:") && !md.contains("Name=\"email\""), "{md}");
        verify_and_reduce(&md, &[kp.cert.to_der().unwrap()]).unwrap();
        cfg.profile = MetadataProfile::Cie { cadastral_code: "Valmora".into(), province: String::new() };
        assert_eq!(sp_metadata(&cfg).unwrap_err().code(), "spid.config");
    }

    #[test]
    fn invalid_config_rejected() {
        let kp = KeyPair::generate("sp", -1, 365);
        let mut cfg = sp_config(&kp);
        cfg.contact_phone = Some("+39 06 123".into());
        assert_eq!(sp_metadata(&cfg).unwrap_err().code(), "spid.config");
        let other = KeyPair::generate("x", -1, 365);
        let mut cfg = sp_config(&kp);
        cfg.cert_pem = other.cert_pem();
        assert_eq!(sp_metadata(&cfg).unwrap_err().code(), "spid.config");
    }
}
