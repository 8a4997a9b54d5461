"""Adapter package: wechat."""
