"""One sub-package per peer; code that speaks a peer's protocol lives only there."""
