//! `/dashboard`: the crawler's status (when one runs in this process), the store's size and
//! contents, and charts of the last hour drawn as inline SVG (no script).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use maud::{Markup, html};
use store::StoreStats;

use super::{format, layout};
use crate::{AppState, CrawlerStatus, HistoryPoint};

/// The charts' drawing box.
const CHART_W: u64 = 600;
const CHART_H: u64 = 120;

pub(super) async fn page(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let back = uri
        .path_and_query()
        .map_or("/dashboard", |p| p.as_str())
        .to_owned();
    let viewer = match super::gate(&state, &headers, &back) {
        Ok(v) => v,
        Err(redirect) => return *redirect,
    };
    let read = state
        .data()
        .read(|s| Ok((s.stats()?, s.counts_by_content_type()?)))
        .await;
    let (stats, by_type) = match read {
        Ok(v) => v,
        Err(e) => return super::error_page(&viewer, &e, &back),
    };
    let crawler = state.ops().crawler();
    let history = state.history();
    let every = state.0.options.history_every.as_secs_f64().max(0.001);
    let body = html! {
        h1 { "Dashboard" }
        @match &crawler {
            Some(c) => (crawler_section(c, &history, every)),
            None => section {
                h2 { "Crawler" }
                p.muted { "No crawler in this process (bitagent serve): the store is served as it is." }
            },
        }
        (store_section(&stats, &by_type, crawler.as_ref().and_then(|c| c.disk_budget)))
    };
    super::html(
        StatusCode::OK,
        &viewer,
        layout::page(&viewer, "Dashboard", None, body),
    )
}

fn crawler_section(c: &CrawlerStatus, history: &[HistoryPoint], every_secs: f64) -> Markup {
    let per_min = |sum: u64, points: usize| sum as f64 * 60.0 / (points as f64 * every_secs);
    let (persisted_rate, sampled_rate, basis) = if history.is_empty() {
        let mins = (c.uptime_secs as f64 / 60.0).max(1.0 / 60.0);
        (
            c.persisted as f64 / mins,
            c.sampled as f64 / mins,
            "since start",
        )
    } else {
        let p: u64 = history.iter().map(|h| h.persisted).sum();
        let s: u64 = history.iter().map(|h| h.sampled).sum();
        (
            per_min(p, history.len()),
            per_min(s, history.len()),
            "over the charted period",
        )
    };
    let [yes, no, unknown] = c.crawl_table;
    let persisted: Vec<u64> = history.iter().map(|h| h.persisted).collect();
    let sampled: Vec<u64> = history.iter().map(|h| h.sampled).collect();
    html! {
        section {
            h2 { "Crawler" }
            dl.facts.cols {
                dt { "Up for" } dd { (format::duration(c.uptime_secs)) }
                dt { "Routing table" } dd { (format::count(c.routing_table_nodes)) " nodes" }
                dt { "Crawl table" } dd {
                    (format::count(yes + no + unknown)) " nodes "
                    span.muted { "(BEP 51: " (format::count(yes)) " yes, " (format::count(no)) " no, " (format::count(unknown)) " unknown)" }
                }
                dt { "Sampling" } dd { @if c.sampling { "running" } @else { "not started" } }
                dt { "Sampled" } dd { (format::count(c.sampled)) " " span.muted { "(" (format::count(c.new_hashes)) " new)" } }
                dt { "Persisted" } dd { (format::count(c.persisted)) }
                dt { "Fetching" } dd { (format::count(c.fetching)) " " span.muted { "(" (format::count(c.queued)) " queued, " (format::count(c.failed)) " failed)" } }
                dt { "Rates" } dd {
                    (rate(persisted_rate)) " persisted/min, "
                    (rate(sampled_rate)) " sampled/min "
                    span.muted { "(" (basis) ")" }
                }
            }
            @if !c.fetch_outcomes.is_empty() {
                h3 { "Fetch outcomes" }
                div.table-wrap {
                    table.outcomes {
                        thead { tr { th scope="col" { "Cause" } th.num scope="col" { "Fetches" } } }
                        tbody {
                            @for (cause, n) in &c.fetch_outcomes {
                                tr { td { (cause.replace('_', " ")) } td.num { (format::count(*n)) } }
                            }
                        }
                    }
                }
            }
            h3 { "The last hour" }
            @if history.is_empty() {
                p.muted { "No points yet: the chart takes one every interval." }
            } @else {
                figure {
                    (bars(&persisted, "Torrents persisted per interval"))
                    figcaption { "Persisted per interval (max " (format::count(persisted.iter().copied().max().unwrap_or(0))) ")" }
                }
                figure {
                    (line(&sampled, "Infohashes sampled per interval"))
                    figcaption { "Sampled per interval (max " (format::count(sampled.iter().copied().max().unwrap_or(0))) ")" }
                }
            }
        }
    }
}

