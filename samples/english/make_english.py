"""Generate ``english.txt``: a small, very regular corpus of simple English prose.

The corpus is meant for masked-word training of tiny transformers. Each document is 4-12
sentences about one topic (a farm, a kitchen, a school day, ...), built from templates with
consistent agreement (he feeds / they feed, a cow / an egg, one hen / two hens) and one tense
per document. Output format: one sentence per line, documents separated by exactly one blank
line, ASCII only, one trailing newline.

Stdlib only and deterministic for a given seed. Run from the repository root:

    python3 samples/english/make_english.py  # writes samples/english/english.txt
    python3 samples/english/make_english.py --seed 7 --out /tmp/english.txt  # elsewhere
"""

from __future__ import annotations

import argparse
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SEED = 2024
DEFAULT_DOCS = 140
DEFAULT_OUT = Path(__file__).resolve().parent / "english.txt"

MIN_SENTENCES, MAX_SENTENCES = 4, 12
MIN_BYTES, MAX_BYTES = 30_000, 150_000  # hard limits agreed for this sample


# --- lexicon types -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Noun:
    singular: str
    plural: str | None  # None for mass nouns ("milk"), which take "the"/"some", never "a"
    adjectives: tuple[str, ...]  # two or more, so a noun has its own collocations

    @property
    def mass(self) -> bool:
        return self.plural is None


@dataclass(frozen=True)
class Verb:
    base: str  # "feed", also used after "to" and "did"
    third: str  # present, third person singular: "feeds"
    past: str  # "fed"


@dataclass(frozen=True)
class Action:
    verb: Verb
    objects: tuple[str, ...]  # singular forms of the topic's nouns
    places: tuple[str, ...]  # where this action happens
    single: bool = False  # one object at a time: "rides a horse", never "rides two horses"


@dataclass(frozen=True)
class Topic:
    name: str
    person: Noun  # the topic's worker: "the farmer", "the farmers"
    nouns: tuple[Noun, ...]
    actions: tuple[Action, ...]
    places: tuple[str, ...]  # where things are: "in the barn"
    destinations: tuple[str, ...]  # where people go: "the barn"
    intros: tuple[tuple[str, str], ...]  # (present, past) opening sentences
    extras: tuple[tuple[str, str], ...]  # (present, past) sentences only this topic uses

    def noun(self, singular: str) -> Noun:
        return next(n for n in self.nouns if n.singular == singular)


def noun(singular: str, plural: str | None, adjectives: str) -> Noun:
    return Noun(singular, plural, tuple(adjectives.split()))


def mass(singular: str, adjectives: str) -> Noun:
    return Noun(singular, None, tuple(adjectives.split()))


def verb(forms: str) -> Verb:
    """Build a verb from "base|third|past"; "|" allows phrasal verbs like "look at"."""
    base, third, past = forms.split("|")
    return Verb(base, third, past)


def action(forms: str, objects: str, places: str, single: bool = False) -> Action:
    """Objects and places are comma-separated, since both may contain spaces."""
    return Action(verb(forms), tuple(objects.split(", ")), tuple(places.split(", ")), single)


def pairs(*items: str) -> tuple[tuple[str, str], ...]:
    """Group sentences as (present, past) pairs: pairs(p1, q1, p2, q2, ...)."""
    return tuple(zip(items[::2], items[1::2], strict=True))


# --- topics ------------------------------------------------------------------------------------
# Each topic has its own nouns, verbs and places, so topic words predict each other inside a
# document. Adjectives are attached to nouns to make repeated collocations ("the red apple").

FARM = Topic(
    name="farm",
    person=noun("farmer", "farmers", "old busy"),
    nouns=(
        noun("hen", "hens", "brown white little"),
        noun("cow", "cows", "big black brown"),
        noun("pig", "pigs", "pink fat little"),
        noun("horse", "horses", "tall brown white"),
        noun("sheep", "sheep", "white little old"),
        noun("egg", "eggs", "brown white fresh"),
        noun("goat", "goats", "old grey little"),
        noun("duck", "ducks", "white yellow little"),
        noun("tractor", "tractors", "red old big"),
        mass("milk", "fresh warm"),
        mass("hay", "dry yellow"),
    ),
    actions=(
        action(
            "feed|feeds|fed", "hen, cow, pig, horse, sheep, goat, duck", "in the barn, in the yard"
        ),
        action("milk|milks|milked", "cow, goat", "in the barn"),
        action("collect|collects|collected", "egg", "in the barn, in the yard"),
        action("ride|rides|rode", "horse, tractor", "in the field, on the hill", single=True),
        action("count|counts|counted", "hen, sheep, cow, duck, egg", "in the field, in the yard"),
        action("carry|carries|carried", "hay, milk, egg", "to the barn, to the house"),
    ),
    places=("in the barn", "in the field", "in the yard", "near the pond", "on the hill"),
    destinations=("the barn", "the field", "the pond", "the yard"),
    intros=pairs(
        "{name} lives on a farm.",
        "{name} spent a day on the farm.",
        "{name} works on a big farm.",
        "{name} worked on a big farm.",
        "{name} helps on the farm every day.",
        "{name} helped on the farm last summer.",
    ),
    extras=pairs(
        "The farm is quiet in the morning.",
        "The farm was quiet in the morning.",
        "The cows are hungry.",
        "The cows were hungry.",
        "{name} gets up early.",
        "{name} got up early.",
        "The hens lay eggs every day.",
        "The hens laid eggs every day.",
    ),
)

