"""Command-line helpers; `python -m scripts.seed` among them (the shell scripts sit alongside)."""
