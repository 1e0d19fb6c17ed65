//! Search and pagination of node lists (the Slaves page, the home page's excerpt, and
//! `GET /api/v1/nodes?q=&offset=&limit=`).
//!
//! A search term matches, case-insensitively, a node's id, host name, status (in English
//! or the page's language), host line (OS, kernel, architecture) or agent version.

use serde::Deserialize;

use crate::i18n::Messages;
use crate::pages::NodeRow;

/// Rows per page of the Slaves page.
pub const PER_PAGE: usize = 50;
/// Rows of the home page's excerpt.
pub const HOME_ROWS: usize = 20;
/// Longest search term kept.
pub const MAX_QUERY: usize = 100;

/// Query parameters of a list page (empty values mean none).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ListParams {
    /// Search term.
    pub q: Option<String>,
    /// Page number, 1-based.
    pub page: Option<String>,
}

impl ListParams {
    /// The search term, trimmed and bounded.
    pub fn query(&self) -> String {
        self.q
            .as_deref()
            .unwrap_or_default()
            .trim()
            .chars()
            .take(MAX_QUERY)
            .collect()
    }

    /// The page asked for (1 when absent or malformed).
    pub fn page(&self) -> usize {
        self.page
            .as_deref()
            .and_then(|p| p.trim().parse::<usize>().ok())
            .filter(|p| *p >= 1)
            .unwrap_or(1)
    }
}

/// Whether `row` matches `term` (already lower-cased; empty matches everything).
pub fn row_matches(row: &NodeRow, term: &str, t: &Messages) -> bool {
    if term.is_empty() {
        return true;
    }
    let has = |text: &str| text.to_lowercase().contains(term);
    row.id.to_string() == term
        || has(&row.hostname)
        || has(row.status)
        || has(t.status(row.status))
        || has(&row.host_line)
        || has(&row.agent_version)
}

/// One page of a filtered list, and the links around it.
#[derive(Debug, Clone, Default)]
pub struct Pager {
    /// The search term as typed (echoed into the form).
    pub q: String,
    /// Current page, 1-based.
    pub page: usize,
    /// Number of pages (at least 1).
    pub pages: usize,
    /// Rows matching the search.
    pub total: usize,
    /// `1–50 of 120`, localized; empty when nothing matched.
    pub status: String,
    /// Query string of the previous page, empty on the first.
    pub prev: String,
    /// Query string of the next page, empty on the last.
    pub next: String,
}

impl Pager {
    /// Filters `rows` by `params`, cuts out the page of `per_page` rows and returns it with
    /// the pager.
    pub fn paginate(
        rows: Vec<NodeRow>,
        params: &ListParams,
        per_page: usize,
        t: &Messages,
    ) -> (Vec<NodeRow>, Pager) {
        let q = params.query();
        let term = q.to_lowercase();
        let matching: Vec<NodeRow> = rows
            .into_iter()
            .filter(|r| row_matches(r, &term, t))
            .collect();
        let total = matching.len();
        let per_page = per_page.max(1);
        let pages = total.div_ceil(per_page).max(1);
        let page = params.page().min(pages);
        let start = (page - 1) * per_page;
        let shown: Vec<NodeRow> = matching.into_iter().skip(start).take(per_page).collect();
        let status = if shown.is_empty() {
            String::new()
        } else {
            t.page_status
                .replace("{from}", &(start + 1).to_string())
                .replace("{to}", &(start + shown.len()).to_string())
                .replace("{total}", &total.to_string())
        };
        let link = |p: usize| {
            let mut pairs: Vec<(&str, String)> = Vec::new();
            if !q.is_empty() {
                pairs.push(("q", q.clone()));
            }
            pairs.push(("page", p.to_string()));
            serde_urlencoded::to_string(&pairs).unwrap_or_default()
        };
        let pager = Pager {
            prev: if page > 1 {
                link(page - 1)
            } else {
                String::new()
            },
            next: if page < pages {
                link(page + 1)
            } else {
                String::new()
            },
            q,
            page,
            pages,
            total,
            status,
        };
        (shown, pager)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{EN, ZH_CN};

    fn row(id: u64, hostname: &str, status: &'static str) -> NodeRow {
        NodeRow {
            id,
            hostname: hostname.into(),
            status,
            last_seen: String::new(),
            last_seen_abs: String::new(),
            agent_version: "0.1.0".into(),
            cpu: String::new(),
            memory: String::new(),
            load: String::new(),
            tcp: String::new(),
            host_line: "Debian · kernel 6.1".into(),
            docker: None,
        }
    }

    fn params(q: &str, page: &str) -> ListParams {
        ListParams {
            q: Some(q.into()),
            page: Some(page.into()),
        }
    }

    #[test]
    fn search_matches_fields_and_localized_status() {
        let r = row(12, "Web-01", "offline");
        assert!(row_matches(&r, "web", &EN));
        assert!(row_matches(&r, "12", &EN));
        assert!(!row_matches(&r, "2", &EN), "ids match whole");
        assert!(row_matches(&r, "offline", &EN));
        assert!(row_matches(&r, "离线", &ZH_CN));
        assert!(row_matches(&r, "debian", &EN));
        assert!(!row_matches(&r, "db", &EN));
        assert!(row_matches(&r, "", &EN));
    }

    #[test]
    fn pages_are_cut_and_linked() {
        let rows: Vec<NodeRow> = (1..=120)
            .map(|i| row(i, &format!("h{i}"), "online"))
            .collect();
        let (shown, p) = Pager::paginate(rows.clone(), &params("", "2"), 50, &EN);
        assert_eq!(
            (shown.len(), shown[0].id, p.pages, p.total),
            (50, 51, 3, 120)
        );
        assert_eq!(p.status, "51–100 of 120");
        assert_eq!((p.prev.as_str(), p.next.as_str()), ("page=1", "page=3"));
        let (shown, p) = Pager::paginate(rows.clone(), &params("", "99"), 50, &EN);
        assert_eq!((shown.len(), p.page, p.next.as_str()), (20, 3, ""));
        let (shown, p) = Pager::paginate(rows.clone(), &params("h11", "x"), 50, &EN);
        assert_eq!(shown.len(), 11, "h11 and h110..=h119");
        assert_eq!((p.page, p.prev.as_str(), p.next.as_str()), (1, "", ""));
        let (shown, p) = Pager::paginate(rows, &params("nothing", "1"), 50, &ZH_CN);
        assert!(shown.is_empty() && p.status.is_empty() && p.pages == 1);
        let (_, p) = Pager::paginate(
            (1..=3).map(|i| row(i, "a b", "online")).collect(),
            &params("a b", "1"),
            2,
            &ZH_CN,
        );
        assert_eq!(p.next, "q=a+b&page=2");
        assert_eq!(p.status, "第 1–2 条，共 3 条");
    }
}