KITCHEN = Topic(
    name="kitchen",
    person=noun("cook", "cooks", "busy happy"),
    nouns=(
        noun("apple", "apples", "red green sweet"),
        noun("cake", "cakes", "sweet big warm"),
        noun("cup", "cups", "blue clean small"),
        noun("plate", "plates", "white clean dirty"),
        noun("bowl", "bowls", "big yellow clean"),
        noun("pot", "pots", "big black hot"),
        noun("egg", "eggs", "brown white fresh"),
        mass("soup", "hot warm"),
        mass("bread", "fresh warm brown"),
        mass("tea", "hot sweet"),
        mass("milk", "cold fresh"),
    ),
    actions=(
        action("wash|washes|washed", "cup, plate, bowl, pot, apple", "in the sink"),
        action("cut|cuts|cut", "apple, bread, cake", "on the table, with a knife"),
        action("make|makes|made", "cake, soup, bread, tea", "in the kitchen"),
        action("eat|eats|ate", "apple, cake, soup, bread, egg", "at the table, in the kitchen"),
        action("drink|drinks|drank", "tea, milk", "at the table"),
        action("cook|cooks|cooked", "soup, egg", "on the stove"),
        action("bake|bakes|baked", "cake, bread", "in the oven"),
    ),
    places=("on the table", "on the shelf", "in the kitchen", "near the window"),
    destinations=("the kitchen", "the table", "the shop"),
    intros=pairs(
        "{name} is in the kitchen.",
        "{name} was in the kitchen.",
        "{name} likes to cook.",
        "{name} wanted to cook dinner.",
        "{name} is hungry.",
        "{name} was hungry.",
    ),
    extras=pairs(
        "The kitchen smells good.",
        "The kitchen smelled good.",
        "The soup is ready.",
        "The soup was ready.",
        "Dinner is at six.",
        "Dinner was at six.",
    ),
)

SCHOOL = Topic(
    name="school",
    person=noun("teacher", "teachers", "kind young"),
    nouns=(
        noun("book", "books", "new old blue"),
        noun("pen", "pens", "blue black red"),
        noun("pencil", "pencils", "yellow long short"),
        noun("desk", "desks", "old small clean"),
        noun("picture", "pictures", "pretty big bright"),
        noun("song", "songs", "happy new funny"),
        noun("story", "stories", "funny long short"),
        noun("map", "maps", "big old"),
        noun("letter", "letters", "long short"),
        noun("bag", "bags", "heavy red blue"),
        noun("lesson", "lessons", "long short new"),
    ),
    actions=(
        action("read|reads|read", "book, story, letter, map", "in the classroom, at the desk"),
        action("write|writes|wrote", "letter, story", "at the desk, in the classroom"),
        action("draw|draws|drew", "picture, map", "at the desk"),
        action("sing|sings|sang", "song", "in the classroom, in the hall"),
        action("open|opens|opened", "book, bag", "in the classroom"),
        action("learn|learns|learned", "song, lesson", "at school"),
        action("carry|carries|carried", "bag, book", "to school"),
    ),
    places=("in the classroom", "on the desk", "in the bag", "at school", "in the hall"),
    destinations=("school", "the classroom", "the playground", "the hall"),
    intros=pairs(
        "{name} goes to school.",
        "{name} went to school.",
        "It is a school day for {name}.",
        "It was a school day for {name}.",
        "{name} likes school.",
        "{name} liked school.",
    ),
    extras=pairs(
        "The bell rings at nine.",
        "The bell rang at nine.",
        "The children sit at their desks.",
        "The children sat at their desks.",
        "The teacher is kind.",
        "The teacher was kind.",
        "Lunch is at noon.",
        "Lunch was at noon.",
    ),
)

