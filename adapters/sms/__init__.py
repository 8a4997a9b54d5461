"""Adapter package: sms."""
