//! The legal clock of a case (L. 241/1990, art. 2): a time limit in calendar
//! days from the submission, which an integration request either suspends (the
//! days already used are kept, the clock resumes when the citizen answers) or
//! interrupts (it starts again from zero on the answer), any number of times.
//!
//! Computed from the case's events, never stored as a running counter: the
//! timeline is the single source, so a due date can always be explained.

use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::store::{self, Case};
use crate::{db::TenantTx, time::rome_local};

/// What an integration request does to the clock (the procedure says which).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockEffect {
    /// The clock pauses and then continues (art. 2 c. 7).
    #[default]
    Suspend,
    /// The clock starts again from zero when the answer arrives.
    Interrupt,
}

/// A fact of the case that moves the clock, on its day (Rome calendar).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tick {
    /// Submitted: the clock starts.
    Start(NaiveDate),
    /// An integration was requested.
    Pause(NaiveDate, ClockEffect),
    /// One pending request was answered (or withdrawn).
    Resume(NaiveDate),
    /// A final status was reached.
    Stop(NaiveDate),
    /// Back out of a final status: the days it spent closed do not count.
    Reopen(NaiveDate),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockState {
    NotStarted,
    Running,
    Suspended,
    Stopped,
}

/// The clock as both sides see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Clock {
    pub state: ClockState,
    /// The day the office must conclude by; `None` while suspended or not started.
    pub due_date: Option<NaiveDate>,
    /// Days of the time limit used so far (suspended days excluded).
    pub days_elapsed: i64,
    /// Days left (negative: late by that many days). Meaningless when stopped.
    pub days_left: i64,
    pub time_limit_days: i64,
    /// Running (or stopped) past the due date.
    pub overdue: bool,
    /// How many days past it (0 if not overdue).
    pub days_late: i64,
    /// Since when the clock is suspended.
    pub suspended_since: Option<NaiveDate>,
    /// How many integration requests paused it in all.
    pub pauses: u32,
}

/// Runs the ticks (in the order they happened) up to `today`.
pub fn compute(time_limit_days: i64, ticks: &[Tick], today: NaiveDate) -> Clock {
    let mut start: Option<NaiveDate> = None;
    // Days not counted since `start` (closed suspensions).
    let mut not_counted = 0i64;
    // Open pauses: how many requests are pending, since when, and whether one interrupts.
    let (mut pending, mut paused_at, mut interrupting) = (0u32, None::<NaiveDate>, false);
    let mut stopped_at: Option<NaiveDate> = None;
    let mut pauses = 0u32;
    for tick in ticks {
        match *tick {
            Tick::Start(on) => {
                start = Some(on);
                not_counted = 0;
            }
            Tick::Pause(on, effect) => {
                pauses += 1;
                if pending == 0 {
                    paused_at = Some(on);
                    interrupting = false;
                }
                pending += 1;
                interrupting |= effect == ClockEffect::Interrupt;
            }
            Tick::Resume(on) => {
                if pending == 0 {
                    continue;
                }
                pending -= 1;
                if pending == 0 {
                    let since = paused_at.take().unwrap_or(on);
                    if interrupting {
                        // The term starts again in full from the answer.
                        start = Some(on);
                        not_counted = 0;
                    } else {
                        not_counted += (on - since).num_days().max(0);
                    }
                }
            }
            Tick::Stop(on) => stopped_at = Some(on),
            Tick::Reopen(on) => {
                if let Some(stopped) = stopped_at.take() {
                    not_counted += (on - stopped).num_days().max(0);
                }
            }
        }
    }
    let limit = time_limit_days;
    let Some(start) = start else {
        return Clock {
            state: ClockState::NotStarted,
            due_date: None,
            days_elapsed: 0,
            days_left: limit,
            time_limit_days: limit,
            overdue: false,
            days_late: 0,
            suspended_since: None,
            pauses,
        };
    };
    let (state, until) = match (stopped_at, paused_at) {
        // Closed while waiting on the citizen: the waiting days never counted.
        (Some(stopped), Some(paused)) => (ClockState::Stopped, paused.min(stopped)),
        (Some(stopped), None) => (ClockState::Stopped, stopped),
        (None, Some(paused)) => (ClockState::Suspended, paused),
        (None, None) => (ClockState::Running, today),
    };
    let days_elapsed = ((until - start).num_days() - not_counted).max(0);
    let days_left = limit - days_elapsed;
    let due_date = match state {
        ClockState::Suspended => None,
        ClockState::Stopped if paused_at.is_some() => None,
        _ => Some(start + chrono::Duration::days(limit + not_counted)),
    };
    Clock {
        state,
        due_date,
        days_elapsed,
        days_left,
        time_limit_days: limit,
        overdue: days_left < 0,
        days_late: (-days_left).max(0),
        suspended_since: if state == ClockState::Suspended { paused_at } else { None },
        pauses,
    }
}

