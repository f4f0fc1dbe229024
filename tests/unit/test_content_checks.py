"""Scam and spam signs in texts, in both languages (domain.content_checks)."""

from __future__ import annotations

import pytest

from config.i18n import LANGUAGES, catalog
from domain.content_checks import (
    CHAT_WARNING_KEY,
    OPENER_RECIPIENTS,
    REASON_KEYS,
    Opener,
    findings,
    reason_keys,
    repeated_opener,
)


def _kinds(text: str) -> list[str]:
    return [finding.kind for finding in findings(text)]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("пиши в телегу t.me/anna_love", "invite_link"),
        ("join https://discord.gg/abcdef", "invite_link"),
        ("whatsapp: wa.me/79123456789", "invite_link"),
        ("my page https://example.com/me", "link"),
        ("заходи на мой сайт love-cam.ru", "link"),
        ("звони +7 912 345-67-89", "phone"),
        ("call me 8 (912) 345 67 89", "phone"),
        ("text me +1 415 555 2671", "phone"),
        ("мой ник @anna_love", "handle"),
        ("write to anna.k@mail.ru", "email"),
        ("BTC 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "wallet"),
        ("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "wallet"),
        ("eth 0x742d35Cc6634C0532925a3b844Bc454e4438f44e", "wallet"),
        ("usdt TNPeeaaFB7K9cmo4uQpcU32zGK8G1NYqeL", "wallet"),
        ("ton EQCD39VS5jcptHL8vMjEXrzGaRcCVYto7HUn4bpAOg8xqB2N", "wallet"),
        ("карта 4111 1111 1111 1111", "card"),
        ("скинь 500 на карту, верну завтра", "money"),
        ("переведи мне на сбер пожалуйста", "money"),
        ("одолжи до пятницы", "money"),
        ("please send me money for a ticket", "money"),
        ("buy me a gift card and I will come", "money"),
        ("verify your pаypal account", "lookalike"),
        ("пишu мне", "lookalike"),
    ],
)
def test_signs_are_found(text: str, kind: str) -> None:
    """Each kind of scam or spam sign is found in Russian and English texts."""
    assert kind in _kinds(text), findings(text)


@pytest.mark.parametrize(
    "text",
    [
        "Мне 25 лет, рост 180 см, вес 60 кг, родилась в 1999 году.",
        "I'm 31, 6'1\", 185 cm, born 1993, two cats, 3 languages.",
        "Люблю горы: была на высоте 5642 м, на Эльбрусе, в 2021.",
        "Work 9-18, weekends free. Running 10 km on Sundays.",
        "Фан кино 80-х и 90-х, люблю кофе и книги. Ищу серьёзные отношения.",
        "Looking for someone kind. Coffee, books, long walks — that's me.",
        "Обожаю Apple и Google Maps, фильмы Marvel, пою в хоре.",
        "Мой рост 1.80, размер обуви 42, хочу троих детей к 2030.",
    ],
)
def test_ordinary_profiles_have_no_findings(text: str) -> None:
    """Ages, heights, years, times and brand names in ordinary texts are not flagged."""
    assert findings(text) == []


def test_findings_carry_spans_and_overlaps_keep_the_specific_kind() -> None:
    """A finding's span covers the sign; an invite link is not also a plain link."""
    text = "hi! t.me/anna and +7 912 345-67-89"
    found = findings(text)
    assert [f.kind for f in found] == ["invite_link", "phone"]
    assert text[found[0].start : found[0].end] == "t.me/anna"
    assert text[found[1].start : found[1].end] == "+7 912 345-67-89"
    assert reason_keys(found) == ["errors.about_invite_link", "errors.about_phone"]


def test_every_reason_has_a_text_in_both_languages() -> None:
    """Each reason key and the chat warning exist in every catalog."""
    for language in LANGUAGES:
        texts = catalog(language)
        for key in (*REASON_KEYS.values(), CHAT_WARNING_KEY):
            assert texts[key], (language, key)


def test_the_same_opener_to_many_people_is_flagged() -> None:
    """Nearly the same long first message to five people is flagged; to four, or short
    greetings to many, or different messages are not."""
    template = "Привет, {}! Ты очень красивая, давай продолжим в телеграме, там удобнее"
    names = ["Аня", "Катя", "Маша", "Оля", "Лена", "Ира"]
    spam = [Opener(index, template.format(name)) for index, name in enumerate(names)]
    assert repeated_opener(spam[:OPENER_RECIPIENTS]) is not None
    assert repeated_opener(spam[: OPENER_RECIPIENTS - 1]) is None
    assert repeated_opener([Opener(index, "Привет!") for index in range(20)]) is None
    varied = [
        Opener(1, "Hi! I saw you like hiking too, which trails do you go to?"),
        Opener(2, "Your photo from Lisbon is amazing, were you there on holiday?"),
        Opener(3, "Hello, what is the best book you have read this year?"),
        Opener(4, "I also have a cat! What is yours called and how old is she?"),
        Opener(5, "Hey, you play guitar? I have been trying to learn for a year."),
    ]
    assert repeated_opener(varied) is None


def test_the_same_recipient_counts_once() -> None:
    """Sending one text to the same person again does not count as many people."""
    text = "Hi there, you look amazing, message me on my other account please"
    assert repeated_opener([Opener(1, text)] * 10) is None
