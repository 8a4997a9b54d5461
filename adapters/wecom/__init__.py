"""WeCom group robot: markdown posts with errcode-aware, typed errors."""