WEATHER = Topic(
    name="weather",
    person=noun("neighbour", "neighbours", "old kind"),
    nouns=(
        noun("cloud", "clouds", "grey dark white big"),
        mass("rain", "cold heavy"),
        mass("snow", "white deep soft"),
        noun("umbrella", "umbrellas", "red big old"),
        noun("coat", "coats", "warm green long"),
        noun("hat", "hats", "warm red"),
        noun("boot", "boots", "black old"),
        noun("puddle", "puddles", "big deep"),
        noun("leaf", "leaves", "yellow brown wet"),
    ),
    actions=(
        action("watch|watches|watched", "cloud, rain, snow", "from the window"),
        action("wear|wears|wore", "coat, hat, boot", "outside"),
        action("carry|carries|carried", "umbrella", "outside, on the street"),
        action("jump in|jumps in|jumped in", "puddle", "on the street, in the garden"),
        action("look at|looks at|looked at", "cloud, snow, puddle, leaf", "from the window"),
        action("open|opens|opened", "umbrella", "outside, by the door"),
    ),
    places=("outside", "in the garden", "on the street", "by the door"),
    destinations=("the window", "the door", "the garden"),
    intros=pairs(
        "Today the weather is cold.",
        "Yesterday the weather was cold.",
        "{name} looks out of the window.",
        "{name} looked out of the window.",
        "It is a rainy day.",
        "It was a rainy day.",
    ),
    extras=pairs(
        "It is cold and windy.",
        "It was cold and windy.",
        "The sky is grey.",
        "The sky was grey.",
        "The sun is hot and bright.",
        "The sun was hot and bright.",
        "It rains all day.",
        "It rained all day.",
        "The wind is strong.",
        "The wind was strong.",
    ),
)

TOWN = Topic(
    name="town",
    person=noun("driver", "drivers", "kind busy"),
    nouns=(
        noun("bus", "buses", "big red green"),
        noun("shop", "shops", "small new busy"),
        noun("car", "cars", "blue fast old"),
        noun("ticket", "tickets", "small yellow"),
        noun("bike", "bikes", "red new old"),
        noun("map", "maps", "big old"),
        noun("bag", "bags", "new red"),
        noun("hat", "hats", "new blue"),
        noun("friend", "friends", "old good"),
        noun("street", "streets", "busy long quiet"),
    ),
    actions=(
        action("take|takes|took", "bus", "to town", single=True),
        action("buy|buys|bought", "ticket, hat, bag, map", "in the shop, in town"),
        action("visit|visits|visited", "shop, friend", "in town"),
        action("ride|rides|rode", "bike", "on the street, to town", single=True),
        action("cross|crosses|crossed", "street", "near the station"),
        action("meet|meets|met", "friend", "in the square, near the station"),
        action("wait for|waits for|waited for", "bus, friend", "at the bus stop"),
    ),
    places=("in town", "on the street", "near the station", "in the square"),
    destinations=("town", "the station", "the shop", "the square", "the bank"),
    intros=pairs(
        "{name} goes to town.",
        "{name} went to town.",
        "{name} has a trip to town today.",
        "{name} had a trip to town yesterday.",
        "{name} needs a new hat.",
        "{name} needed a new hat.",
    ),
    extras=pairs(
        "The town is busy.",
        "The town was busy.",
        "The bus is late.",
        "The bus was late.",
        "The shops open at nine.",
        "The shops opened at nine.",
        "The streets are full of people.",
        "The streets were full of people.",
    ),
)

FAMILY = Topic(
    name="family",
    person=noun("cousin", "cousins", "little young"),
    nouns=(
        noun("baby", "babies", "little happy"),
        noun("dog", "dogs", "brown big little"),
        noun("cat", "cats", "black grey little"),
        noun("uncle", "uncles", "tall funny"),
        noun("aunt", "aunts", "kind young"),
        noun("friend", "friends", "old good"),
        noun("photo", "photos", "old funny"),
        noun("gift", "gifts", "big small"),
        noun("game", "games", "new long"),
        mass("dinner", "big warm"),
    ),
    actions=(
        action("hug|hugs|hugged", "baby, dog, cat, uncle, aunt", "at home"),
        action("visit|visits|visited", "uncle, aunt, friend", "on Sunday"),
        action("call|calls|called", "uncle, aunt, friend", "on the phone"),
        action("play|plays|played", "game", "in the living room, at the table"),
        action("look at|looks at|looked at", "photo, baby", "in the living room"),
        action("eat|eats|ate", "dinner", "at the table"),
        action("wrap|wraps|wrapped", "gift", "in the living room"),
    ),
    places=("at home", "in the living room", "at the table", "in the garden"),
    destinations=("the living room", "the garden", "the kitchen"),
    intros=pairs(
        "{name} has a big family.",
        "{name} had a big family.",
        "{name} lives with {his} mother and father.",
        "{name} lived with {his} mother and father.",
        "Today the family is at home.",
        "On Sunday the family was at home.",
    ),
    extras=pairs(
        "{his} mother is kind.",
        "{his} mother was kind.",
        "The family eats dinner together.",
        "The family ate dinner together.",
        "The baby sleeps a lot.",
        "The baby slept a lot.",
        "{his} brother is funny.",
        "{his} brother was funny.",
        "{his} grandmother lives in a small house.",
        "{his} grandmother lived in a small house.",
    ),
)

