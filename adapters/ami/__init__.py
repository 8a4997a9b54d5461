"""Adapter package: ami."""
