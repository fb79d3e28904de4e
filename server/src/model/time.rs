//! Event times: parsing OpenLineage timestamps and the integer form the store keeps.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};

/// Microseconds since the Unix epoch, UTC. The store keeps every time in this form so that both
/// backends order and compare times identically.
pub type Micros = i64;

/// Parses an OpenLineage `eventTime`. Accepts RFC 3339 with any offset and, like Marquez, a
/// timestamp without a zone (read as UTC), with `T` or a space between date and time.
pub fn parse_event_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    // Offsets without a colon (`+0000`) are common in JVM emitters.
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(Utc.from_utc_datetime(&t));
        }
    }
    None
}

/// A time as microseconds since the epoch.
pub fn to_micros(t: DateTime<Utc>) -> Micros {
    t.timestamp_micros()
}

/// Microseconds since the epoch back to a time (saturating at the representable range).
pub fn from_micros(m: Micros) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(m).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// ISO 8601 with millisecond precision and `Z`, the form Marquez answers with.
pub fn iso(m: Micros) -> String {
    from_micros(m).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Now, in microseconds.
pub fn now_micros() -> Micros {
    to_micros(Utc::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_without_a_zone_is_read_as_utc() {
        let t = parse_event_time("2020-12-28T19:51:01.641").unwrap();
        assert_eq!(iso(to_micros(t)), "2020-12-28T19:51:01.641Z");
    }

    #[test]
    fn offsets_are_normalised_to_utc() {
        let t = parse_event_time("2020-12-28T19:52:00.001+10:00").unwrap();
        assert_eq!(iso(to_micros(t)), "2020-12-28T09:52:00.001Z");
        let t = parse_event_time("2020-12-28T19:52:00.001+1000").unwrap();
        assert_eq!(iso(to_micros(t)), "2020-12-28T09:52:00.001Z");
    }

    #[test]
    fn nanoseconds_are_accepted() {
        assert!(parse_event_time("2020-12-28T19:51:01.641123456Z").is_some());
    }

    #[test]
    fn garbage_is_refused() {
        assert!(parse_event_time("yesterday").is_none());
        assert!(parse_event_time("").is_none());
    }
}
