//! What a benchmark round cost the machine's processors: the CPU time of this process (the
//! server and its benchmark clients) and of the Postgres server it writes to, read from
//! Linux's `/proc` before and after. A rate says how fast; this says at what cost, and so how
//! far the same work could go on the same cores.

use std::time::Duration;

use sqlx::PgPool;

/// The unit of `/proc/<pid>/stat`'s times: the kernel's `USER_HZ`, which its interface fixes at
/// 100 a second on the platforms Linux reports it for.
const TICKS_PER_SECOND: u64 = 100;

/// The CPU time spent so far: this process's, and the Postgres server's (every process of it,
/// with those that have ended) when it runs on this machine and `/proc` shows it.
#[derive(Debug, Clone, Copy)]
pub struct CpuSample {
    own: Duration,
    postgres: Option<Duration>,
}

/// What one measured stretch cost, per event.
#[derive(Debug, Clone, Copy)]
pub struct CpuPerEvent {
    /// This process: the server and the benchmark's own clients.
    pub own_ms: f64,
    /// The Postgres server, when it could be read.
    pub postgres_ms: Option<f64>,
}

impl CpuPerEvent {
    /// The most events a second this machine's cores could take at this cost, if nothing
    /// else ran and none were ever idle.
    pub fn ceiling(&self, cores: usize) -> Option<f64> {
        let total = self.own_ms + self.postgres_ms?;
        (total > 0.0).then(|| cores as f64 * 1000.0 / total)
    }
}

/// Reads the CPU time spent so far. `pool` is a connection to the Postgres server measured: its
/// processes are the children of the one that started the connection's backend.
pub async fn sample(pool: &PgPool) -> CpuSample {
    let own = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| Stat::parse(&s))
        .map_or(Duration::ZERO, |s| s.own());
    let backend: Option<i32> = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(pool)
        .await
        .ok();
    CpuSample {
        own,
        postgres: backend.and_then(postgres_cpu),
    }
}

impl CpuSample {
    /// What happened between `self` and `later`, per event.
    pub fn per_event(&self, later: &CpuSample, events: usize) -> CpuPerEvent {
        let per = |a: Duration, b: Duration| {
            b.saturating_sub(a).as_secs_f64() * 1000.0 / events.max(1) as f64
        };
        CpuPerEvent {
            own_ms: per(self.own, later.own),
            postgres_ms: match (self.postgres, later.postgres) {
                (Some(a), Some(b)) => Some(per(a, b)),
                _ => None,
            },
        }
    }
}

/// The Postgres server's CPU time: its first process's own and that of the children it has
/// reaped, with every child still running. `None` when the backend is not a process of this
/// machine's (a server elsewhere, or a `/proc` that does not show it).
fn postgres_cpu(backend: i32) -> Option<Duration> {
    let read = |pid: i32| -> Option<Stat> {
        Stat::parse(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    };
    let mine = read(backend)?;
    // A process of this machine with that number need not be the backend: it must be Postgres.
    let comm = std::fs::read_to_string(format!("/proc/{backend}/comm")).ok()?;
    if !comm.starts_with("postgres") {
        return None;
    }
    let postmaster = mine.ppid;
    let mut total = read(postmaster)?.with_children();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if let Some(s) = read(pid).filter(|s| s.ppid == postmaster) {
            total += s.own();
        }
    }
    Some(total)
}

/// The fields of a `/proc/<pid>/stat` line that matter here.
#[derive(Debug, PartialEq)]
struct Stat {
    ppid: i32,
    utime: u64,
    stime: u64,
    cutime: u64,
    cstime: u64,
}

impl Stat {
    /// Parses a stat line. The command name (second field) is in parentheses and may hold
    /// spaces and parentheses of its own, so the fields are counted from after the last `)`.
    fn parse(line: &str) -> Option<Stat> {
        let rest = &line[line.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // After the name: state (3rd field of the line), ppid (4th), …, utime (14th), stime,
        // cutime, cstime (17th).
        let num = |i: usize| fields.get(i - 3)?.parse::<u64>().ok();
        Some(Stat {
            ppid: fields.get(1)?.parse().ok()?,
            utime: num(14)?,
            stime: num(15)?,
            cutime: num(16)?,
            cstime: num(17)?,
        })
    }

    fn ticks(t: u64) -> Duration {
        Duration::from_millis(t * 1000 / TICKS_PER_SECOND)
    }

    /// The process's own time, all its threads.
    fn own(&self) -> Duration {
        Self::ticks(self.utime + self.stime)
    }

    /// With the children it has waited for.
    fn with_children(&self) -> Duration {
        Self::ticks(self.utime + self.stime + self.cutime + self.cstime)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_are_read_past_a_name_with_spaces_and_parentheses() {
        let line = "4242 (tokio (rt) worker) S 17 4242 17 0 -1 4194560 2 0 0 0 \
                    321 45 7 3 20 0 9 0 1234 5678 90 18446744073709551615";
        assert_eq!(
            Stat::parse(line),
            Some(Stat {
                ppid: 17,
                utime: 321,
                stime: 45,
                cutime: 7,
                cstime: 3,
            })
        );
        let s = Stat::parse(line).unwrap();
        assert_eq!(s.own(), Duration::from_millis(3_660));
        assert_eq!(s.with_children(), Duration::from_millis(3_760));
        assert_eq!(Stat::parse("12 (cut short) S 1 2"), None);
    }

    #[test]
    fn the_ceiling_is_what_the_cores_allow_at_the_cost_measured() {
        let cost = CpuPerEvent {
            own_ms: 0.75,
            postgres_ms: Some(0.5),
        };
        assert_eq!(cost.ceiling(2).map(f64::round), Some(1600.0));
        let unknown = CpuPerEvent {
            own_ms: 0.75,
            postgres_ms: None,
        };
        assert_eq!(unknown.ceiling(2), None);
    }

    #[cfg(unix)]
    #[test]
    fn this_process_is_read_from_proc() {
        if !std::path::Path::new("/proc/self/stat").exists() {
            return;
        }
        let stat = Stat::parse(&std::fs::read_to_string("/proc/self/stat").unwrap()).unwrap();
        assert_eq!(stat.ppid as u32, std::os::unix::process::parent_id());
    }
}
