"""The session's one table of commands and buttons, filled by its controllers.

A controller marks its methods: ``@command("browse", rank=20)`` for a command in the menu and
/help (ordered by rank), ``@command("ban", admin=True)`` for one left out of both,
``@button(Button.LIKE)`` for a button's handler, ``@cancels(rank)`` for a step of the /cancel
chain (each says whether it had something to cancel; /cancel itself is the router's) and
``@takes_input(rank)`` for a step of the chain that offers a message outside any question to
a conversation mode. The router collects the marks of the controllers it is given and refuses
two handlers for one name.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from actors.session.context import Context
from config.i18n import t
from presentation.buttons import Button

CommandHandler = Callable[[Context], None]
ButtonHandler = Callable[[Context, list[str]], None]
ChainStep = Callable[[Context], bool]  # True: this step took the update
Method = TypeVar("Method", bound=Callable[..., Any])

_COMMAND = "_session_command"
_BUTTON = "_session_button"
_CANCELS = "_session_cancels"
_TAKES_INPUT = "_session_takes_input"


@dataclass(frozen=True, slots=True)
class Command:
    name: str  # without the slash; its menu and /help description is commands.<name>
    rank: int = 0  # place in the menu and /help
    admin: bool = False  # for admin_ids only: in neither the menu nor /help


def command(name: str, *, rank: int = 0, admin: bool = False) -> Callable[[Method], Method]:
    return _mark(_COMMAND, Command(name, rank, admin))


def button(code: Button) -> Callable[[Method], Method]:
    return _mark(_BUTTON, code)


def cancels(rank: int) -> Callable[[Method], Method]:
    return _mark(_CANCELS, rank)


def takes_input(rank: int) -> Callable[[Method], Method]:
    return _mark(_TAKES_INPUT, rank)


def _mark(attribute: str, value: object) -> Callable[[Method], Method]:
    def mark(method: Method) -> Method:
        setattr(method, attribute, value)
        return method

    return mark


def _marked(owner: type, attribute: str) -> Iterable[tuple[Any, str]]:
    """(mark, name) for each method of the class owner that has the mark."""
    for name, member in inspect.getmembers(owner, inspect.isfunction):
        mark = getattr(member, attribute, None)
        if mark is not None:
            yield mark, name


# The router's own command: it offers /cancel to the controllers' @cancels steps in turn.
CANCEL = Command("cancel", rank=90)


def command_table(controllers: Iterable[type]) -> list[Command]:
    """The commands of these controller classes and the router's, in menu order."""
    found = [CANCEL, *(mark for owner in controllers for mark, _ in _marked(owner, _COMMAND))]
    names = [found_command.name for found_command in found]
    duplicated = {name for name in names if names.count(name) > 1}
    if duplicated:
        raise ValueError(f"commands with two handlers: {sorted(duplicated)}")
    return sorted(found, key=lambda found_command: found_command.rank)


def menu(table: Iterable[Command], language: str) -> list[tuple[str, str]]:
    """(command, description) for setMyCommands: the public commands."""
    return [(c.name, t(language, f"commands.{c.name}")) for c in table if not c.admin]


def help_text(table: Iterable[Command], language: str) -> str:
    lines = [f"/{name} — {description}" for name, description in menu(table, language)]
    return "\n".join([t(language, "help.header"), *lines])


class Router:
    def __init__(self, controllers: Sequence[object]) -> None:
        self.table = command_table(type(controller) for controller in controllers)
        self._commands: dict[str, CommandHandler] = {CANCEL.name: self._cancel}
        self._buttons: dict[str, ButtonHandler] = {}
        cancel_steps: list[tuple[int, ChainStep]] = []
        input_steps: list[tuple[int, ChainStep]] = []
        for controller in controllers:
            kind = type(controller)
            for mark, name in _marked(kind, _COMMAND):
                self._commands[mark.name] = getattr(controller, name)
            for code, name in _marked(kind, _BUTTON):
                if code in self._buttons:
                    raise ValueError(f"button {code!r} has two handlers")
                self._buttons[code] = getattr(controller, name)
            cancel_steps.extend(
                (rank, getattr(controller, name)) for rank, name in _marked(kind, _CANCELS)
            )
            input_steps.extend(
                (rank, getattr(controller, name)) for rank, name in _marked(kind, _TAKES_INPUT)
            )
        self._cancel_chain = [step for _, step in sorted(cancel_steps, key=lambda s: s[0])]
        self._input_chain = [step for _, step in sorted(input_steps, key=lambda s: s[0])]

    @property
    def button_codes(self) -> frozenset[str]:
        return frozenset(self._buttons)

    def command(self, name: str) -> CommandHandler | None:
        return self._commands.get(name)

    def button(self, code: str) -> ButtonHandler | None:
        return self._buttons.get(code)

    def _cancel(self, ctx: Context) -> None:
        """Offer /cancel to each step of the chain in turn, until one had something."""
        if not any(step(ctx) for step in self._cancel_chain):
            ctx.say("common.nothing_to_cancel")

    def take_input(self, ctx: Context) -> bool:
        """Offer a message outside any question to each mode in turn; False when none took it."""
        return any(step(ctx) for step in self._input_chain)
