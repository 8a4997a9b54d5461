"""Operator tools: `linkgate status`, `linkgate orders watch`."""
