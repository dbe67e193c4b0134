//! The demo's story, planned without the database: which case of which
//! procedure ends in which status, and the steps that bring it there, each
//! some time ago. Deterministic: the ente's slug seeds the choices.

use std::collections::{HashMap, VecDeque};

use chrono::Duration;

use super::data::Rng;
use crate::procedure::workflow::{Phase, Transition, Workflow};

/// What the planner knows of a procedure.
pub struct ProcedureInfo {
    pub office: String,
    pub time_limit_days: i64,
    pub workflow: Workflow,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Submit,
    Transition(String),
    /// The citizen answers the pending integration request.
    Answer,
    OfficeMessage,
    CitizenMessage,
    /// An opinion asked of another office (`Some`: the office), then answered.
    Opinion(String),
    AnswerOpinion,
    Assign,
    Note,
}

#[derive(Clone, Debug)]
pub struct Step {
    /// How long before the seeding it happened.
    pub ago: Duration,
    pub action: Action,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Goal {
    Draft,
    /// Ends in `status`; `answered`: through an integration the citizen
    /// answered; `overdue`: the legal term has run out.
    Status {
        status: String,
        answered: bool,
        overdue: bool,
    },
}

#[derive(Clone, Debug)]
pub struct CasePlan {
    pub procedure: usize,
    pub citizen: usize,
    pub goal: Goal,
    /// In order, oldest first (`ago` strictly decreasing).
    pub steps: Vec<Step>,
}

/// Which transitions the ente's staff can run on a case of `office`.
pub trait Staffing {
    fn can_run(&self, office: &str, transition: &Transition) -> bool;
    /// An office other than `office` whose opinion someone can give.
    fn other_office(&self, office: &str, rng: &mut Rng) -> Option<String>;
}

/// Shortest runnable way from the initial status to `target`.
fn path(workflow: &Workflow, office: &str, staff: &dyn Staffing, target: &str) -> Option<Vec<String>> {
    let mut seen: HashMap<String, Option<(String, String)>> = HashMap::new();
    seen.insert(workflow.initial.clone(), None);
    let mut queue = VecDeque::from([workflow.initial.clone()]);
    while let Some(at) = queue.pop_front() {
        if at == target {
            let mut keys = Vec::new();
            let mut cur = at;
            while let Some(Some((prev, key))) = seen.get(&cur).cloned() {
                keys.push(key);
                cur = prev;
            }
            keys.reverse();
            return Some(keys);
        }
        for t in workflow.from_status(&at) {
            if !seen.contains_key(&t.to) && staff.can_run(office, t) {
                seen.insert(t.to.clone(), Some((at.clone(), t.key.clone())));
                queue.push_back(t.to.clone());
            }
        }
    }
    None
}

fn days(n: i64) -> Duration {
    Duration::days(n)
}

/// Plans about `target` cases (drafts included) spread over the procedures and
/// every status of their workflows, owned in turn by `citizens` people.
pub fn plan(
    procedures: &[ProcedureInfo],
    citizens: usize,
    staff: &dyn Staffing,
    rng: &mut Rng,
    target: usize,
) -> Vec<CasePlan> {
    let standard = Workflow::standard();
    let mut goals: Vec<(usize, Goal)> = Vec::new();
    let status_goal = |s: &str| Goal::Status { status: s.to_string(), answered: false, overdue: false };
    // Procedures with a workflow of their own: every status once.
    let (custom, plain): (Vec<usize>, Vec<usize>) =
        (0..procedures.len()).partition(|&i| procedures[i].workflow != standard);
    for &i in &custom {
        for s in &procedures[i].workflow.statuses {
            goals.push((i, status_goal(&s.key)));
        }
    }
    // Special stories: overdue, integration answered, and drafts (3 + 3 + 6).
    let extras = 12;
    let per_plain =
        if plain.is_empty() { 0 } else { target.saturating_sub(goals.len() + extras).div_ceil(plain.len()) };
    for (n, &i) in plain.iter().enumerate() {
        let statuses = &procedures[i].workflow.statuses;
        for k in 0..per_plain {
            goals.push((i, status_goal(&statuses[(n + k) % statuses.len()].key)));
        }
    }
    let all: Vec<usize> = (0..procedures.len()).collect();
    let in_progress = |i: usize| {
        let w = &procedures[i].workflow;
        w.statuses.iter().find(|s| s.phase == Phase::InProgress).map(|s| s.key.clone())
    };
    for &i in all.iter().filter(|&&i| in_progress(i).is_some()).take(3) {
        goals.push((i, Goal::Status { status: in_progress(i).unwrap(), answered: false, overdue: true }));
    }
    let waiting = |i: usize| {
        let w = &procedures[i].workflow;
        w.statuses.iter().find(|s| s.phase == Phase::AwaitingIntegration).map(|s| s.key.clone())
    };
    for &i in all.iter().rev().filter(|&&i| waiting(i).is_some()).take(3) {
        goals.push((i, Goal::Status { status: waiting(i).unwrap(), answered: true, overdue: false }));
    }
    for n in 0..6.min(procedures.len()) {
        goals.push(((n * 5) % procedures.len(), Goal::Draft));
    }
    let mut plans = Vec::new();
    for (procedure, goal) in goals {
        let citizen = plans.len() % citizens.max(1);
        if let Some(steps) = steps_for(&procedures[procedure], &goal, staff, rng) {
            plans.push(CasePlan { procedure, citizen, goal, steps });
        }
    }
    plans
}

/// The steps of one case, oldest first; `None` if its staff cannot bring it there.
fn steps_for(p: &ProcedureInfo, goal: &Goal, staff: &dyn Staffing, rng: &mut Rng) -> Option<Vec<Step>> {
    let Goal::Status { status, answered, overdue } = goal else { return Some(Vec::new()) };
    let w = &p.workflow;
    let target = w.status(status)?;
    let keys = path(w, &p.office, staff, status)?;
    // When it was submitted, and when its last move happened (days ago).
    let (submitted, last) = match (target.phase, *answered, *overdue) {
        (_, _, true) => (p.time_limit_days + rng.range(4, 15), p.time_limit_days + rng.range(1, 3)),
        (Phase::AwaitingIntegration, true, _) => (rng.range(30, 45), rng.range(18, 25)),
        (Phase::AwaitingIntegration, false, _) => (rng.range(28, 45), rng.range(10, 24)),
        (Phase::Submitted, _, _) => (0, 0),
        (Phase::InProgress, _, _) => (rng.range(5, 25), 0),
        _ => (rng.range(20, 50), rng.range(1, 10)),
    };
    let mut steps = Vec::new();
    let hours = |d: i64, rng: &mut Rng| days(d) + Duration::hours(rng.range(1, 9));
    if target.phase == Phase::Submitted && keys.is_empty() {
        steps.push(Step { ago: Duration::hours(rng.range(2, 70)), action: Action::Submit });
    } else {
        let sub = hours(submitted.max(1), rng);
        steps.push(Step { ago: sub, action: Action::Submit });
        // Transitions spread from the day after the submission to `last`.
        let n = keys.len() as i64;
        let first = (submitted - 1).max(last);
        for (k, key) in keys.iter().enumerate() {
            let d = if n <= 1 { first } else { first - (first - last) * k as i64 / (n - 1) };
            steps.push(Step { ago: hours(d, rng), action: Action::Transition(key.clone()) });
        }
    }
    if *answered {
        steps.push(Step { ago: days(rng.range(4, 12)), action: Action::Answer });
    }
    // A status a timer would move the case out of (silence-as-consent) is
    // left before the timer is due: the demo stays as planned.
    let resting = if *answered { target.resume_to.as_deref().unwrap_or(status) } else { status.as_str() };
    if let Some(limit) =
        w.timers.iter().filter(|t| t.status == resting && t.transition.is_some()).map(|t| t.after_days).min()
    {
        let rest = steps.last().map(|s| s.ago).unwrap_or_default();
        let max = days(limit as i64 - 1);
        if rest > max {
            let shift = rest - max;
            for s in &mut steps {
                s.ago = (s.ago - shift).max(Duration::hours(1));
            }
        }
    }
    // Office work and messages, after the submission.
    let since = steps[0].ago;
    let extra = |action: Action, rng: &mut Rng, steps: &mut Vec<Step>| {
        let span = since.num_hours().max(2);
        steps.push(Step { ago: Duration::hours(rng.range(1, span - 1)), action });
    };
    if target.phase != Phase::Submitted {
        extra(Action::Assign, rng, &mut steps);
    }
    if rng.chance(45) {
        extra(Action::OfficeMessage, rng, &mut steps);
    }
    if rng.chance(45) {
        extra(Action::CitizenMessage, rng, &mut steps);
    }
    if target.phase == Phase::InProgress && rng.chance(40) {
        if let Some(office) = staff.other_office(&p.office, rng) {
            extra(Action::Opinion(office), rng, &mut steps);
            if rng.chance(50) {
                extra(Action::AnswerOpinion, rng, &mut steps);
            }
        }
    }
    if target.phase != Phase::Submitted && rng.chance(25) {
        extra(Action::Note, rng, &mut steps);
    }
    // Oldest first; an opinion is answered after it was asked.
    steps.sort_by_key(|s| std::cmp::Reverse(s.ago));
    if let (Some(asked), Some(answered)) = (
        steps.iter().position(|s| matches!(s.action, Action::Opinion(_))),
        steps.iter().position(|s| s.action == Action::AnswerOpinion),
    ) {
        if answered < asked {
            steps.swap(asked, answered);
            let (a, b) = (steps[answered].ago, steps[asked].ago);
            (steps[answered].ago, steps[asked].ago) = (a.max(b), a.min(b));
        }
    }
    // Extras after the submission, and strictly ordered (one minute apart at least).
    for i in 1..steps.len() {
        if steps[i].ago >= steps[i - 1].ago {
            steps[i].ago = steps[i - 1].ago - Duration::minutes(1);
        }
    }
    Some(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Everyone;
    impl Staffing for Everyone {
        fn can_run(&self, _: &str, _: &Transition) -> bool {
            true
        }
        fn other_office(&self, _: &str, _: &mut Rng) -> Option<String> {
            Some("UO-X".into())
        }
    }

    fn procedures() -> Vec<ProcedureInfo> {
        (0..12)
            .map(|_| ProcedureInfo { office: "UO-A".into(), time_limit_days: 30, workflow: Workflow::standard() })
            .collect()
    }

    #[test]
    fn every_status_is_planned_about_sixty_times_the_same_way() {
        let plan_once = || plan(&procedures(), 10, &Everyone, &mut Rng::for_slug("x"), 60);
        let plans = plan_once();
        assert!((55..=70).contains(&plans.len()), "{}", plans.len());
        for s in &Workflow::standard().statuses {
            assert!(
                plans.iter().any(|p| matches!(&p.goal, Goal::Status { status, .. } if status == &s.key)),
                "{}",
                s.key
            );
        }
        assert!(plans.iter().any(|p| matches!(p.goal, Goal::Status { overdue: true, .. })));
        assert!(plans.iter().any(|p| matches!(p.goal, Goal::Status { answered: true, .. })));
        assert!(plans.iter().any(|p| p.goal == Goal::Draft));
        let again = plan_once();
        assert_eq!(
            plans.iter().map(|p| format!("{:?}", p.steps)).collect::<Vec<_>>(),
            again.iter().map(|p| format!("{:?}", p.steps)).collect::<Vec<_>>()
        );
        for p in &plans {
            assert!(p.steps.windows(2).all(|w| w[0].ago > w[1].ago), "{:?}", p.steps);
            if let Some(first) = p.steps.first() {
                assert_eq!(first.action, Action::Submit);
            }
        }
    }

    #[test]
    fn an_overdue_case_was_submitted_before_its_term() {
        let plans = plan(&procedures(), 10, &Everyone, &mut Rng::for_slug("y"), 60);
        let overdue = plans.iter().find(|p| matches!(p.goal, Goal::Status { overdue: true, .. })).unwrap();
        assert!(overdue.steps[0].ago > days(31));
    }

    #[test]
    fn nobody_to_run_a_transition_means_no_such_case() {
        struct Nobody;
        impl Staffing for Nobody {
            fn can_run(&self, _: &str, _: &Transition) -> bool {
                false
            }
            fn other_office(&self, _: &str, _: &mut Rng) -> Option<String> {
                None
            }
        }
        let plans = plan(&procedures(), 3, &Nobody, &mut Rng::for_slug("z"), 60);
        assert!(plans.iter().all(|p| match &p.goal {
            Goal::Draft => true,
            Goal::Status { status, .. } => status == "presentata",
        }));
    }
}
