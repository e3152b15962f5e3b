"""Start, stop and inspect the local emulator stack (see stack.py)."""
