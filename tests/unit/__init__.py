"""Unit tests: domain logic without any cloud."""
