"""The session's command table and button namespace: /help, the menu and routing all come
from the controllers' marks, with nothing named twice and nothing left without a handler."""

from __future__ import annotations

from typing import Any, cast

import pytest

from actors.session import COMMANDS, Context, SessionDeps, help_text, menu
from actors.session._actor import CONTROLLERS
from actors.session.router import CANCEL, Router, command
from actors.session.services import Services
from config.i18n import LANGUAGES, t
from presentation.buttons import Button
from presentation.callbacks import CALLBACK_DATA_MAX_BYTES, CallbackSigner

ADMIN_COMMANDS = {"stats", "reports", "ban", "unban", "verifications"}
# The longest user id Telegram hands out today fits in 16 digits; the widest payload a button
# carries next to its code is a report reason: "<code>:<user id>:<reason>:<origin>".
WIDEST_ARGS = ("9" * 16, "offensive", "b")


def routing() -> Router:
    """A router over every controller; the handlers are only looked up, never run."""
    services = Services(cast(SessionDeps, None), COMMANDS)
    return Router([controller(services) for controller in CONTROLLERS])


def test_menu_is_the_public_commands_in_both_languages() -> None:
    """setMyCommands gets every public command with its catalog text, in today's order (a
    new command may come anywhere among them), and no admin command."""
    today = ["start", "browse", "likes", "matches", "profile"]
    today += ["settings", "stop", "language", "cancel", "help"]
    for language in LANGUAGES:
        entries = menu(COMMANDS, language)
        names = [name for name, _ in entries]
        assert [name for name in names if name in today] == today
        assert names == [entry.name for entry in COMMANDS if not entry.admin]
        assert not ADMIN_COMMANDS & set(names)
        for name, description in entries:
            assert description == t(language, f"commands.{name}")


def test_help_text_is_the_header_and_the_menu() -> None:
    """/help is the header, then one line per public command; admin commands are not named."""
    for language in LANGUAGES:
        lines = help_text(COMMANDS, language).split("\n")
        assert lines[0] == t(language, "help.header")
        assert lines[1:] == [
            f"/{name} — {description}" for name, description in menu(COMMANDS, language)
        ]
        for admin in ADMIN_COMMANDS:
            assert f"/{admin} " not in help_text(COMMANDS, language)


def test_every_command_routes_and_admin_ones_are_known() -> None:
    """Each command of the table has a handler; the admin commands are routed but marked
    admin; an unknown command has none."""
    router = routing()
    for entry in COMMANDS:
        assert router.command(entry.name) is not None, entry.name
    assert {entry.name for entry in COMMANDS if entry.admin} == ADMIN_COMMANDS
    assert router.command("fly") is None
    assert router.command(CANCEL.name) is not None


def test_button_codes_are_unique_short_and_each_has_one_handler() -> None:
    """No two buttons share a code, every code with the widest arguments and the signature
    fits the callback data, and the router has a handler for exactly the codes there are."""
    codes = [button.value for button in Button]
    assert len(codes) == len(set(codes))
    signer = CallbackSigner(b"test")
    for code in codes:
        assert len(signer.sign(2**53, code, *WIDEST_ARGS).encode()) <= CALLBACK_DATA_MAX_BYTES
    assert routing().button_codes == frozenset(codes)


def test_a_name_with_two_handlers_is_refused() -> None:
    """Two controllers marking the same command make the router refuse to be built."""

    class Twice:
        @command("help", rank=1)
        def help(self, ctx: Context) -> None:
            raise AssertionError("never run")

    services = Services(cast(SessionDeps, None), COMMANDS)
    controllers: list[Any] = [controller(services) for controller in CONTROLLERS]
    with pytest.raises(ValueError, match="help"):
        Router([*controllers, Twice()])
