//! Prometheus metrics, exposed as text at `/metrics`.
//!
//! A handful of counters and histograms do not justify a metrics framework and its dependency
//! tree: this module keeps them in maps behind a mutex (updates are a few per request) and
//! renders the text exposition format (version 0.0.4) by hand. Label values are our own
//! identifiers (routes, primitives, codes), never request data, so the series stay bounded and
//! no personal datum can leak into them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use channel_api::{PaymentState, Timestamp};

use crate::store::{OutboxStats, WriteCounts};

/// Histogram bucket upper bounds, in seconds. The Nodo may take more than 7 s (it waits that long
/// for the creditor), so the buckets reach 30 s.
const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 7.0, 15.0, 30.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, d: Duration) {
        let s = d.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if s <= *b {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += s;
    }
}

#[derive(Debug, Default)]
struct Inner {
    http_requests: BTreeMap<(String, &'static str, u16), u64>,
    http_duration: BTreeMap<String, Histogram>,
    nodo_calls: BTreeMap<(&'static str, &'static str), u64>,
    nodo_duration: BTreeMap<&'static str, Histogram>,
    auth_failures: BTreeMap<&'static str, u64>,
    outbox_results: BTreeMap<&'static str, u64>,
}

/// What the store says at the moment of a scrape.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot<'a> {
    /// Payments per state (states with none may be omitted).
    pub payments: &'a [(PaymentState, u64)],
    /// The outbox.
    pub outbox: &'a OutboxStats,
    /// When.
    pub now: Timestamp,
    /// How the store's writes were grouped so far.
    pub store: WriteCounts,
}

/// The adapter's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

/// Escape a label value per the exposition format.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn write_histogram(out: &mut String, name: &str, labels: &str, h: &Histogram) {
    let sep = if labels.is_empty() { "" } else { "," };
    for (b, c) in BUCKETS.iter().zip(h.counts) {
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {c}");
    }
    let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", h.count);
    let _ = writeln!(out, "{name}_sum{{{labels}}} {}", h.sum);
    let _ = writeln!(out, "{name}_count{{{labels}}} {}", h.count);
}

