"""Integration tests against the local emulator stack."""
