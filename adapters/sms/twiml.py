"""TwiML answers to an inbound SMS (a reply text, or nothing)."""

from __future__ import annotations

from twilio.twiml.messaging_response import MessagingResponse

CONTENT_TYPE = "application/xml"


def reply(text: str | None) -> str:
    """`<Response><Message>text</Message></Response>`, or an empty `<Response/>`."""
    resp = MessagingResponse()
    if text:
        resp.message(text)
    return str(resp.to_xml())
