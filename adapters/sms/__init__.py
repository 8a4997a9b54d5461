"""SMS through Twilio: signatures, sending with typed errors, TwiML, length counting."""
