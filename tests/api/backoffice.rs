//! The back office: what operators do and what records it (the audit trail).

mod audit;
