"""Sending and receiving over plain channels: SMS (Twilio), inbound parsing, segments."""
