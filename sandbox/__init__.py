"""A local Telegram Bot API server for end-to-end tests, benchmarks and the demo page.

``sandbox.server.SandboxServer`` runs it, ``sandbox.client.SandboxClient`` drives its virtual
users; ``python -m sandbox`` runs it standalone. See docs/sandbox.md.
"""
