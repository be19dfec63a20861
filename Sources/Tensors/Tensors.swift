// Tensors module — see docs/architecture.md.
