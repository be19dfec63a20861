// POSIX module — see docs/architecture.md.
