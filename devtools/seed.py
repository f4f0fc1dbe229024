"""Realistic profiles for the demo and for trying the bot: `python -m scripts.seed --count 50`.

Each seeded person is a virtual user of the Bot API sandbox (created as having started the
bot, so the bot can write to them: like notices, matches) with a finished profile written
through storage.accounts.Accounts, exactly what onboarding would have stored:

- a name that fits the gender and the person's language (English or Russian), an age, who
  they look for and at what ages, a city from a fixed list (its name in the person's
  language) and, for most, coordinates a few kilometres around it, an about text (or none),
  interests, and sometimes a public @username;
- one to three generated photos (a colour gradient with the initials, made with Pillow),
  uploaded through the Bot API (`sendPhoto` to the person's chat, then `deleteMessage`) so
  that the sandbox holds a real file whose file_id the bot can send, and stored in the S3
  bucket under a random key like every real upload.

The generator is deterministic for a given `rng_seed`, so a test seeding the same count
gets the same people.
"""

from __future__ import annotations

import io
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta
from functools import cache

import httpx
from PIL import Image, ImageDraw, ImageFont

from config.settings import Settings
from domain.interests import INTERESTS
from domain.validation import validate_city, validate_name
from sandbox.client import SandboxClient
from storage import db
from storage.accounts import Accounts
from storage.photos import PhotoStore

PHOTO_SIZE = (480, 600)
FONT_FILES = (
    "DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "LiberationSans-Bold.ttf",
)

NAMES: dict[tuple[str, str], tuple[str, ...]] = {
    ("en", "f"): (
        "Emma",
        "Olivia",
        "Sophia",
        "Mia",
        "Charlotte",
        "Amelia",
        "Grace",
        "Chloe",
        "Lily",
        "Hannah",
        "Zoe",
        "Alice",
        "Ella",
        "Ruby",
        "Isla",
        "Evie",
    ),
    ("en", "m"): (
        "Liam",
        "Noah",
        "Oliver",
        "James",
        "Lucas",
        "Henry",
        "Daniel",
        "Leo",
        "Max",
        "Jack",
        "Ethan",
        "Adam",
        "Samuel",
        "Thomas",
        "Oscar",
        "Harry",
    ),
    ("ru", "f"): (
        "Анна",
        "Мария",
        "Елена",
        "Ольга",
        "Дарья",
        "Екатерина",
        "Софья",
        "Алиса",
        "Полина",
        "Ксения",
        "Виктория",
        "Наталья",
        "Вера",
        "Юлия",
        "Ирина",
        "Мила",
    ),
    ("ru", "m"): (
        "Александр",
        "Дмитрий",
        "Максим",
        "Иван",
        "Артём",
        "Михаил",
        "Никита",
        "Егор",
        "Кирилл",
        "Павел",
        "Сергей",
        "Андрей",
        "Илья",
        "Роман",
        "Тимур",
        "Глеб",
    ),
}


@dataclass(frozen=True)
class City:
    names: dict[str, str]  # language -> the name as a local would type it
    latitude: float
    longitude: float
    weight: int  # how many of the seeded people live there, relatively


CITIES: tuple[City, ...] = (
    City({"en": "Moscow", "ru": "Москва"}, 55.7558, 37.6173, 40),
    City({"en": "Saint Petersburg", "ru": "Санкт-Петербург"}, 59.9343, 30.3351, 18),
    City({"en": "Kazan", "ru": "Казань"}, 55.7963, 49.1088, 7),
    City({"en": "Novosibirsk", "ru": "Новосибирск"}, 55.0084, 82.9357, 5),
    City({"en": "Yekaterinburg", "ru": "Екатеринбург"}, 56.8389, 60.6057, 5),
    City({"en": "London", "ru": "Лондон"}, 51.5072, -0.1276, 10),
    City({"en": "Berlin", "ru": "Берлин"}, 52.5200, 13.4050, 8),
    City({"en": "Belgrade", "ru": "Белград"}, 44.7866, 20.4489, 7),
)

ABOUT: dict[str, tuple[str, ...]] = {
    "en": (
        "Coffee first, then conversation.",
        "Weekend hiker, weekday spreadsheet wrangler.",
        "Looking for someone to try every ramen place in town with.",
        "I make a decent lasagne and a terrible first impression.",
        "Books on the train, music in the kitchen.",
        "Ask me about my last trip — I have photos.",
        "Dog person, but cats seem to like me anyway.",
        "Learning to play the guitar for the third time.",
        "Morning runs and late-night films.",
        "Happiest somewhere near the sea.",
        "I will beat you at board games, politely.",
        "Let's go to a gallery and pretend we understand it.",
    ),
    "ru": (
        "Сначала кофе, потом разговоры.",
        "По выходным в походах, по будням в таблицах.",
        "Ищу компанию, чтобы обойти все раменные города.",
        "Готовлю неплохую лазанью.",
        "Книги в метро, музыка на кухне.",
        "Спроси меня о последней поездке — покажу фото.",
        "Люблю собак, но кошки почему-то любят меня.",
        "В третий раз учусь играть на гитаре.",
        "Утренние пробежки и ночные фильмы.",
        "Счастлива там, где море.",
        "Обыграю в настолки, но вежливо.",
        "Пойдём в галерею и сделаем вид, что всё поняли.",
    ),
}