GARDEN = Topic(
    name="garden",
    person=noun("gardener", "gardeners", "old busy"),
    nouns=(
        noun("flower", "flowers", "red yellow pretty"),
        noun("tree", "trees", "tall old green"),
        noun("seed", "seeds", "small brown"),
        noun("rose", "roses", "red pink white"),
        noun("leaf", "leaves", "green yellow dry"),
        noun("plant", "plants", "green young tall"),
        noun("bird", "birds", "little brown"),
        noun("bee", "bees", "busy little"),
        noun("worm", "worms", "long pink"),
        noun("carrot", "carrots", "orange long sweet"),
        noun("tomato", "tomatoes", "red sweet"),
        noun("hole", "holes", "deep small"),
    ),
    actions=(
        action("water|waters|watered", "flower, plant, tree, rose, tomato", "in the garden"),
        action(
            "plant|plants|planted",
            "seed, tree, flower, rose, carrot",
            "near the fence, by the wall",
        ),
        action("pick|picks|picked", "flower, rose, tomato, carrot", "in the garden"),
        action("dig|digs|dug", "hole", "near the fence, under the tree"),
        action("watch|watches|watched", "bird, bee, worm", "in the garden, under the tree"),
        action("sweep|sweeps|swept", "leaf", "on the path"),
    ),
    places=("in the garden", "near the fence", "under the tree", "by the wall", "on the path"),
    destinations=("the garden", "the fence", "the shed", "the gate"),
    intros=pairs(
        "{name} has a small garden.",
        "{name} had a small garden.",
        "{name} works in the garden.",
        "{name} worked in the garden.",
        "{name} loves the garden.",
        "{name} loved the garden.",
    ),
    extras=pairs(
        "The sun is warm.",
        "The sun was warm.",
        "The flowers grow fast.",
        "The flowers grew fast.",
        "The birds sing in the trees.",
        "The birds sang in the trees.",
        "The garden is green and pretty.",
        "The garden was green and pretty.",
    ),
)

MARKET = Topic(
    name="market",
    person=noun("seller", "sellers", "busy happy"),
    nouns=(
        noun("apple", "apples", "red green sweet"),
        noun("orange", "oranges", "sweet big"),
        noun("banana", "bananas", "yellow long"),
        noun("fish", "fish", "fresh big"),
        mass("cheese", "yellow soft"),
        mass("bread", "fresh brown"),
        noun("basket", "baskets", "big heavy"),
        noun("coin", "coins", "small old"),
        noun("melon", "melons", "big green sweet"),
        noun("box", "boxes", "heavy big"),
        noun("egg", "eggs", "brown fresh"),
    ),
    actions=(
        action(
            "buy|buys|bought",
            "apple, orange, banana, fish, cheese, bread, melon, egg",
            "at the stall",
        ),
        action(
            "sell|sells|sold", "apple, orange, banana, fish, cheese, melon, egg", "at the market"
        ),
        action("carry|carries|carried", "basket, box, melon", "to the stall, in the square"),
        action("count|counts|counted", "coin, orange, egg", "at the stall"),
        action("choose|chooses|chose", "apple, orange, melon", "at the stall, at the market"),
    ),
    places=("at the market", "at the stall", "in the square", "in the basket"),
    destinations=("the market", "the stall", "the square"),
    intros=pairs(
        "{name} goes to the market.",
        "{name} went to the market.",
        "It is market day.",
        "It was market day.",
        "{name} has a basket and some coins.",
        "{name} had a basket and some coins.",
    ),
    extras=pairs(
        "The market is busy.",
        "The market was busy.",
        "The fruit is fresh.",
        "The fruit was fresh.",
        "The seller smiles.",
        "The seller smiled.",
    ),
)

