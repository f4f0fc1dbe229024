"""The session: one user's updates turned into replies, by area (see router.py for how a
command or a button reaches its controller, and docs/contributing.md for adding one)."""

from actors.session._actor import COMMANDS, SessionActor, SessionActorProxy
from actors.session.context import Context, DiscoveryDeps, SessionDeps
from actors.session.router import Command, help_text, menu

__all__ = [
    "COMMANDS",
    "Command",
    "Context",
    "DiscoveryDeps",
    "SessionActor",
    "SessionActorProxy",
    "SessionDeps",
    "help_text",
    "menu",
]
