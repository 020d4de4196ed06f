"""Demo content for `make run`: SIGs of each visibility, sysops, members, mentions, quotes."""

from __future__ import annotations

from .accounts import services as accounts
from .accounts.models import TL_MEMBER, User
from .content import quote_markdown
from .sigs import services as sigs
from .topics import services as topics

PASSWORD = "demo-password-1"
SYSOP_PASSWORD = "sysop-password-1"

MEMBERS = ["ada", "grace", "linus", "margaret", "ken"]


def seed() -> dict[str, User]:
    sysop = accounts.register_member("sysop", "sysop@example.com", SYSOP_PASSWORD, role="sysop")
    users = {"sysop": sysop}
    for name in MEMBERS:
        # Established members of the demo site: "member" trust level, no new-account limits.
        users[name] = accounts.register_member(
            name, f"{name}@example.com", PASSWORD, trust_level=TL_MEMBER
        )
    ada, grace, linus, margaret, ken = (users[n] for n in MEMBERS)

    retro = sigs.create_sig(
        sysop,
        name="Retro Computing",
        slug="retro",
        description="8-bit machines, BBS lore, modems that sing.",
    )
    python = sigs.create_sig(
        sysop,
        name="Python Programming",
        slug="python",
        description="Questions, answers and show-and-tell about Python.",
    )
    ham = sigs.create_sig(
        sysop,
        name="Ham Radio",
        slug="ham-radio",
        description="Members-only: antennas, contests, QSL cards.",
        visibility="members",
    )
    sysops = sigs.create_sig(
        sysop,
        name="Sysop Lounge",
        slug="sysop-lounge",
        description="Private: where the SIG sysops talk shop.",
        visibility="private",
    )
    stammtisch = sigs.create_sig(
        sysop,
        name="Stammtisch",
        slug="stammtisch",
        description="Deutschsprachige Runde: alles rund um Computer und Netz.",
        language="de",
    )
    tertulia = sigs.create_sig(
        sysop,
        name="Tertulia",
        slug="tertulia",
        description="Privado: la tertulia de los miembros fundadores.",
        visibility="private",
        language="es",
    )

    for sig in (retro, python, ham, stammtisch):
        for user in (ada, grace, linus, margaret, ken):
            sigs.join_sig(user, sig.id)
    sigs.set_sig_sysop(sysop, retro.id, grace.id, True)
    sigs.set_sig_sysop(sysop, sysops.id, grace.id, True)
    sigs.set_sig_sysop(sysop, tertulia.id, margaret.id, True)
    sigs.request_to_join(linus, "sysop-lounge", "I run a board too.")

    t1 = topics.start_topic(
        ada,
        retro.id,
        "What was your first BBS?",
        "Mine ran on a **C64** with a 300 baud modem. Tell us yours!\n\n"
        "- name of the board\n- the sysop\n- the best door game",
    )
    p2 = topics.reply_to_topic(
        grace, t1.id, "A FidoNet node in my home town. @ada, did yours carry FidoNet echoes?"
    )
    topics.reply_to_topic(
        ada,
        t1.id,
        quote_markdown("@grace", p2.id, p2.body_raw, wrote="wrote")
        + "It did! Netmail took two days to arrive.",
        p2.id,
    )
    topics.reply_to_topic(linus, t1.id, "Legend of the Red Dragon, every single night.")

    t2 = topics.start_topic(
        linus,
        python.id,
        "How do I read a file line by line?",
        "I tried `open()` but the whole file ends up in memory. What is the idiomatic way?",
    )
    topics.reply_to_topic(
        margaret,
        t2.id,
        "Iterate over the file object:\n\n```python\nwith open(path) as f:\n    for line in f:\n"
        "        print(line.rstrip())\n```\n\nIt reads one line at a time. cc @linus",
    )
    topics.start_topic(
        ken,
        python.id,
        "Show and tell: a tiny Socket.IO chat",
        "Built a small chat with Flask-SocketIO this weekend. Feedback welcome!",
    )
    topics.start_topic(
        ken, ham.id, "Best antenna for a small balcony?", "I have 2 metres of space. Ideas?"
    )
    topics.start_topic(
        grace,
        sysops.id,
        "Moderation guidelines draft",
        "Here is the draft of our moderation guidelines. The secret word is *zeppelin*.",
    )
    topics.start_topic(
        ada,
        stammtisch.id,
        "Grüße aus Köln",
        "Hallo zusammen! Wer von euch hat früher Mailboxen betrieben?",
    )
    topics.start_topic(
        margaret,
        tertulia.id,
        "Bienvenidos a la tertulia",
        "Aquí hablamos de las comunidades en línea y de cómo cuidarlas.",
    )
    return users