PALETTE = (
    (255, 94, 98),
    (255, 153, 102),
    (72, 198, 239),
    (111, 134, 214),
    (67, 233, 123),
    (56, 249, 215),
    (250, 112, 154),
    (254, 225, 64),
    (161, 140, 209),
    (251, 194, 235),
    (48, 207, 208),
    (51, 8, 103),
    (246, 211, 101),
    (253, 160, 133),
    (132, 250, 176),
)


@dataclass(frozen=True)
class Draft:
    language: str
    name: str
    gender: str
    age: int
    seeking: str
    age_min: int
    age_max: int
    city: str
    latitude: float | None
    longitude: float | None
    about: str | None
    interests: tuple[str, ...]
    username: str | None
    photos: int
    inactive_for: timedelta  # time since the person last used the bot
    joined_ago: timedelta


@dataclass(frozen=True)
class SeededProfile(Draft):
    """One generated person, as stored."""

    user_id: int


def draft_profile(rng: random.Random, number: int) -> Draft:
    """One random but plausible person (pure: the same rng state gives the same person)."""
    language = rng.choice(("en", "ru"))
    gender = rng.choice(("f", "m"))
    name = validate_name(rng.choice(NAMES[language, gender]))
    age = max(18, min(60, round(rng.triangular(19, 48, 27))))
    opposite = "m" if gender == "f" else "f"
    seeking = rng.choices((opposite, "any", gender), weights=(85, 10, 5))[0]
    age_min = max(18, age - rng.randint(3, 8))
    age_max = min(100, age + rng.randint(3, 10))
    city = rng.choices(CITIES, weights=[c.weight for c in CITIES])[0]
    latitude = longitude = None
    if rng.random() < 0.6:  # shared a location: within ~12 km of the centre
        latitude = round(city.latitude + rng.uniform(-0.1, 0.1), 5)
        longitude = round(city.longitude + rng.uniform(-0.15, 0.15), 5)
    about = None
    if rng.random() < 0.8:
        about = " ".join(rng.sample(ABOUT[language], rng.choice((1, 1, 2))))
    interests = tuple(rng.sample(INTERESTS, rng.randint(1, 6)))
    username = None
    if rng.random() < 0.3:
        username = f"seed_{number}_{rng.randrange(1000, 9999)}"
    recent = rng.random() < 0.7
    inactive_for = timedelta(
        minutes=rng.uniform(1, 23 * 60) if recent else rng.uniform(25 * 60, 14 * 24 * 60)
    )
    joined_ago = inactive_for + timedelta(days=rng.uniform(0, 60))
    return Draft(
        language,
        name,
        gender,
        age,
        seeking,
        age_min,
        age_max,
        validate_city(city.names[language])[0],
        latitude,
        longitude,
        about,
        interests,
        username,
        rng.choices((1, 2, 3), weights=(50, 30, 20))[0],
        inactive_for,
        joined_ago,
    )


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for name in FONT_FILES:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size)


def initials(name: str) -> str:
    return "".join(part[0] for part in name.split()[:2]).upper()


