// Model module — see docs/architecture.md.
