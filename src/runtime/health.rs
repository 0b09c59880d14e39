//! Healthchecks (Docker's `HEALTHCHECK` and `--health-*`): when the next check is due and
//! what a check's result does to the container's health, as Docker's `daemon/health.go`
//! decides both. Pure, so the rules are tested without containers; the monitor runs the
//! checks (`monitor.rs`, through `exec::spawn_check`) and `healthcheck run` runs one now.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::storage::containers::{Health, HealthConfig, HealthResult, HealthStatus};
use crate::util;

/// Docker's defaults for the fields left at 0.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_RETRIES: u32 = 3;

/// A healthcheck with Docker's defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    /// Between two checks.
    pub interval: Duration,
    /// A check running longer is killed and fails.
    pub timeout: Duration,
    /// Failures this soon after the start do not count.
    pub start_period: Duration,
    /// Between two checks during the start period, until one passes.
    pub start_interval: Duration,
    /// Consecutive failures that make the container unhealthy.
    pub retries: u32,
}

impl Timing {
    /// The timing of `config`, 0 meaning the default.
    pub fn of(config: &HealthConfig) -> Self {
        let or = |nanos: u64, default: Duration| {
            if nanos == 0 {
                default
            } else {
                Duration::from_nanos(nanos)
            }
        };
        Self {
            interval: or(config.interval, DEFAULT_INTERVAL),
            timeout: or(config.timeout, DEFAULT_TIMEOUT),
            start_period: Duration::from_nanos(config.start_period),
            start_interval: or(config.start_interval, DEFAULT_START_INTERVAL),
            retries: if config.retries == 0 {
                DEFAULT_RETRIES
            } else {
                config.retries
            },
        }
    }

    /// The wait before the next check, `since_start` after the container started: the start
    /// interval while the start period lasts and no check has passed, else the interval.
    pub fn next_interval(&self, since_start: Duration, status: HealthStatus) -> Duration {
        if since_start < self.start_period && status == HealthStatus::Starting {
            self.start_interval
        } else {
            self.interval
        }
    }
}

/// The command of a test: `CMD` runs its arguments, `CMD-SHELL` runs its string with
/// `/bin/sh -c`; None for `NONE`, an empty test or an unknown kind (nothing to run).
pub fn command(test: &[String]) -> Option<Vec<String>> {
    let (kind, rest) = test.split_first()?;
    match kind.as_str() {
        "CMD" if !rest.is_empty() => Some(rest.to_vec()),
        "CMD-SHELL" if !rest.is_empty() => {
            Some(vec!["/bin/sh".to_owned(), "-c".to_owned(), rest.join(" ")])
        }
        _ => None,
    }
}

