"""Every button's code: the first part of its (signed) callback data, one namespace for all.

The session's router (actors/session/router.py) has exactly one handler per code; a unit test
checks that, that no two codes are equal and that each leaves room in Telegram's 64 bytes.
"""

from __future__ import annotations

from enum import StrEnum


class Button(StrEnum):
    # onboarding and the own profile
    STEP_CHOICE = "st"
    EDIT = "ed"
    PHOTOS = "ph"
    ADD_PHOTO = "pa"
    DELETE_PHOTO = "pd"
    MAIN_PHOTO = "pm"
    BACK_TO_PROFILE = "pf"
    PAUSE = "pz"
    DELETE_ACCOUNT = "dl"
    LANGUAGE = "lg"
    # browsing
    LIKE = "bl"
    LIKE_WITH_MESSAGE = "bm"
    SKIP = "bs"
    REPORT = "br"
    STOP_BROWSING = "bx"
    UNDO_SKIP = "bu"
    BROWSE = "bn"
    # likes received
    LIKES = "lk"
    LIKER_LIKE = "ll"
    LIKER_SKIP = "ls"
    # matches and chat
    MATCHES = "ml"
    MATCH_OPEN = "mo"
    WRITE = "mw"
    UNMATCH = "mu"
    BLOCK = "mb"
    MATCH_REPORT = "mr"
    LEAVE_CHAT = "cx"
    # reports
    REPORT_REASON = "rr"
    REPORT_NO_COMMENT = "rk"
    # settings
    SETTINGS = "sg"
    RADIUS_MENU = "sd"
    RADIUS = "sr"
    SHOW_USERNAME = "su"
    # issue 14: protected media, contact exchange by consent
    PROTECT_MEDIA = "sp"
    CONTACTS = "co"  # consent to exchange contacts with the match (offer or agree)
    # moderation
    BAN = "ab"
    DISMISS = "ad"
    # issue 14, part A: the profile video, 💌 with media, verification
    VIDEO = "pv"
    DELETE_VIDEO = "px"
    SEND_LIKE = "bc"
    VERIFIED_ONLY = "sv"
    VERIFY_APPROVE = "va"
    VERIFY_REFUSE = "vr"
