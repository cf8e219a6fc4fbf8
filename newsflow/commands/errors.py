"""How a command fails: a :class:`CliError` (the user's mistake or the environment's, exit
code :data:`EXIT_USAGE`) or a bug (:data:`EXIT_INTERNAL`)."""

from __future__ import annotations

from pydantic import ValidationError

from shared.settings import Settings, load_settings

#: Exit codes: a mistake in what was asked (or a server that cannot be used), and a bug.
EXIT_USAGE = 2
EXIT_INTERNAL = 70


class CliError(Exception):
    """A mistake of the user's or of the environment, said in one line per problem (no
    traceback); the command exits with :data:`EXIT_USAGE`."""


def setting_errors(exc: ValidationError) -> list[str]:
    """One line per invalid setting, naming its variable and never quoting its value."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        field = f"NEWSFLOW_{str(error['loc'][0]).upper()}" if error["loc"] else "settings"
        lines.append(f"{field}: {error['msg'].removeprefix('Value error, ')}")
    return lines


def command_settings() -> Settings:
    """The settings, or a :class:`CliError` with one line per invalid one."""
    try:
        return load_settings()
    except ValidationError as exc:
        raise CliError("\n".join(setting_errors(exc))) from None
