"""ris-tui: a keyboard-driven terminal UI over the ris engine (works over SSH)."""
