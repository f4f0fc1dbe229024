"""S3 hanging (connections accepted, nothing answered) while someone uploads a photo: the
profile actor that serves them — here the only one, serving everyone — is free again within
seconds, not after minio's default 300 s × 5 tries; the photo is saved once S3 answers."""

from __future__ import annotations

import time

from domain.onboarding import ONBOARDING_ORDER, Step
from sandbox.client import SandboxClient
from sandbox.server import SandboxServer
from tests.e2e.story import Newcomer
from tests.support.images import image
from tests.support.services import Services
from tests.support.stack import node_behind_proxy

# Well under minio's defaults, above this project's S3 timeouts (storage.photos) and the
# queueing behind one upload's tries.
FREED_WITHIN_SECONDS = 40.0


def test_a_stalled_s3_does_not_hold_the_profile_actor(
    own_services: Services, own_server: SandboxServer, own_sandbox: SandboxClient
) -> None:
    with node_behind_proxy(
        own_services, own_server, "S3_ENDPOINT", "s3-stall", SESSION_ACTORS="1"
    ) as (proxy, pool):
        anna = Newcomer.create(own_sandbox, "en", name="Anna")
        boris = Newcomer.create(own_sandbox, "ru", name="Boris")
        anna.reach(Step.PHOTOS)
        boris.reach(Step.AGE)
        proxy.stall()
        anna.user.send_photo(image())
        time.sleep(1)  # her upload is under way (and stuck) before he answers
        began = time.monotonic()
        boris.send_answer(Step.AGE)
        following = ONBOARDING_ORDER[ONBOARDING_ORDER.index(Step.AGE) + 1]
        boris.user.wait_until(
            lambda chat: boris.question(following) in [m.body for m in chat.bot_messages],
            timeout=FREED_WITHIN_SECONDS,
            what="his next question while S3 hangs",
        )
        print(f"\nanswered {time.monotonic() - began:.1f} s after S3 hung")
        proxy.heal()
        anna.user.wait_until(
            lambda chat: anna.answers.photo_saved(1) in [m.body for m in chat.bot_messages],
            timeout=60,
            what="her photo saved once S3 answers",
        )
        with pool.connection() as conn:
            count = conn.execute(
                "SELECT count(*) AS n FROM photos WHERE user_id = %s", (anna.id,)
            ).fetchone()
        assert count == {"n": 1}
        bodies = [message.body for message in anna.user.chat.bot_messages]
        assert anna.t("common.internal_error") not in bodies, anna.user.transcript()
