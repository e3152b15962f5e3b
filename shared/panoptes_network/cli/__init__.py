"""Command-line entry points behind bin/ (edge code: they may use cloud clients)."""
