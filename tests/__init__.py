"""Tests: unit/ (no cloud), integration/ (the local emulator stack), benchmarks/."""
