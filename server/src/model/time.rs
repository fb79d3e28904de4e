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

/// A duration such as `0d`, `90d`, `12h`, `30m`, `45s` or `2w`, in microseconds.
pub fn parse_duration(s: &str) -> Result<Micros, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("'{s}' has no unit: use s, m, h, d or w (e.g. 90d)"))?;
    let (n, unit) = s.split_at(split);
    let n: i64 = n
        .parse()
        .map_err(|_| format!("'{s}' does not start with a whole number"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => {
            return Err(format!(
                "'{unit}' in '{s}' is not a unit: use s, m, h, d or w"
            ))
        }
    };
    n.checked_mul(seconds * 1_000_000)
        .ok_or_else(|| format!("'{s}' is too long"))
}

#[cfg(test)]
mod duration_tests {
    use super::parse_duration;

    #[test]
    fn durations_parse_with_units_and_refuse_the_rest() {
        assert_eq!(parse_duration("0d"), Ok(0));
        assert_eq!(parse_duration("90d"), Ok(90 * 86_400 * 1_000_000));
        assert_eq!(parse_duration("12h"), Ok(12 * 3_600 * 1_000_000));
        assert_eq!(parse_duration("2w"), Ok(14 * 86_400 * 1_000_000));
        for bad in ["", "d", "10", "10y", "-1d", "1.5d", "99999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad} accepted");
        }
    }
}
