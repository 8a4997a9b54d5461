"""Supervision: evidence of every fact Lishui's deduction standard scores, and reports."""