PARK = Topic(
    name="park",
    person=noun("child", "children", "little happy"),
    nouns=(
        noun("ball", "balls", "red big blue"),
        noun("kite", "kites", "red yellow"),
        noun("dog", "dogs", "brown big little"),
        noun("duck", "ducks", "white little"),
        noun("swing", "swings", "old new"),
        noun("bench", "benches", "green old"),
        noun("friend", "friends", "old good"),
        noun("sandwich", "sandwiches", "big fresh"),
        mass("grass", "green long"),
    ),
    actions=(
        action("throw|throws|threw", "ball", "on the grass"),
        action("kick|kicks|kicked", "ball", "on the grass, in the park"),
        action("fly|flies|flew", "kite", "in the park, on the hill", single=True),
        action("feed|feeds|fed", "duck, dog", "by the pond"),
        action("walk|walks|walked", "dog", "in the park"),
        action(
            "sit on|sits on|sat on", "bench, swing, grass", "in the park, by the pond", single=True
        ),
        action("eat|eats|ate", "sandwich", "on the grass, under the tree"),
        action("play with|plays with|played with", "ball, dog, friend", "in the park"),
    ),
    places=("in the park", "by the pond", "on the grass", "near the swings", "under the tree"),
    destinations=("the park", "the pond", "the swings", "the gate"),
    intros=pairs(
        "{name} goes to the park.",
        "{name} went to the park.",
        "{name} plays in the park after school.",
        "{name} played in the park after school.",
        "It is a sunny day in the park.",
        "It was a sunny day in the park.",
    ),
    extras=pairs(
        "The park is green and quiet.",
        "The park was green and quiet.",
        "The ducks swim in the pond.",
        "The ducks swam in the pond.",
        "Children run on the grass.",
        "Children ran on the grass.",
    ),
)

BEACH = Topic(
    name="beach",
    person=noun("fisherman", "fishermen", "old busy"),
    nouns=(
        noun("shell", "shells", "white pink pretty"),
        noun("boat", "boats", "small white red"),
        noun("wave", "waves", "big small"),
        noun("crab", "crabs", "little red"),
        noun("stone", "stones", "grey round"),
        noun("sandcastle", "sandcastles", "big tall"),
        noun("towel", "towels", "blue soft"),
        noun("fish", "fish", "little silver"),
        mass("sand", "soft warm wet"),
        mass("water", "cold blue"),
        noun("ice cream", "ice creams", "cold sweet"),
    ),
    actions=(
        action("collect|collects|collected", "shell, stone", "on the beach, near the rocks"),
        action("build|builds|built", "sandcastle", "on the sand"),
        action("watch|watches|watched", "boat, wave, crab", "on the beach"),
        action("find|finds|found", "shell, crab, stone", "near the rocks, on the sand"),
        action("eat|eats|ate", "ice cream", "on the beach"),
        action("catch|catches|caught", "fish, crab", "in the sea, near the rocks"),
    ),
    places=("on the beach", "in the sea", "near the rocks", "on the sand"),
    destinations=("the beach", "the sea", "the rocks"),
    intros=pairs(
        "{name} is at the beach.",
        "{name} went to the beach.",
        "It is a hot day at the sea.",
        "It was a hot day at the sea.",
        "{name} and {his} family are on holiday.",
        "{name} and {his} family were on holiday.",
    ),
    extras=pairs(
        "The sea is blue and calm.",
        "The sea was blue and calm.",
        "The sun is hot.",
        "The sun was hot.",
        "The water is cold.",
        "The water was cold.",
        "Birds fly over the sea.",
        "Birds flew over the sea.",
    ),
)

TOPICS = (FARM, KITCHEN, SCHOOL, WEATHER, TOWN, FAMILY, GARDEN, MARKET, PARK, BEACH)

NAMES = (
    ("Tom", "he"),
    ("Anna", "she"),
    ("Sam", "he"),
    ("Lily", "she"),
    ("Ben", "he"),
    ("Mia", "she"),
    ("Jack", "he"),
    ("Emma", "she"),
    ("Max", "he"),
    ("Lucy", "she"),
)
RELATIVES = ("mother", "father", "sister", "brother")
FEELINGS = ("happy", "tired", "hungry", "busy", "sleepy")
NUMBERS = ("two", "three", "four", "five")

# Time phrases must agree with the document's tense: "every morning" is habitual (present),
# "yesterday" is past; the shared ones work with both.
SHARED_TIMES = ("in the morning", "in the afternoon", "in the evening", "after lunch")
PRESENT_TIMES = (*SHARED_TIMES, "every morning", "every day", "on Saturdays", "today")
PAST_TIMES = (*SHARED_TIMES, "yesterday", "last week", "on Saturday", "that morning")


# --- grammar helpers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Phrase:
    """A noun phrase and whether it is plural, which decides verb agreement."""

    text: str
    plural: bool


@dataclass(frozen=True)
class Person:
    name: str
    he: str

    @property
    def his(self) -> str:
        return "his" if self.he == "he" else "her"


@dataclass
class Scene:
    """Everything fixed for one document: topic, tense and the two characters."""

    rng: random.Random
    topic: Topic
    past: bool
    hero: Person
    friend: Person
    hero_named: bool = False  # "he"/"she" may only refer back to a hero already named


def a_or_an(word: str) -> str:
    # Every word in this lexicon that starts with a vowel letter starts with a vowel sound.
    return "an" if word[0] in "aeiou" else "a"


def conjugate(v: Verb, plural: bool, past: bool) -> str:
    if past:
        return v.past
    return v.base if plural else v.third


