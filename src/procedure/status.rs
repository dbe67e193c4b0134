//! Where a case stands (`cases.status`): a draft, then the phase of its
//! workflow status. The database holds the same names (a check constraint).

use serde::{Deserialize, Serialize};

use super::workflow::Phase;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum CaseStatus {
    Draft,
    Submitted,
    InProgress,
    AwaitingIntegration,
    Accepted,
    Rejected,
    Closed,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 7] = [
        Self::Draft,
        Self::Submitted,
        Self::InProgress,
        Self::AwaitingIntegration,
        Self::Accepted,
        Self::Rejected,
        Self::Closed,
    ];

    /// The statuses a case ends in (its legal clock stops there).
    pub const FINAL: [CaseStatus; 3] = [Self::Accepted, Self::Rejected, Self::Closed];

    pub fn is_final(self) -> bool {
        Self::FINAL.contains(&self)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Submitted => "submitted",
            Self::InProgress => "in_progress",
            Self::AwaitingIntegration => "awaiting_integration",
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
            Self::Closed => "closed",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The names of the final statuses, to bind in SQL (`status <> all($n)`).
    pub fn final_names() -> Vec<&'static str> {
        Self::FINAL.iter().map(|s| s.as_str()).collect()
    }
}

/// A status reads as its name (`case.status == "submitted"`).
impl PartialEq<&str> for CaseStatus {
    fn eq(&self, name: &&str) -> bool {
        self.as_str() == *name
    }
}

impl From<Phase> for CaseStatus {
    fn from(phase: Phase) -> Self {
        match phase {
            Phase::Submitted => Self::Submitted,
            Phase::InProgress => Self::InProgress,
            Phase::AwaitingIntegration => Self::AwaitingIntegration,
            Phase::Accepted => Self::Accepted,
            Phase::Rejected => Self::Rejected,
            Phase::Closed => Self::Closed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_only_the_outcomes_are_final() {
        for name in ["draft", "submitted", "in_progress", "awaiting_integration", "accepted", "rejected", "closed"] {
            let status = CaseStatus::parse(name).unwrap();
            assert_eq!(status.as_str(), name);
            assert_eq!(serde_json::to_value(status).unwrap(), name);
        }
        assert_eq!(CaseStatus::final_names(), ["accepted", "rejected", "closed"]);
        assert!(!CaseStatus::AwaitingIntegration.is_final());
        assert_eq!(CaseStatus::parse("archived"), None);
    }
}
