//! CEL rules (filled in by the rules work).
