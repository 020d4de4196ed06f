"""Mail of member care: a member banned site-wide cannot sign in to read the site's sysops'
answer, so it is mailed to them, with the way back to the appeal form."""

from __future__ import annotations

from .. import jobs
from ..accounts.models import User
from ..extensions import db
from ..i18n import force_locale, gettext, language_of
from ..mail import send_mail
from ..messages.models import Conversation, PrivateMessage
from ..web import absolute_url_for
from .models import Concern


@jobs.job()
def mail_answer_to_banned(concern_id: int, message_id: int) -> bool:
    """Mail the sysops' answer to the concern's banned member (once per message): their words,
    never a sysop's name. Nothing when the member is no longer banned (they read it signed
    in), or the message is not the sysops' answer in this concern."""
    concern = db.session.get(Concern, concern_id)
    message = db.session.get(PrivateMessage, message_id)
    if concern is None or message is None or concern.sig_id is not None:
        return False
    member = db.session.get(User, concern.member_id)
    conversation = db.session.get(Conversation, concern.conversation_id)
    if member is None or conversation is None or not member.is_banned:
        return False
    if message.conversation_id != concern.conversation_id or message.user_id == member.id:
        return False
    if message.is_hidden:
        return False
    with force_locale(language_of(member)):
        subject = gettext("The site's sysops answered your concern")
        body = gettext(
            "Hello %(name)s,\n\nthe site's sysops answered your concern “%(subject)s”:\n\n"
            "%(text)s\n\nTo answer them, or read the whole concern, give your name and "
            "password here:\n%(link)s\n",
            name=member.username,
            subject=conversation.shown_subject,
            text=message.body_raw,
            link=absolute_url_for("care.appeal"),
        )
    return send_mail(member.email, subject, body, key=f"concern-answer:{message.id}")
