//! The frame of every page: head (viewport, stylesheet), navigation, notice, footer.

use maud::{DOCTYPE, Markup, html};

use super::Viewer;
use crate::auth::Access;

/// A whole page around `body`. `notice`: a fixed message shown above it (after a redirect).
pub(crate) fn page(viewer: &Viewer, title: &str, notice: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " · BitAgent" }
                link rel="stylesheet" href="/assets/style.css";
                link rel="icon" href="data:,";
            }
            body {
                header.top {
                    a.brand href="/" { "BitAgent" }
                    nav {
                        a href="/" { "Search" }
                        a href="/dashboard" { "Dashboard" }
                        @if viewer.saved_enabled {
                            a href="/saved" { "Saved" }
                        }
                        @match &viewer.access {
                            Access::Session(_) => {
                                form.inline method="post" action="/logout" {
                                    input type="hidden" name="csrf" value=(viewer.csrf.as_deref().unwrap_or(""));
                                    button.link type="submit" { "Log out" }
                                }
                            }
                            Access::Key => span.muted { "API key" },
                            Access::Anonymous => a href="/login" { "Log in" },
                        }
                    }
                }
                main {
                    @if let Some(n) = notice {
                        p.notice role="status" { (n) }
                    }
                    (body)
                }
                footer {
                    "BitAgent · names come from strangers on the internet and are shown as text"
                }
            }
        }
    }
}

/// A titled message (errors, empty states).
pub(crate) fn message(title: &str, text: &str) -> Markup {
    html! {
        h1 { (title) }
        p.error role="alert" { (text) }
        p { a href="/" { "Back to search" } }
    }
}
