//! Store benchmarks (filled in by a later commit).

fn main() {}
