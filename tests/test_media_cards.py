"""Shared places and contact cards reach the model as text ("Location: …", "Contact: …"), not as the non-text notice.
WhatsApp's, LINE's and Twilio's are among tests/test_payloads.py's cases."""

from __future__ import annotations

import pytest
import telegram as ptb

from tests.helpers import post_update, texts
from tests.test_media import media_update

BERLIN = ptb.Location(13.377704, 52.516275)  # longitude first, as python-telegram-bot takes them

CARDS = {
    "location": ({"location": BERLIN}, "Location: 52.516275, 13.377704"),
    "venue": ({"venue": ptb.Venue(BERLIN, "Brandenburg Gate", "Pariser Platz, Berlin"), "location": BERLIN},
              "Location: 52.516275, 13.377704 (Brandenburg Gate, Pariser Platz, Berlin)"),
    "contact": ({"contact": ptb.Contact("+44 20 7946 0000", "Ada", "Lovelace", user_id=7)},
                "Contact: Ada Lovelace, +44 20 7946 0000"),
    "contact without a last name": ({"contact": ptb.Contact("+1 650 555 0000", "Bob")}, "Contact: Bob, +1 650 555 0000"),
}


@pytest.mark.parametrize("fields, said", CARDS.values(), ids=CARDS.keys())
def test_a_shared_place_or_contact_reaches_the_model_as_text(bot, llm, telegram, fields, said):
    post_update(bot.client, media_update(9301, **fields))
    bot.run()
    assert llm.completions[0]["messages"][-1] == {"role": "user", "content": said}
    assert texts(telegram) == [f"LLM: {said}"]
