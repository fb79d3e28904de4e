//! The run state machine, as a commutative merge of the events seen for a run: COMPLETE before
//! START, RUNNING after FAIL and the same event sent twice all give the state in-order delivery
//! gives.

use serde::Serialize;

use super::event::EventType;
use super::time::Micros;

/// A run's state, in Marquez's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunState {
    New,
    Running,
    Completed,
    Failed,
    Aborted,
}

impl RunState {
    /// The name stored and answered.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::New => "NEW",
            RunState::Running => "RUNNING",
            RunState::Completed => "COMPLETED",
            RunState::Failed => "FAILED",
            RunState::Aborted => "ABORTED",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "NEW" => RunState::New,
            "RUNNING" => RunState::Running,
            "COMPLETED" => RunState::Completed,
            "FAILED" => RunState::Failed,
            "ABORTED" => RunState::Aborted,
            _ => return None,
        })
    }
}

/// What the events of one run say about its life, merged order-independently.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunTimeline {
    /// The earliest START.
    pub start_time: Option<Micros>,
    /// The earliest RUNNING.
    pub running_time: Option<Micros>,
    /// The terminal event that wins: the latest, FAIL over ABORT over COMPLETE at equal times.
    pub terminal: Option<(Micros, EventType)>,
    /// The earliest and latest event of any type.
    pub first_event: Option<Micros>,
    pub last_event: Option<Micros>,
}

fn min_opt(a: Option<Micros>, b: Micros) -> Option<Micros> {
    Some(a.map_or(b, |a| a.min(b)))
}

fn terminal_rank(t: EventType) -> u8 {
    match t {
        EventType::Fail => 3,
        EventType::Abort => 2,
        _ => 1,
    }
}

impl RunTimeline {
    /// Takes one event into account.
    pub fn apply(&mut self, event_type: Option<EventType>, time: Micros) {
        self.first_event = min_opt(self.first_event, time);
        self.last_event = Some(self.last_event.map_or(time, |l| l.max(time)));
        match event_type {
            Some(EventType::Start) => self.start_time = min_opt(self.start_time, time),
            Some(EventType::Running) => self.running_time = min_opt(self.running_time, time),
            Some(t @ (EventType::Complete | EventType::Fail | EventType::Abort)) => {
                let wins = match self.terminal {
                    None => true,
                    Some((ot, o)) => (time, terminal_rank(t)) > (ot, terminal_rank(o)),
                };
                if wins {
                    self.terminal = Some((time, t));
                }
            }
            Some(EventType::Other) | None => {}
        }
    }

    /// Merges another timeline (the union of both event sets).
    pub fn merge(&mut self, other: &RunTimeline) {
        if let Some(t) = other.start_time {
            self.apply(Some(EventType::Start), t);
        }
        if let Some(t) = other.running_time {
            self.apply(Some(EventType::Running), t);
        }
        if let Some((t, e)) = other.terminal {
            self.apply(Some(e), t);
        }
        for t in [other.first_event, other.last_event].into_iter().flatten() {
            self.apply(None, t);
        }
    }

    /// The state: a terminal event is final; otherwise RUNNING once started.
    pub fn state(&self) -> RunState {
        match self.terminal {
            Some((_, EventType::Complete)) => RunState::Completed,
            Some((_, EventType::Fail)) => RunState::Failed,
            Some((_, EventType::Abort)) => RunState::Aborted,
            Some(_) | None if self.start_time.is_some() || self.running_time.is_some() => {
                RunState::Running
            }
            _ => RunState::New,
        }
    }

    /// When the run started: its START, else its first RUNNING.
    pub fn started_at(&self) -> Option<Micros> {
        self.start_time.or(self.running_time)
    }

    /// When the run ended, if it has.
    pub fn ended_at(&self) -> Option<Micros> {
        self.terminal.map(|(t, _)| t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use EventType::*;

    fn timeline(events: &[(EventType, Micros)]) -> RunTimeline {
        let mut t = RunTimeline::default();
        for (e, at) in events {
            t.apply(Some(*e), *at);
        }
        t
    }

    #[test]
    fn a_complete_before_its_start_gives_the_same_run() {
        let a = timeline(&[(Start, 1), (Complete, 5)]);
        let b = timeline(&[(Complete, 5), (Start, 1)]);
        assert_eq!(a, b);
        assert_eq!(a.state(), RunState::Completed);
        assert_eq!(a.started_at(), Some(1));
        assert_eq!(a.ended_at(), Some(5));
    }

    #[test]
    fn a_running_after_a_fail_leaves_it_failed() {
        let t = timeline(&[(Start, 1), (Fail, 5), (Running, 3)]);
        assert_eq!(t.state(), RunState::Failed);
    }

    #[test]
    fn the_same_event_twice_changes_nothing() {
        assert_eq!(timeline(&[(Start, 1)]), timeline(&[(Start, 1), (Start, 1)]));
    }

    #[test]
    fn merging_timelines_is_the_union_of_their_events() {
        let mut a = timeline(&[(Start, 1)]);
        a.merge(&timeline(&[(Running, 2), (Complete, 4)]));
        assert_eq!(a, timeline(&[(Start, 1), (Running, 2), (Complete, 4)]));
    }

    #[test]
    fn a_run_with_no_start_is_new() {
        assert_eq!(timeline(&[(Other, 1)]).state(), RunState::New);
    }
}
