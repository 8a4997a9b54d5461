"""HTTP API: webhooks from peers and the authenticated API for centres and platforms."""
