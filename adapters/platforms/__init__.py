"""Adapter package: platforms."""
