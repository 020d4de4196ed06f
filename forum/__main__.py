"""The `forum` console script (and `python -m forum`): `flask` with this app preloaded.

Apart from forum/cli.py, which features import to hang their commands on `flask forum`, so that
importing a command group never imports the whole app."""

from __future__ import annotations

from flask.cli import FlaskGroup


def main() -> None:
    from . import create_app

    FlaskGroup(create_app=lambda: create_app())()


if __name__ == "__main__":
    main()
