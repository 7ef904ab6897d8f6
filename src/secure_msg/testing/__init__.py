"""Test and dev helpers shipped in the package (the local Twilio-compatible server)."""
