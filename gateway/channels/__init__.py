"""Channels glue: SMS/WeChat inbound, order dispatch by SMS/WeCom, delivery receipts."""
