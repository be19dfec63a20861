// Sockets module — see docs/architecture.md.
