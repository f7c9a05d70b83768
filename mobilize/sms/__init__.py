"""SMS: the gateway interface, Twilio, and the Twilio-compatible simulator."""