/// The clock of the case, from its timeline, as of today in Rome.
pub async fn clock_of(tx: &mut TenantTx, case: &Case) -> sqlx::Result<Clock> {
    let rows: Vec<(chrono::DateTime<Utc>, String, serde_json::Value)> =
        sqlx::query_as("select at, kind, data from case_events where case_id = $1 order by id")
            .bind(case.id)
            .fetch_all(tx.conn())
            .await?;
    let ticks = ticks_of(rows.iter().map(|(at, kind, data)| (*at, kind.as_str(), data)));
    Ok(compute(case.time_limit_days.into(), &ticks, rome_local(Utc::now()).date()))
}

/// The clock-moving facts among a case's events.
pub fn ticks_of<'a>(
    events: impl Iterator<Item = (chrono::DateTime<Utc>, &'a str, &'a serde_json::Value)>,
) -> Vec<Tick> {
    events
        .filter_map(|(at, kind, data)| {
            let day = rome_local(at).date();
            match kind {
                "submitted" => Some(Tick::Start(day)),
                "integration_requested" => {
                    let effect = match data["clock"].as_str() {
                        Some("interrupt") => ClockEffect::Interrupt,
                        _ => ClockEffect::Suspend,
                    };
                    Some(Tick::Pause(day, effect))
                }
                "integration_answered" => Some(Tick::Resume(day)),
                "status_changed" if data["final"] == true => Some(Tick::Stop(day)),
                "status_changed" if data["reopen"] == true => Some(Tick::Reopen(day)),
                _ => None,
            }
        })
        .collect()
}

/// Keeps `cases.due_date` (what the inbox sorts on) equal to the clock's.
pub async fn refresh_due_date(tx: &mut TenantTx, case_id: Uuid) -> sqlx::Result<()> {
    let Some(case) = store::case_by_id(tx, case_id, false).await? else { return Ok(()) };
    let clock = clock_of(tx, &case).await?;
    sqlx::query("update cases set due_date = $2 where id = $1")
        .bind(case_id)
        .bind(clock.due_date)
        .execute(tx.conn())
        .await?;
    if let (ClockState::Running, Some(due)) = (clock.state, clock.due_date) {
        super::timers::arm_overdue(tx, case_id, due).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_plain_running_clock() {
        let clock = compute(30, &[Tick::Start(d("2026-03-01"))], d("2026-03-11"));
        assert_eq!(clock.state, ClockState::Running);
        assert_eq!(clock.due_date, Some(d("2026-03-31")));
        assert_eq!((clock.days_elapsed, clock.days_left, clock.overdue), (10, 20, false));
    }

    #[test]
    fn resume_without_a_pause_is_ignored() {
        let clock = compute(30, &[Tick::Start(d("2026-03-01")), Tick::Resume(d("2026-03-05"))], d("2026-03-11"));
        assert_eq!(clock.due_date, Some(d("2026-03-31")));
    }
}
