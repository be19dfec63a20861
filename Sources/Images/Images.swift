// Images module — see docs/architecture.md.
