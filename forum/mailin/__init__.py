"""Reply by email and bounces: `flask forum mail-in` (one message on stdin, for an MTA's
pipe) and `flask forum mail-in-server` (an LMTP listener), both over services.receive."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from . import commands, services  # noqa: F401  (commands and the refusal job register)
