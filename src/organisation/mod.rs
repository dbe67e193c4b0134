//! The ente's organisation: its offices (UO) as a tree, synchronised with IPA
//! (`ipa`: reading IPA's open data for one ente and planning the changes;
//! `offices`: the offices as stored, and applying a plan), its staff
//! (`staff`: who, how they sign in, their standing, roles and offices) and
//! roles (`roles`: the permission matrix's rules). No HTTP: the console's
//! pages are `admin::offices` and `admin::staff`. See docs/ORGANISATION.md.

pub mod ipa;
pub mod offices;
pub mod roles;
pub mod staff;
