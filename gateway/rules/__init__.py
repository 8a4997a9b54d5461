"""Default routing rules shipped with the gateway (data package)."""
