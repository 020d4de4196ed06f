"""`flask forum reseal-secrets`: every webhook's secret sealed with the current SECRET_KEY."""

from __future__ import annotations

import click

from ..cli import forum_cli
from . import services


@forum_cli.command("reseal-secrets")
def reseal_secrets() -> None:
    """Seal every webhook secret with SECRET_KEY (after a key change, with the old key in
    SECRET_KEY_FALLBACKS); then the old key may leave the fallbacks."""
    resealed, unreadable = services.reseal_secrets()
    click.echo(f"Resealed {resealed} webhook secrets with the current SECRET_KEY.")
    if unreadable:
        click.echo(
            f"{unreadable} open with no key: the secret key changed without the old one in "
            "SECRET_KEY_FALLBACKS. Add it there and run this again, or make new secrets on "
            "those webhooks' pages.",
            err=True,
        )
        raise SystemExit(1)