/// The image config's `Healthcheck` (Docker's JSON: `Test`, durations in nanoseconds,
/// `Retries`); fields it lacks, or holds in another type, stay 0.
pub fn parse_image_config(value: &serde_json::Value) -> HealthConfig {
    let nanos = |key: &str| value[key].as_u64().unwrap_or(0);
    HealthConfig {
        test: value["Test"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| item.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        interval: nanos("Interval"),
        timeout: nanos("Timeout"),
        start_period: nanos("StartPeriod"),
        start_interval: nanos("StartInterval"),
        retries: u32::try_from(nanos("Retries")).unwrap_or(u32::MAX),
    }
}

/// Docker's JSON of a healthcheck (`inspect`'s `Config.Healthcheck`): zero fields left out.
pub fn docker_json(config: &HealthConfig) -> serde_json::Value {
    let mut object = serde_json::Map::new();
    object.insert("Test".to_owned(), serde_json::json!(config.test));
    let fields = [
        ("Interval", config.interval),
        ("Timeout", config.timeout),
        ("StartPeriod", config.start_period),
        ("StartInterval", config.start_interval),
        ("Retries", u64::from(config.retries)),
    ];
    for (key, value) in fields.into_iter().filter(|(_, value)| *value != 0) {
        object.insert(key.to_owned(), serde_json::json!(value));
    }
    serde_json::Value::Object(object)
}

/// A check's output as kept: at most [`HealthResult::OUTPUT_LIMIT`] bytes, cut on a
/// character boundary.
pub fn kept_output(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut end = text.len().min(HealthResult::OUTPUT_LIMIT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// The result of a check killed at its timeout (Docker's exit code and words).
pub fn timed_out(start: DateTime<Utc>, end: DateTime<Utc>, timing: &Timing) -> HealthResult {
    let nanos = i64::try_from(timing.timeout.as_nanos()).unwrap_or(i64::MAX);
    HealthResult {
        start,
        end,
        exit_code: -1,
        output: format!(
            "Health check exceeded timeout ({})",
            util::human::go_duration(nanos)
        ),
    }
}

/// Applies one result to `health`: a pass makes it healthy; a failure counts unless no
/// check has passed yet and the start period lasts (`since_start`: from the container's
/// start to the check's), and `retries` failures in a row make it unhealthy. The log keeps
/// the last [`Health::LOG_LENGTH`] results.
pub fn apply(health: &mut Health, result: HealthResult, timing: &Timing, since_start: Duration) {
    if result.exit_code == 0 {
        health.failing_streak = 0;
        health.status = HealthStatus::Healthy;
    } else if !(health.status == HealthStatus::Starting && since_start < timing.start_period) {
        health.failing_streak += 1;
        if health.failing_streak >= timing.retries {
            health.status = HealthStatus::Unhealthy;
        }
    }
    health.log.push(result);
    let excess = health.log.len().saturating_sub(Health::LOG_LENGTH);
    health.log.drain(..excess);
}

/// When the monitor runs the next check: Docker's timer, started at the container's start
/// and re-armed when a check ends.
#[derive(Debug, Clone)]
pub struct Schedule {
    timing: Timing,
    started: Instant,
    next: Instant,
}

impl Schedule {
    /// The schedule of a run that started at `started`.
    pub fn new(timing: Timing, started: Instant) -> Self {
        let next = started + timing.next_interval(Duration::ZERO, HealthStatus::Starting);
        Self {
            timing,
            started,
            next,
        }
    }

    /// The timing it follows.
    pub fn timing(&self) -> &Timing {
        &self.timing
    }

    /// How long the container had run at `at`.
    pub fn since_start(&self, at: Instant) -> Duration {
        at.saturating_duration_since(self.started)
    }

    /// Whether a check is due at `now`.
    pub fn due(&self, now: Instant) -> bool {
        now >= self.next
    }

    /// A check ended at `now`, leaving the container `status`: the next one is an interval
    /// away.
    pub fn checked(&mut self, now: Instant, status: HealthStatus) {
        self.next = now + self.timing.next_interval(self.since_start(now), status);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(retries: u32, start_period: u64) -> Timing {
        Timing::of(&HealthConfig {
            test: vec!["CMD".to_owned(), "true".to_owned()],
            interval: 1_000_000_000,
            retries,
            start_period: start_period * 1_000_000_000,
            ..HealthConfig::default()
        })
    }

    fn result(exit_code: i32) -> HealthResult {
        HealthResult {
            start: Utc::now(),
            end: Utc::now(),
            exit_code,
            output: String::new(),
        }
    }

    const LATER: Duration = Duration::from_secs(100);

    #[test]
    fn defaults_are_dockers() {
        let timing = Timing::of(&HealthConfig::default());
        assert_eq!(timing.interval, Duration::from_secs(30));
        assert_eq!(timing.timeout, Duration::from_secs(30));
        assert_eq!(timing.start_period, Duration::ZERO);
        assert_eq!(timing.start_interval, Duration::from_secs(5));
        assert_eq!(timing.retries, 3);
    }

    #[test]
    fn failures_in_a_row_make_it_unhealthy_and_a_pass_heals_it() {
        let timing = timing(2, 0);
        let mut health = Health::starting();
        apply(&mut health, result(1), &timing, LATER);
        assert_eq!(
            (health.status, health.failing_streak),
            (HealthStatus::Starting, 1)
        );
        apply(&mut health, result(1), &timing, LATER);
        assert_eq!(
            (health.status, health.failing_streak),
            (HealthStatus::Unhealthy, 2)
        );
        apply(&mut health, result(0), &timing, LATER);
        assert_eq!(
            (health.status, health.failing_streak),
            (HealthStatus::Healthy, 0)
        );
        // A healthy container stays healthy until `retries` failures.
        apply(&mut health, result(2), &timing, LATER);
        assert_eq!(
            (health.status, health.failing_streak),
            (HealthStatus::Healthy, 1)
        );
        apply(&mut health, result(-1), &timing, LATER);
        assert_eq!(health.status, HealthStatus::Unhealthy);
    }

    #[test]
    fn failures_in_the_start_period_do_not_count_until_a_pass() {
        let timing = timing(1, 10);
        let mut health = Health::starting();
        apply(&mut health, result(1), &timing, Duration::from_secs(3));
        assert_eq!(
            (health.status, health.failing_streak),
            (HealthStatus::Starting, 0)
        );
        apply(&mut health, result(0), &timing, Duration::from_secs(4));
        assert_eq!(health.status, HealthStatus::Healthy);
        // Once a check passed, the start period no longer shields failures.
        apply(&mut health, result(1), &timing, Duration::from_secs(5));
        assert_eq!(health.status, HealthStatus::Unhealthy);
        // After the start period, failures count from the start.
        let mut health = Health::starting();
        apply(&mut health, result(1), &timing, Duration::from_secs(11));
        assert_eq!(health.status, HealthStatus::Unhealthy);
    }

    #[test]
    fn the_log_keeps_the_last_five() {
        let timing = timing(3, 0);
        let mut health = Health::starting();
        for code in 0..7 {
            apply(&mut health, result(code), &timing, LATER);
        }
        let codes: Vec<i32> = health.log.iter().map(|r| r.exit_code).collect();
        assert_eq!(codes, [2, 3, 4, 5, 6]);
    }

    #[test]
    fn the_start_interval_applies_in_the_start_period_until_a_pass() {
        let timing = Timing {
            start_period: Duration::from_secs(60),
            ..timing(3, 0)
        };
        let starting = HealthStatus::Starting;
        assert_eq!(
            timing.next_interval(Duration::from_secs(1), starting),
            Duration::from_secs(5)
        );
        assert_eq!(
            timing.next_interval(Duration::from_secs(1), HealthStatus::Healthy),
            Duration::from_secs(1)
        );
        assert_eq!(
            timing.next_interval(Duration::from_secs(61), starting),
            Duration::from_secs(1)
        );
        let started = Instant::now();
        let mut schedule = Schedule::new(timing, started);
        assert!(!schedule.due(started + Duration::from_secs(4)));
        assert!(schedule.due(started + Duration::from_secs(5)));
        schedule.checked(started + Duration::from_secs(5), HealthStatus::Healthy);
        assert!(!schedule.due(started + Duration::from_millis(5_999)));
        assert!(schedule.due(started + Duration::from_secs(6)));
    }

    #[test]
    fn without_a_start_period_the_first_check_is_an_interval_away() {
        let started = Instant::now();
        let schedule = Schedule::new(timing(3, 0), started);
        assert!(!schedule.due(started + Duration::from_millis(999)));
        assert!(schedule.due(started + Duration::from_secs(1)));
    }

    #[test]
    fn commands_of_tests() {
        let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            command(&strings(&["CMD", "curl", "-f", "x"])),
            Some(strings(&["curl", "-f", "x"]))
        );
        assert_eq!(
            command(&strings(&["CMD-SHELL", "test -f /ok || exit 1"])),
            Some(strings(&["/bin/sh", "-c", "test -f /ok || exit 1"]))
        );
        assert_eq!(command(&strings(&["NONE"])), None);
        assert_eq!(command(&strings(&["CMD"])), None);
        assert_eq!(command(&[]), None);
    }

    #[test]
    fn output_is_cut_at_4_kib_on_a_character_boundary() {
        assert_eq!(kept_output(b"ok\n"), "ok\n");
        let long = "é".repeat(3000);
        let kept = kept_output(long.as_bytes());
        assert!(kept.len() <= 4096 && kept.len() >= 4095, "{}", kept.len());
        assert!(kept.chars().all(|c| c == 'é'));
    }

    #[test]
    fn a_timeout_says_so_as_docker_does() {
        let now = Utc::now();
        let result = timed_out(now, now, &timing(3, 0));
        assert_eq!(result.exit_code, -1);
        assert_eq!(result.output, "Health check exceeded timeout (30s)");
    }

    #[test]
    fn image_configs_round_trip_through_dockers_json() {
        let value = serde_json::json!({
            "Test": ["CMD-SHELL", "true"], "Interval": 1_000_000_000_u64, "Retries": 2
        });
        let config = parse_image_config(&value);
        assert_eq!(config.test, ["CMD-SHELL", "true"]);
        assert_eq!(
            (config.interval, config.timeout, config.retries),
            (1_000_000_000, 0, 2)
        );
        assert_eq!(docker_json(&config), value);
    }

    #[test]
    fn container_settings_merge_over_the_images_field_by_field() {
        let image = HealthConfig {
            test: vec!["CMD-SHELL".to_owned(), "true".to_owned()],
            interval: 5,
            retries: 7,
            ..HealthConfig::default()
        };
        let flags = HealthConfig {
            interval: 9,
            ..HealthConfig::default()
        };
        let merged = flags.merged_over(&image);
        assert_eq!(merged.test, image.test);
        assert_eq!((merged.interval, merged.retries), (9, 7));
        assert!(merged.enabled());
        let none = HealthConfig {
            test: vec!["NONE".to_owned()],
            ..HealthConfig::default()
        };
        assert!(!none.merged_over(&image).enabled());
    }
}
