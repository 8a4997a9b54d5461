"""Tests of the Asterisk AMI adapter (against the real captures and the fake server)."""
