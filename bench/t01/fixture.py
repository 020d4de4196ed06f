"""Build the fixture through the forum's own services (run with the forum's Python, in its
checkout, with the FORUM_* environment of the instance):

    python fixture.py N    ->  prints JSON: sig slug, topic id, member names

A global sysop, one public SIG "faults", N members m00..m(N-1) in it, and one topic started by
m00. Passwords are common.PASSWORD. Where trust levels exist, the members are made basic
(FAULTS_TRUST_LEVEL, default TL_BASIC; empty: left new, and then most replies are refused by
the new accounts' posts a day, 403).
"""

from __future__ import annotations

import json
import os
import sys

from forum import create_app
from forum.accounts import services as accounts
from forum.sigs import services as sigs
from forum.topics import services as topics

PASSWORD = "faults-password-1"
FAULTS_TRUST_LEVEL = os.environ.get("FAULTS_TRUST_LEVEL", "TL_BASIC")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    app = create_app()
    with app.app_context():
        root = accounts.register_member("faultsop", "faultsop@example.com", PASSWORD, role="sysop")
        sig = sigs.create_sig(
            root,
            name="Faults",
            slug="faults",
            description="Fault injection",
            visibility="public",
            language="en",
        )
        names = []
        from forum import permissions

        for i in range(n):
            name = f"m{i:02d}"
            member = accounts.register_member(name, f"{name}@example.com", PASSWORD)
            sigs.join_sig(member, sig.id)
            names.append(name)
            # Newer commits hold new accounts to a few posts a day (trust levels): make the
            # members basic, as the commits before trust levels treated every member.
            if FAULTS_TRUST_LEVEL and hasattr(permissions, "TL_BASIC"):
                from forum.trust import services as trust

                trust.set_trust_level(root, member.id, getattr(permissions, FAULTS_TRUST_LEVEL))
        from forum import permissions
        from forum.accounts.models import User
        from forum.extensions import db

        first = db.session.scalar(db.select(User).where(User.username == names[0]))
        permissions.forget_memberships(first)
        topic = topics.start_topic(first, sig.id, "Fault topic", "The first post, zqfirstpostx.")
        # FAULTS_PREFILL=N[:BYTES]: N older replies of about BYTES characters in a second topic
        # (a bigger database for the backup and disk tests).
        prefill = os.environ.get("FAULTS_PREFILL", "")
        if prefill:
            count, _, size = prefill.partition(":")
            filler = ("lorem ipsum dolor sit amet " * 2000)[: int(size or 2000)]
            old = topics.start_topic(first, sig.id, "Older topic", "The older topic.")
            for i in range(int(count)):
                topics.reply_to_topic(first, old.id, f"Old reply {i} zqold{i:06d}x. {filler}")
        print(
            json.dumps(
                {
                    "sig": sig.slug,
                    "sig_id": sig.id,
                    "topic_id": topic.id,
                    "members": names,
                    "password": PASSWORD,
                }
            )
        )


if __name__ == "__main__":
    main()
