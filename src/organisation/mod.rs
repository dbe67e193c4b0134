//! The ente's organisation: its offices (UO) as a tree, synchronised with IPA
//! (`ipa`: reading IPA's open data for one ente and planning the changes;
//! `offices`: the offices as stored, and applying a plan). No HTTP: the
//! console's pages are `admin::offices`. See docs/ORGANISATION.md.

pub mod ipa;
pub mod offices;
pub mod staff;
