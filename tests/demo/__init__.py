"""The demo: its web page in a real browser, seeded profiles, /stats, and the command."""