impl Metrics {
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        f(&mut self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// One HTTP request answered. `route` is the matched route template, not the raw path.
    pub fn http_request(&self, route: &str, method: &'static str, status: u16, took: Duration) {
        self.with(|m| {
            *m.http_requests
                .entry((route.to_owned(), method, status))
                .or_default() += 1;
            m.http_duration
                .entry(route.to_owned())
                .or_default()
                .observe(took);
        });
    }

    /// One Nodo call finished with `result` (a journal result value).
    pub fn nodo_call(&self, soap_action: &'static str, result: &'static str, took: Duration) {
        self.with(|m| {
            *m.nodo_calls.entry((soap_action, result)).or_default() += 1;
            m.nodo_duration
                .entry(soap_action)
                .or_default()
                .observe(took);
        });
    }

    /// One outbox delivery attempt ended with `action` (a `pagopa::fault::Action` code).
    pub fn outbox_result(&self, action: &'static str) {
        self.with(|m| *m.outbox_results.entry(action).or_default() += 1);
    }

    /// One request refused by authentication, with the error code.
    pub fn auth_failure(&self, code: &'static str) {
        self.with(|m| *m.auth_failures.entry(code).or_default() += 1);
    }

    /// The exposition text, with the store's figures read at `snapshot.now`.
    pub fn render(&self, snapshot: &Snapshot<'_>) -> String {
        let Snapshot {
            payments,
            outbox,
            now,
            store,
        } = *snapshot;
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP channel_adapter_build_info Version of the running adapter.\n");
        out.push_str("# TYPE channel_adapter_build_info gauge\n");
        let _ = writeln!(
            out,
            "channel_adapter_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        out.push_str("# HELP channel_adapter_payments Payments per state; exception states (late_accepted, refund_due, needs_attention) need an operator.\n");
        out.push_str("# TYPE channel_adapter_payments gauge\n");
        for state in PaymentState::ALL {
            let n = payments
                .iter()
                .find(|(s, _)| *s == state)
                .map_or(0, |(_, n)| *n);
            let _ = writeln!(
                out,
                "channel_adapter_payments{{state=\"{}\"}} {n}",
                state.as_str()
            );
        }
        let gauge = |out: &mut String, name: &str, help: &str, v: String| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} gauge");
            let _ = writeln!(out, "{name} {v}");
        };
        gauge(
            &mut out,
            "channel_adapter_outbox_pending",
            "Outcomes (and offline payments) owed to the Nodo, not yet answered.",
            outbox.pending.to_string(),
        );
        gauge(
            &mut out,
            "channel_adapter_outbox_overdue",
            "Pending entries past the SANP back-off, retried at the capped interval: investigate.",
            outbox.overdue.to_string(),
        );
        gauge(
            &mut out,
            "channel_adapter_outbox_parked",
            "Entries waiting for an operator (channel-adapter outbox list / reset).",
            outbox.parked.to_string(),
        );
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {v}");
        };
        counter(
            &mut out,
            "channel_adapter_store_writes_total",
            "Writes to the store (grouped into transactions).",
            store.writes,
        );
        counter(
            &mut out,
            "channel_adapter_store_commits_total",
            "Transactions committed by the store's writer.",
            store.commits,
        );
        counter(
            &mut out,
            "channel_adapter_store_flushes_total",
            "Flushes of the write-ahead log to the disk (each covers every commit before it).",
            store.flushes,
        );
        let age = outbox
            .oldest_pending_at
            .map_or(0.0, |t| now.millis_since(t).max(0) as f64 / 1000.0);
        gauge(
            &mut out,
            "channel_adapter_outbox_oldest_pending_age_seconds",
            "Age of the oldest pending entry (0 when none): the SANP wants outcomes within 2 s.",
            age.to_string(),
        );
        self.with(|m| {
            out.push_str("# HELP channel_adapter_outbox_results_total Outbox attempts by the classification of the Nodo's answer.\n");
            out.push_str("# TYPE channel_adapter_outbox_results_total counter\n");
            for (action, n) in &m.outbox_results {
                let _ = writeln!(out, "channel_adapter_outbox_results_total{{action=\"{action}\"}} {n}");
            }
            out.push_str("# HELP channel_adapter_http_requests_total Device API requests answered.\n");
            out.push_str("# TYPE channel_adapter_http_requests_total counter\n");
            for ((route, method, status), n) in &m.http_requests {
                let _ = writeln!(
                    out,
                    "channel_adapter_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}",
                    label(route)
                );
            }
            out.push_str("# HELP channel_adapter_http_request_duration_seconds Device API request latency.\n");
            out.push_str("# TYPE channel_adapter_http_request_duration_seconds histogram\n");
            for (route, h) in &m.http_duration {
                let labels = format!("route=\"{}\"", label(route));
                write_histogram(&mut out, "channel_adapter_http_request_duration_seconds", &labels, h);
            }
            out.push_str("# HELP channel_adapter_nodo_calls_total Calls to the Nodo by primitive and result.\n");
            out.push_str("# TYPE channel_adapter_nodo_calls_total counter\n");
            for ((p, r), n) in &m.nodo_calls {
                let _ = writeln!(
                    out,
                    "channel_adapter_nodo_calls_total{{primitive=\"{p}\",result=\"{r}\"}} {n}"
                );
            }
            out.push_str("# HELP channel_adapter_nodo_call_duration_seconds Nodo call latency.\n");
            out.push_str("# TYPE channel_adapter_nodo_call_duration_seconds histogram\n");
            for (p, h) in &m.nodo_duration {
                let labels = format!("primitive=\"{p}\"");
                write_histogram(&mut out, "channel_adapter_nodo_call_duration_seconds", &labels, h);
            }
            out.push_str("# HELP channel_adapter_auth_failures_total Requests refused by device authentication.\n");
            out.push_str("# TYPE channel_adapter_auth_failures_total counter\n");
            for (code, n) in &m.auth_failures {
                let _ = writeln!(out, "channel_adapter_auth_failures_total{{code=\"{code}\"}} {n}");
            }
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_state_gauges() {
        let m = Metrics::default();
        m.http_request("/v1/payments/{id}", "GET", 200, Duration::from_millis(3));
        m.http_request("/v1/payments/{id}", "GET", 200, Duration::from_millis(300));
        m.nodo_call("verifyPaymentNotice", "ok", Duration::from_secs(8));
        m.auth_failure("INVALID_CREDENTIAL");
        m.outbox_result("REFUND");
        let outbox = OutboxStats {
            pending: 3,
            overdue: 1,
            parked: 2,
            oldest_pending_at: Some(Timestamp::from_unix_millis(1_000)),
        };
        let text = m.render(&Snapshot {
            payments: &[(PaymentState::RefundDue, 2)],
            outbox: &outbox,
            now: Timestamp::from_unix_millis(3_500),
            store: WriteCounts {
                writes: 25,
                commits: 10,
                flushes: 4,
            },
        });
        assert!(text.contains("channel_adapter_store_writes_total 25\n"));
        assert!(text.contains("channel_adapter_store_commits_total 10\n"));
        assert!(text.contains("channel_adapter_store_flushes_total 4\n"));
        assert!(text.contains("channel_adapter_outbox_pending 3\n"));
        assert!(text.contains("channel_adapter_outbox_overdue 1\n"));
        assert!(text.contains("channel_adapter_outbox_parked 2\n"));
        assert!(text.contains("channel_adapter_outbox_oldest_pending_age_seconds 2.5\n"));
        assert!(text.contains("channel_adapter_outbox_results_total{action=\"REFUND\"} 1"));
        assert!(text.contains(
            "channel_adapter_http_requests_total{route=\"/v1/payments/{id}\",method=\"GET\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "channel_adapter_http_request_duration_seconds_bucket{route=\"/v1/payments/{id}\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "channel_adapter_http_request_duration_seconds_bucket{route=\"/v1/payments/{id}\",le=\"+Inf\"} 2"
        ));
        assert!(text.contains(
            "channel_adapter_nodo_call_duration_seconds_bucket{primitive=\"verifyPaymentNotice\",le=\"7\"} 0"
        ));
        assert!(text.contains(
            "channel_adapter_nodo_call_duration_seconds_bucket{primitive=\"verifyPaymentNotice\",le=\"15\"} 1"
        ));
        assert!(text.contains("channel_adapter_payments{state=\"refund_due\"} 2"));
        assert!(text.contains("channel_adapter_payments{state=\"active\"} 0"));
        assert!(
            text.contains("channel_adapter_auth_failures_total{code=\"INVALID_CREDENTIAL\"} 1")
        );
        // Every sample line is `name{labels} value` or `name value`.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().expect("value");
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