def be(plural: bool, past: bool) -> str:
    if past:
        return "were" if plural else "was"
    return "are" if plural else "is"


def do(plural: bool, past: bool) -> str:
    if past:
        return "did"
    return "do" if plural else "does"


def capitalise(sentence: str) -> str:
    return sentence[0].upper() + sentence[1:]


def with_adjective(scene: Scene, noun_: Noun, word: str) -> str:
    """Prefix an adjective most of the time, always from the noun's own list."""
    if scene.rng.random() < 0.6:
        return f"{scene.rng.choice(noun_.adjectives)} {word}"
    return word


def definite(scene: Scene, noun_: Noun, single: bool = False) -> Phrase:
    """Build "the (adj) hen" or "the (adj) hens"."""
    plural = not (noun_.mass or single) and scene.rng.random() < 0.35
    word = noun_.plural if plural else noun_.singular
    return Phrase(f"the {with_adjective(scene, noun_, word)}", plural)


def indefinite(scene: Scene, noun_: Noun, single: bool = False) -> Phrase:
    """Build "a/an (adj) hen", "two (adj) hens", "some (adj) hens" or "some (adj) milk"."""
    rng = scene.rng
    if noun_.mass:
        return Phrase(f"some {with_adjective(scene, noun_, noun_.singular)}", False)
    if single or rng.random() < 0.55:
        body = with_adjective(scene, noun_, noun_.singular)
        return Phrase(f"{a_or_an(body)} {body}", False)
    determiner = rng.choice((*NUMBERS, "some"))
    return Phrase(f"{determiner} {with_adjective(scene, noun_, noun_.plural)}", True)


def any_np(scene: Scene, noun_: Noun, single: bool = False) -> Phrase:
    if scene.rng.random() < 0.6:
        return definite(scene, noun_, single)
    return indefinite(scene, noun_, single)


def subject(scene: Scene) -> Phrase:
    """Pick who does something; the hero is most likely so documents stay about one person."""
    rng, hero, friend = scene.rng, scene.hero, scene.friend
    person = scene.topic.person
    options: list[tuple[float, Phrase]] = [
        (4.0, Phrase(hero.name, False)),
        (3.0 if scene.hero_named else 0.0, Phrase(hero.he, False)),
        (1.5, Phrase(friend.name, False)),
        (1.0, Phrase(f"{hero.name} and {friend.name}", True)),
        (1.0, Phrase(f"the {person.singular}", False)),
        (0.5, Phrase(f"the {person.plural}", True)),
        (1.0 if scene.hero_named else 0.0, Phrase(f"{hero.his} {rng.choice(RELATIVES)}", False)),
    ]
    weights = [w for w, _ in options]
    return rng.choices([p for _, p in options], weights=weights)[0]


def time_phrase(scene: Scene) -> str:
    return scene.rng.choice(PAST_TIMES if scene.past else PRESENT_TIMES)


def maybe(scene: Scene, text: str, chance: float) -> str:
    """Return " text" with the given chance, else ""; used for optional trailing phrases."""
    return f" {text}" if scene.rng.random() < chance else ""


def pick_action(scene: Scene) -> tuple[Action, Phrase]:
    act = scene.rng.choice(scene.topic.actions)
    obj = any_np(scene, scene.topic.noun(scene.rng.choice(act.objects)), act.single)
    return act, obj


def pick_noun(scene: Scene) -> Noun:
    return scene.rng.choice(scene.topic.nouns)


# --- sentence templates ------------------------------------------------------------------------
# Each template returns one sentence; make_document capitalises its first letter.


def s_action(scene: Scene) -> str:
    subj = subject(scene)
    act, obj = pick_action(scene)
    verb_ = conjugate(act.verb, subj.plural, scene.past)
    place = maybe(scene, scene.rng.choice(act.places), 0.85)
    when = maybe(scene, time_phrase(scene), 0.5)
    return f"{subj.text} {verb_} {obj.text}{place}{when}."


def s_fronted_time(scene: Scene) -> str:
    subj = subject(scene)
    act, obj = pick_action(scene)
    verb_ = conjugate(act.verb, subj.plural, scene.past)
    place = maybe(scene, scene.rng.choice(act.places), 0.5)
    return f"{capitalise(time_phrase(scene))}, {subj.text} {verb_} {obj.text}{place}."


def s_and_then(scene: Scene) -> str:
    subj = subject(scene)
    (act1, obj1), (act2, obj2) = pick_action(scene), pick_action(scene)
    verb1 = conjugate(act1.verb, subj.plural, scene.past)
    verb2 = conjugate(act2.verb, subj.plural, scene.past)
    return f"{subj.text} {verb1} {obj1.text} and then {verb2} {obj2.text}."