def placeholder_photo(name: str, rng: random.Random, size: tuple[int, int] = PHOTO_SIZE) -> bytes:
    """A JPEG: a diagonal gradient between two colours, with the initials in the middle."""
    first, second = rng.sample(PALETTE, 2)
    width, height = size
    # A 2x2 image stretched with bilinear filtering is a smooth gradient, made in C.
    corners = Image.new("RGB", (2, 2))
    middle = tuple((a + b) // 2 for a, b in zip(first, second, strict=True))
    corners.putdata([first, middle, middle, second])
    image = corners.resize(size, Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(image)
    font = _font(width // 3)
    text = initials(name)
    box = draw.textbbox((0, 0), text, font=font)
    x = (width - (box[2] - box[0])) / 2 - box[0]
    y = (height - (box[3] - box[1])) / 2 - box[1]
    draw.text((x + 4, y + 4), text, font=font, fill=tuple(c // 3 for c in second))
    draw.text((x, y), text, font=font, fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


class BotApiUploader:
    """Makes a photo a real file of the bot: sendPhoto to a chat, keep the file_id, delete the
    message. Works against the sandbox (and would against Telegram, for a chat it may use)."""

    def __init__(self, api_url: str, token: str, http: httpx.Client) -> None:
        self._base = f"{api_url}/bot{token}"
        self._http = http

    def _call(self, method: str, **kwargs: object) -> object:
        response = self._http.post(f"{self._base}/{method}", **kwargs)  # type: ignore[arg-type]
        body = response.json()
        if not body.get("ok"):
            raise RuntimeError(f"{method} failed: {body.get('description')}")
        return body["result"]

    def upload(self, chat_id: int, jpeg: bytes) -> tuple[str, str]:
        """(file_id, file_unique_id) of the largest size, as the bot would store a photo."""
        message = self._call(
            "sendPhoto",
            data={"chat_id": str(chat_id)},
            files={"photo": ("photo.jpg", jpeg, "image/jpeg")},
        )
        assert isinstance(message, dict)
        largest = message["photo"][-1]
        self._call(
            "deleteMessage",
            data={"chat_id": str(chat_id), "message_id": str(message["message_id"])},
        )
        return str(largest["file_id"]), str(largest["file_unique_id"])


class Seeder:
    """Creates seeded people in the sandbox, the database and the bucket."""

    def __init__(
        self, sandbox: SandboxClient, uploader: BotApiUploader, pool: db.Pool, photos: PhotoStore
    ) -> None:
        self._sandbox = sandbox
        self._uploader = uploader
        self._pool = pool
        self._accounts = Accounts(pool)
        self._photos = photos

    def seed(self, count: int, rng_seed: int = 1) -> list[SeededProfile]:
        rng = random.Random(rng_seed)
        return [self.add(draft_profile(rng, number), rng) for number in range(count)]

    def add(self, draft: Draft, rng: random.Random) -> SeededProfile:
        user = self._sandbox.create_user(
            draft.name, username=draft.username, language_code=draft.language, started=True
        )
        accounts = self._accounts
        accounts.register(user.id, user.id, draft.language, draft.username)
        accounts.update_profile(
            user.id,
            name=draft.name,
            age=draft.age,
            gender=draft.gender,
            seeking=draft.seeking,
            age_min=draft.age_min,
            age_max=draft.age_max,
            city=draft.city,
            city_key=validate_city(draft.city)[1],
            latitude=draft.latitude,
            longitude=draft.longitude,
            about=draft.about,
            interests=list(draft.interests),
        )
        for _ in range(draft.photos):
            jpeg = placeholder_photo(draft.name, rng)
            file_id, unique_id = self._uploader.upload(user.id, jpeg)
            key = self._photos.put(jpeg, "image/jpeg")
            if not accounts.add_photo(user.id, key, file_id, unique_id, "image/jpeg", len(jpeg)):
                self._photos.delete([key])
        accounts.set_onboarding_step(user.id, None)
        with self._pool.connection() as conn:  # a history, so that "active" means something
            conn.execute(
                """UPDATE users SET last_active_at = now() - %s, created_at = now() - %s
                   WHERE id = %s""",
                (draft.inactive_for, draft.joined_ago, user.id),
            )
        return SeededProfile(**asdict(draft), user_id=user.id)


def seed_profiles(
    settings: Settings, count: int, rng_seed: int = 1, sandbox_url: str | None = None
) -> list[SeededProfile]:
    """Seed ``count`` people into the deployment ``settings`` describe, whose Bot API is a
    sandbox (its control API at ``sandbox_url``, by default the Bot API root)."""
    url = sandbox_url or settings.telegram_api_url
    pool = db.create_pool(settings.database_url, min_size=1, max_size=2, name="seed")
    try:
        db.apply_schema(pool)
        photos = PhotoStore(
            settings.s3_endpoint,
            settings.s3_access_key,
            settings.s3_secret_key,
            settings.s3_bucket,
            settings.s3_region,
        )
        photos.ensure_bucket()
        with httpx.Client(timeout=30) as http, SandboxClient(url) as sandbox:
            uploader = BotApiUploader(settings.telegram_api_url, settings.bot_token, http)
            return Seeder(sandbox, uploader, pool, photos).seed(count, rng_seed)
    finally:
        pool.close()


def summary(profiles: Sequence[SeededProfile]) -> str:
    """One line per city: how many people were seeded there."""
    counts: dict[str, int] = {}
    for profile in profiles:
        counts[profile.city] = counts.get(profile.city, 0) + 1
    places = ", ".join(f"{city} {n}" for city, n in sorted(counts.items(), key=lambda x: -x[1]))
    return f"seeded {len(profiles)} profiles: {places}"
