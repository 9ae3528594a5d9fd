//! The crawl pipeline.