def s_with(scene: Scene) -> str:
    hero, rng = scene.hero, scene.rng
    act, obj = pick_action(scene)
    if act.verb.base.endswith(" with"):  # avoid "plays with the ball with Anna"
        return s_action(scene)
    verb_ = conjugate(act.verb, False, scene.past)
    partner = rng.choice((scene.friend.name, f"{hero.his} {rng.choice(RELATIVES)}"))
    return f"{hero.name} {verb_} {obj.text} with {partner}."


def hero_or_pair(scene: Scene) -> tuple[Phrase, str]:
    """A subject plus the pronoun that refers back to it later in the same sentence."""
    if scene.rng.random() < 0.75:
        return Phrase(scene.hero.name, False), scene.hero.he
    return Phrase(f"{scene.hero.name} and {scene.friend.name}", True), "they"


def s_because(scene: Scene) -> str:
    subj, pronoun = hero_or_pair(scene)
    act, obj = pick_action(scene)
    feeling = scene.rng.choice(FEELINGS)
    verb_ = conjugate(act.verb, subj.plural, scene.past)
    return (
        f"{subj.text} {be(subj.plural, scene.past)} {feeling} because {pronoun} {verb_} {obj.text}."
    )


def s_before(scene: Scene) -> str:
    subj, pronoun = hero_or_pair(scene)
    (act1, obj1), (act2, obj2) = pick_action(scene), pick_action(scene)
    verb1 = conjugate(act1.verb, subj.plural, scene.past)
    verb2 = conjugate(act2.verb, subj.plural, scene.past)
    link = scene.rng.choice(("before", "after"))
    return f"{subj.text} {verb1} {obj1.text} {link} {pronoun} {verb2} {obj2.text}."


def s_there_is(scene: Scene) -> str:
    thing = indefinite(scene, pick_noun(scene))
    place = scene.rng.choice(scene.topic.places)
    return f"there {be(thing.plural, scene.past)} {thing.text} {place}."


def s_describe(scene: Scene) -> str:
    noun_ = pick_noun(scene)
    rng = scene.rng
    if not noun_.mass and rng.random() < 0.4:
        first, second = rng.sample(noun_.adjectives, 2)
        return f"the {noun_.plural} {be(True, scene.past)} {first} and {second}."
    place = maybe(scene, rng.choice(scene.topic.places), 0.5)
    return f"the {noun_.singular}{place} {be(False, scene.past)} {rng.choice(noun_.adjectives)}."


def s_likes(scene: Scene) -> str:
    subj = subject(scene)
    like = conjugate(verb("like|likes|liked"), subj.plural, scene.past)
    if scene.rng.random() < 0.5:
        return f"{subj.text} {like} {definite(scene, pick_noun(scene)).text}."
    act, obj = pick_action(scene)
    place = maybe(scene, scene.rng.choice(act.places), 0.5)
    return f"{subj.text} {like} to {act.verb.base} {obj.text}{place}."


def s_wants(scene: Scene) -> str:
    subj = subject(scene)
    want = conjugate(verb("want|wants|wanted"), subj.plural, scene.past)
    act, obj = pick_action(scene)
    when = maybe(scene, time_phrase(scene), 0.5)
    return f"{subj.text} {want} to {act.verb.base} {obj.text}{when}."


def s_goes(scene: Scene) -> str:
    subj = subject(scene)
    move = scene.rng.choice((verb("go|goes|went"), verb("walk|walks|walked"), verb("run|runs|ran")))
    place = scene.rng.choice(scene.topic.destinations)
    when = maybe(scene, time_phrase(scene), 0.6)
    return f"{subj.text} {conjugate(move, subj.plural, scene.past)} to {place}{when}."


def s_has(scene: Scene) -> str:
    subj = subject(scene)
    have = conjugate(verb("have|has|had"), subj.plural, scene.past)
    when = maybe(scene, time_phrase(scene), 0.4)
    return f"{subj.text} {have} {indefinite(scene, pick_noun(scene)).text}{when}."


def s_sees(scene: Scene) -> str:
    subj = subject(scene)
    can = "could" if scene.past else "can"
    thing = indefinite(scene, pick_noun(scene))
    return f"{subj.text} {can} see {thing.text} {scene.rng.choice(scene.topic.places)}."


def s_feels(scene: Scene) -> str:
    subj = subject(scene)
    when = maybe(scene, time_phrase(scene), 0.5)
    return f"{subj.text} {be(subj.plural, scene.past)} {scene.rng.choice(FEELINGS)}{when}."


