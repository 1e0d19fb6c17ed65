//! What people read in a notification: a title and a few lines in English with a Chinese
//! line, as plain text (email, WeCom text, Feishu) or markdown (DingTalk, WeCom). Pure.

use model::alert::{Notification, NotificationStatus};

/// `[FIRING] rule on node` / `[RESOLVED] ...`.
pub fn title(n: &Notification) -> String {
    let tag = match n.status {
        NotificationStatus::Firing => "[FIRING]",
        NotificationStatus::Resolved => "[RESOLVED]",
    };
    match node(n) {
        Some(node) => format!("{tag} {} on {node}", n.rule),
        None => format!("{tag} {}", n.rule),
    }
}

/// The Chinese title: `【告警】rule（node）` / `【已恢复】...`.
pub fn title_zh(n: &Notification) -> String {
    let tag = match n.status {
        NotificationStatus::Firing => "【告警】",
        NotificationStatus::Resolved => "【已恢复】",
    };
    match node(n) {
        Some(node) => format!("{tag}{}（{node}）", n.rule),
        None => format!("{tag}{}", n.rule),
    }
}

fn node(n: &Notification) -> Option<String> {
    match (n.node, n.node_name.is_empty()) {
        (Some(id), false) => Some(format!("{} (#{id})", n.node_name)),
        (Some(id), true) => Some(format!("node {id}")),
        (None, false) => Some(n.node_name.clone()),
        (None, true) => None,
    }
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// `(label, label_zh, value)` of each detail present.
fn details(n: &Notification) -> Vec<(&'static str, &'static str, String)> {
    let mut out = vec![("Severity", "级别", n.severity.clone())];
    if let Some(node) = node(n) {
        out.push(("Node", "节点", node));
    }
    if !n.metric.is_empty() {
        out.push(("Metric", "指标", n.metric.clone()));
    }
    if let Some(v) = n.value {
        out.push(("Value", "数值", number(v)));
    }
    if let Some(t) = n.threshold {
        out.push(("Threshold", "阈值", number(t)));
    }
    out.push(("Started", "开始时间", rfc3339(n.started_at)));
    if let Some(end) = n.ended_at {
        out.push(("Resolved", "恢复时间", rfc3339(end)));
    }
    out
}

/// Plain text: the title, the summary, one line per detail, then the same in Chinese.
pub fn text(n: &Notification) -> String {
    let mut out = format!("{}\n", title(n));
    if !n.summary.is_empty() {
        out.push_str(&format!("{}\n", n.summary));
    }
    let details = details(n);
    for (label, _, value) in &details {
        out.push_str(&format!("{label}: {value}\n"));
    }
    out.push_str(&format!("\n{}\n", title_zh(n)));
    for (_, label, value) in &details {
        out.push_str(&format!("{label}：{value}\n"));
    }
    out
}

/// Markdown: a heading, the summary and a list of details, then the Chinese heading.
pub fn markdown(n: &Notification) -> String {
    let mut out = format!("### {}\n\n", title(n));
    if !n.summary.is_empty() {
        out.push_str(&format!("{}\n\n", n.summary));
    }
    let details = details(n);
    for (label, _, value) in &details {
        out.push_str(&format!("- **{label}:** {value}\n"));
    }
    out.push_str(&format!("\n### {}\n\n", title_zh(n)));
    for (_, label, value) in &details {
        out.push_str(&format!("- **{label}：** {value}\n"));
    }
    out
}

/// Unix ms as `YYYY-MM-DDTHH:MM:SSZ` (UTC).
pub fn rfc3339(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn firing() -> Notification {
        Notification {
            status: NotificationStatus::Firing,
            alert_id: 7,
            rule: "cpu-high".into(),
            severity: "warning".into(),
            node: Some(3),
            node_name: "web-1".into(),
            metric: "cpu_total_pct".into(),
            value: Some(93.125),
            threshold: Some(90.0),
            started_at: 1_700_000_000_000,
            ended_at: None,
            summary: "cpu_total_pct 93.1 > 90 for 120 s on web-1".into(),
        }
    }

    #[test]
    fn times_are_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn firing_and_resolved_read_differently() {
        let n = firing();
        assert_eq!(title(&n), "[FIRING] cpu-high on web-1 (#3)");
        let t = text(&n);
        assert!(t.contains("Value: 93.12\n"), "{t}");
        assert!(t.contains("Threshold: 90\n"), "{t}");
        assert!(t.contains("Started: 2023-11-14T22:13:20Z"), "{t}");
        assert!(t.contains("【告警】cpu-high（web-1 (#3)）"), "{t}");
        assert!(!t.contains("Resolved:"), "{t}");
        let mut r = firing();
        r.status = NotificationStatus::Resolved;
        r.ended_at = Some(1_700_000_060_000);
        assert!(title(&r).starts_with("[RESOLVED]"));
        let m = markdown(&r);
        assert!(m.starts_with("### [RESOLVED] cpu-high"), "{m}");
        assert!(m.contains("- **Resolved:** 2023-11-14T22:14:20Z"), "{m}");
        assert!(m.contains("【已恢复】"), "{m}");
    }

    #[test]
    fn an_event_without_node_or_metric_has_no_such_lines() {
        let mut n = firing();
        n.node = None;
        n.node_name.clear();
        n.metric.clear();
        n.value = None;
        n.threshold = None;
        assert_eq!(title(&n), "[FIRING] cpu-high");
        let t = text(&n);
        assert!(
            !t.contains("Node") && !t.contains("Metric") && !t.contains("Value"),
            "{t}"
        );
    }
}
