"""The fixed list of interests a profile can pick from (labels live in the catalogs)."""

INTERESTS: tuple[str, ...] = (
    "music",
    "movies",
    "books",
    "travel",
    "sport",
    "gym",
    "cooking",
    "games",
    "art",
    "photography",
    "dancing",
    "hiking",
    "pets",
    "tech",
    "science",
    "fashion",
    "cars",
    "yoga",
    "theatre",
    "volunteering",
)
MAX_INTERESTS = 10
