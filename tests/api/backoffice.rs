//! The back office and the machinery behind it: background jobs.

mod jobs;