def s_question(scene: Scene) -> str:
    rng = scene.rng
    kind = rng.randrange(3)
    if kind == 0:
        thing = definite(scene, pick_noun(scene))
        return f"where {be(thing.plural, scene.past)} {thing.text}?"
    if kind == 1:
        subj = subject(scene)
        thing = definite(scene, pick_noun(scene))
        return f"{do(subj.plural, scene.past)} {subj.text} like {thing.text}?"
    noun_ = pick_noun(scene)
    return f"{be(False, scene.past)} the {noun_.singular} {rng.choice(noun_.adjectives)}?"


def s_exclaim(scene: Scene) -> str:
    noun_ = pick_noun(scene)
    adjective = scene.rng.choice(noun_.adjectives)
    if noun_.mass or scene.rng.random() < 0.5:
        return f"the {noun_.singular} {be(False, scene.past)} so {adjective}!"
    return f"what {a_or_an(adjective)} {adjective} {noun_.singular}!"


def s_extra(scene: Scene) -> str:
    present, past = scene.rng.choice(scene.topic.extras)
    return fill(past if scene.past else present, scene)


Template = Callable[[Scene], str]

# Weights favour action sentences: they carry the verb-object-place patterns worth learning.
TEMPLATES: tuple[tuple[Template, float], ...] = (
    (s_action, 7.0),
    (s_fronted_time, 2.5),
    (s_and_then, 2.0),
    (s_with, 1.5),
    (s_because, 1.5),
    (s_before, 1.5),
    (s_there_is, 2.0),
    (s_describe, 1.5),
    (s_likes, 1.5),
    (s_wants, 1.0),
    (s_goes, 1.5),
    (s_has, 1.0),
    (s_sees, 1.0),
    (s_feels, 0.8),
    (s_question, 1.0),
    (s_exclaim, 0.6),
    (s_extra, 1.5),
)


# --- documents ---------------------------------------------------------------------------------


def fill(pattern: str, scene: Scene) -> str:
    return capitalise(pattern.format(name=scene.hero.name, his=scene.hero.his))


def new_scene(rng: random.Random, topic: Topic) -> Scene:
    hero, friend = rng.sample(NAMES, 2)
    return Scene(rng, topic, rng.random() < 0.5, Person(*hero), Person(*friend))


def make_document(rng: random.Random, topic: Topic) -> list[str]:
    """One document: an opening sentence, then distinct template sentences on the same topic."""
    scene = new_scene(rng, topic)
    present, past = rng.choice(topic.intros)
    sentences = [fill(past if scene.past else present, scene)]
    scene.hero_named = scene.hero.name in sentences[0]
    target = rng.randint(MIN_SENTENCES, MAX_SENTENCES)
    functions = [t for t, _ in TEMPLATES]
    weights = [w for _, w in TEMPLATES]
    while len(sentences) < target:
        template = rng.choices(functions, weights=weights)[0]
        sentence = capitalise(template(scene))
        if sentence not in sentences:  # no verbatim repeats inside a document
            sentences.append(sentence)
            scene.hero_named = scene.hero_named or scene.hero.name in sentence
    return sentences


def make_corpus(seed: int, n_docs: int) -> list[list[str]]:
    rng = random.Random(seed)
    # Cycle through the topics in shuffled rounds so every topic gets a fair share.
    documents = []
    while len(documents) < n_docs:
        order = list(TOPICS)
        rng.shuffle(order)
        for topic in order[: n_docs - len(documents)]:
            documents.append(make_document(rng, topic))
    return documents


def render(documents: list[list[str]]) -> str:
    return "\n\n".join("\n".join(doc) for doc in documents) + "\n"


def check(text: str, documents: list[list[str]]) -> None:
    """Fail loudly if the output breaks the format promised in README.md."""
    assert text.isascii(), "corpus must be ASCII"
    assert not text.startswith("\n") and text.endswith("\n") and not text.endswith("\n\n")
    assert "\n\n\n" not in text, "documents are separated by exactly one blank line"
    assert all(MIN_SENTENCES <= len(doc) <= MAX_SENTENCES for doc in documents)
    assert all(line[-1] in ".?!" for doc in documents for line in doc)
    size = len(text.encode("ascii"))
    assert MIN_BYTES <= size <= MAX_BYTES, f"size {size} outside {MIN_BYTES}..{MAX_BYTES}"


def stats(text: str, documents: list[list[str]]) -> dict[str, int]:
    words = re.findall(r"[a-z]+", text.lower())
    return {
        "bytes": len(text.encode("ascii")),
        "documents": len(documents),
        "sentences": sum(len(doc) for doc in documents),
        "words": len(words),
        "distinct_words": len(set(words)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--docs", type=int, default=DEFAULT_DOCS, help="number of documents")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()

    documents = make_corpus(args.seed, args.docs)
    text = render(documents)
    check(text, documents)
    args.out.write_bytes(text.encode("ascii"))  # bytes: no platform newline translation
    print(f"wrote {args.out}")
    for key, value in stats(text, documents).items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