fn store_section(s: &StoreStats, by_type: &[(Option<String>, u64)], budget: Option<u64>) -> Markup {
    let used = s.db_bytes.saturating_add(s.wal_bytes);
    html! {
        section {
            h2 { "Store" }
            dl.facts.cols {
                dt { "Torrents" } dd { (format::count(s.torrents)) }
                dt { "Files" } dd { (format::count(s.files_total)) " " span.muted { "(" (format::count(s.file_rows)) " rows kept)" } }
                dt { "Scraped" } dd { (format::count(s.scraped)) }
                dt { "Blocked" } dd { (format::count(s.blocked)) }
                dt { "On disk" } dd {
                    (format::size(used))
                    @if let Some(b) = budget.filter(|b| *b > 0) {
                        " of " (format::size(b)) " budget (" (format!("{:.0}", used as f64 * 100.0 / b as f64)) "%) "
                        meter min="0" max=(b) value=(used.min(b)) high=(b / 10 * 9) { }
                    } @else {
                        " " span.muted { "(no disk budget set)" }
                    }
                }
                dt { "Database" } dd {
                    (format::size(s.db_bytes)) " + WAL " (format::size(s.wal_bytes))
                    " " span.muted { "(" (format::count(s.free_pages)) " free pages, schema v" (s.schema_version) ")" }
                }
            }
            @if !by_type.is_empty() {
                h3 { "By content type" }
                div.table-wrap {
                    table.types {
                        thead { tr { th scope="col" { "Type" } th.num scope="col" { "Torrents" } } }
                        tbody {
                            @for (t, n) in by_type {
                                tr {
                                    td {
                                        @match t {
                                            Some(t) => a href=(format!("/?type={}", { let mut e = String::new(); crate::links::percent_encode(t, &mut e); e })) { (t.replace('_', " ")) },
                                            None => span.muted { "unclassified" },
                                        }
                                    }
                                    td.num { (format::count(*n)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A rate: one decimal below 10, whole numbers (grouped) above.
fn rate(per_min: f64) -> String {
    if per_min < 10.0 {
        format!("{per_min:.1}")
    } else {
        format::count(per_min.round() as u64)
    }
}

/// A bar chart of `values` (oldest left), scaled to the largest.
fn bars(values: &[u64], label: &str) -> Markup {
    let max = values.iter().copied().max().unwrap_or(0).max(1);
    let n = values.len().max(1) as u64;
    let slot = CHART_W as f64 / n as f64;
    let w = (slot * 0.8).max(1.0);
    html! {
        svg.chart xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {CHART_W} {CHART_H}"))
            preserveAspectRatio="none" role="img" aria-label=(label) {
            title { (label) }
            line.axis x1="0" y1=(CHART_H) x2=(CHART_W) y2=(CHART_H) {}
            @for (i, v) in values.iter().enumerate() {
                @let h = (*v as f64 / max as f64 * (CHART_H - 4) as f64).max(if *v > 0 { 1.0 } else { 0.0 });
                rect.bar x=(format!("{:.1}", i as f64 * slot + (slot - w) / 2.0))
                    y=(format!("{:.1}", CHART_H as f64 - h)) width=(format!("{w:.1}"))
                    height=(format!("{h:.1}")) {
                    title { (v) }
                }
            }
        }
    }
}

/// A line chart of `values` (oldest left), scaled to the largest.
fn line(values: &[u64], label: &str) -> Markup {
    let max = values.iter().copied().max().unwrap_or(0).max(1);
    let step = if values.len() > 1 {
        CHART_W as f64 / (values.len() - 1) as f64
    } else {
        0.0
    };
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let y = CHART_H as f64 - 2.0 - *v as f64 / max as f64 * (CHART_H - 4) as f64;
            format!("{:.1},{y:.1}", i as f64 * step)
        })
        .collect();
    html! {
        svg.chart xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {CHART_W} {CHART_H}"))
            preserveAspectRatio="none" role="img" aria-label=(label) {
            title { (label) }
            line.axis x1="0" y1=(CHART_H) x2=(CHART_W) y2=(CHART_H) {}
            polyline.series fill="none" vector-effect="non-scaling-stroke" points=(points.join(" ")) {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_scale_to_their_box() {
        let svg = bars(&[0, 5, 10], "x").into_string();
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(svg.contains("height=\"116.0\""), "{svg}");
        let svg = line(&[0, 10], "x").into_string();
        assert!(svg.contains("points=\"0.0,118.0 600.0,2.0\""), "{svg}");
        assert!(!line(&[], "x").into_string().contains("NaN"));
        assert!(!bars(&[], "x").into_string().contains("NaN"));
    }
}
