// Serving module — see docs/architecture.md.
