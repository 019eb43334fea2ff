"""The only class-name vocabulary: source labels -> readable English nouns for captions.

A source label ("small-vehicle", "Ground_Track_Field") becomes a :class:`CategoryName` with a singular, a plural and
an indefinite article chosen by sound ("a ship", "an airplane"). Conventions:

- **Default name**: the label lower-cased, "-" and "_" turned into spaces, runs of whitespace collapsed and the ends
  stripped: "small-vehicle" -> "small vehicle", "Ground_Track_Field" -> "ground track field".
- **Explicit names** (a recipe's name map) override the default. Keys are source labels exactly as the source
  writes them (no normalisation, so a map is never matched by accident). A value is the singular (``"car"``), a
  pair ``(singular, plural)``, or a mapping ``{"singular": ..., "plural": ...}`` (the YAML form; ``plural``
  optional). Explicit names are used as written, only stripped, so a recipe may keep capitals ("Ferris wheel").
- **Plurals** come from :data:`PLURAL_OVERRIDES` (domain words: mass nouns stay unchanged, "person" -> "people",
  ...) and otherwise from the ``inflect`` library. A name is pluralised on its head word: the last word before any
  preposition ("place with trees" -> "places with trees", "low vegetation" -> "low vegetation").
- **Mass nouns** ("water", "low vegetation", "clutter": :data:`MASS_NOUNS`) cannot be counted, but B2C counts
  every category ("a ...", "3 ...", "many ..."). A *default* name whose head word is a mass noun is therefore
  named as a place, the way captions.md (m2b/1) names region classes: label "water" -> "a place with water" /
  "3 places with water", never "a water" or "3 water". Explicit names are used as written (a scene prompt such as
  "farmland" must stay as it is), so a recipe names its region classes as places itself
  (``water: place with water``); ``tests/captions/test_recipe_names.py`` holds every shipped recipe to that.
  Likewise a default name whose head word is a plural source label is made singular (:data:`SINGULAR_OVERRIDES`:
  "people" -> "a person" / "people"). Neither changes the rule id (``b2c/1``): b2c/1 already asks for "a readable
  English singular noun and its plural" and names region classes as places; "a water" or "a people" broke it. No
  shipped recipe's captions change through these rules (their names are explicit).
- **Articles** come from :data:`ARTICLE_OVERRIDES` (keyed by the first word) and otherwise from ``inflect``.
- **Closed vocabularies**: a name map that lists every class of a dataset (a recipe's, unless it says
  ``closed_names: false``) is *closed*: a label outside it is not a class of the dataset, so it never becomes a
  caption word. :meth:`CategoryVocabulary.check_labels` rejects a record holding one as ``unknown_class``; the
  build calls it on every record before making any of its rows.

``inflect`` is imported lazily (``import rsdata`` must not pay for it), and without ``typeguard``'s run-time
instrumentation of its methods (:func:`import_inflect`): that instrumentation re-parses inflect's source once per
decorated method, 2-3 s per process, and a build with worker processes paid it in every worker. The build imports
it once in the parent before starting workers (:meth:`CategoryVocabulary.warm_up`), so forked workers share it,
and every result is cached per label, so after warm-up :meth:`CategoryVocabulary.name` is one dictionary lookup.
"""

from __future__ import annotations

import functools
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Union

from rsdata import errors
from rsdata.errors import OptionError, RecordError

#: A name-map value: the singular, ``(singular, plural)``, or ``{"singular": ..., "plural": ...}``.
NameSpec = Union[str, tuple[str, str], Mapping[str, str]]

#: Uncountable head words (land cover, materials): a default name with one of these heads is named as a place
#: ("place with water"), since "a water" and "3 water" are not English. Keyed by the lower-cased head word.
MASS_NOUNS: frozenset[str] = frozenset({
    "vegetation", "water", "clutter", "soil", "farmland", "grass", "land", "cropland", "rangeland", "grassland",
    "woodland", "shrubland", "bareland", "barren", "agriculture", "background", "snow", "ice", "sand", "gravel",
    "asphalt", "concrete", "debris", "rubble", "mud", "equipment", "livestock", "cattle",
})
#: The count noun a mass-noun name is counted by: "water" -> "place with water" (captions.md, m2b/1).
MASS_NOUN_PLACE = "place with"

#: Source labels that are plural ("people" in VisDrone): a default name is made singular on its head word, so that
#: one object reads "a person", not "a people". Keyed by the lower-cased head word.
SINGULAR_OVERRIDES: dict[str, str] = {"people": "person", "persons": "person", "pedestrians": "pedestrian"}

#: Plurals the library gets wrong or that remote-sensing readers expect differently, keyed by the lower-cased
#: singular head word (or whole phrase). Mass nouns keep their form ("places with low vegetation", never "low
#: vegetations"); a default name never ends on one (see :data:`MASS_NOUNS`).
PLURAL_OVERRIDES: dict[str, str] = {
    # Mass nouns and land-cover classes (ISPRS Potsdam/Vaihingen, LoveDA, DeepGlobe, OpenEarthMap, ...).
    **{word: word for word in sorted(MASS_NOUNS)},
    # Names that are already plural as written by their source.
    "impervious surfaces": "impervious surfaces",
    "crossroads": "crossroads",
    # Irregular plurals, pinned so that a change in the library cannot change captions silently.
    "person": "people",
    "people": "people",
    "aircraft": "aircraft",
    "spacecraft": "spacecraft",
    "hovercraft": "hovercraft",
    "watercraft": "watercraft",
    "sheep": "sheep",
    "deer": "deer",
    "fish": "fish",
    "bus": "buses",
    "ferry": "ferries",
    "stadium": "stadiums",
    "gymnasium": "gymnasiums",
}

#: Articles by sound where the library guesses from spelling, keyed by the lower-cased first word.
ARTICLE_OVERRIDES: dict[str, str] = {
    "uav": "a",  # "you-ay-vee"
    "usv": "a",
    "suv": "an",  # "ess-you-vee"
}

# Preposition words end the head of a name: "place with trees" is pluralised on "place".
_PREPOSITIONS = frozenset({"with", "of", "in", "on", "at", "for", "near", "by", "from", "without", "under", "over"})
_SEPARATORS = re.compile(r"[-_\s]+")
_NAME_KEYS = ("singular", "plural")


@dataclass(frozen=True)
class CategoryName:
    """The caption name of one category: ``singular`` and ``plural`` nouns; ``article`` is "a" or "an" by sound.

    Two names are the same category in captions when their ``singular`` is equal (see :mod:`rsdata.captions.b2c`).
    """

    singular: str
    plural: str

    @functools.cached_property
    def article(self) -> str:
        return article_of(self.singular)

    @functools.cached_property
    def indefinite(self) -> str:
        """The singular with its article: "an airplane"."""
        return f"{self.article} {self.singular}"


def normalise_label(label: str) -> str:
    """Default readable name of a source label: lower case, "-"/"_" to spaces, whitespace collapsed."""
    return _SEPARATORS.sub(" ", label).strip().lower()


def import_inflect():
    """The ``inflect`` module, imported (when not yet imported) with ``typeguard.typechecked`` made a no-op.

    inflect decorates its public methods with ``@typechecked``, which re-reads and re-compiles inflect's whole
    source for each of them at import: 2-3 s, against 0.1 s without. The checks only reject arguments of the
    wrong type (a non-string, an empty word); the names passed here are always non-empty strings (see
    :func:`normalise_label` and :func:`_parse_spec`), so the answers are the same, which
    ``tests/captions/test_vocabulary_import.py`` checks against an instrumented import. The decorator is put back
    as soon as inflect is loaded; Python's ``-O`` mode, in which typeguard skips itself, has the same effect.
    """
    loaded = sys.modules.get("inflect")
    if loaded is not None:
        return loaded
    try:
        import typeguard
    except ImportError:  # inflect without typeguard (another version): nothing to switch off
        typeguard = None
    typechecked = getattr(typeguard, "typechecked", None)
    if typechecked is not None:
        typeguard.typechecked = _not_typechecked
    try:
        import inflect
    except ImportError as error:  # a declared dependency, but say how to fix a broken environment
        raise ImportError("caption names need the 'inflect' package: pip install inflect") from error
    finally:
        if typechecked is not None:
            typeguard.typechecked = typechecked
    return inflect


def _not_typechecked(target=None, **_options):
    """``typeguard.typechecked`` as under ``python -O``: the target unchanged (also when used with options)."""
    return target if target is not None else _not_typechecked


@functools.lru_cache(maxsize=None)
def _engine():
    return import_inflect().engine()


@functools.lru_cache(maxsize=4096)
def plural_of(singular: str) -> str:
    """Plural of a singular name, by :data:`PLURAL_OVERRIDES` on the whole name or its head word, else inflect."""
    override = PLURAL_OVERRIDES.get(singular.lower())
    if override is not None:
        return override
    head, tail = _split_head(singular)
    override = PLURAL_OVERRIDES.get(head[-1].lower())
    if override is not None:
        plural_head = " ".join(head[:-1] + [override])
    else:
        plural_head = _engine().plural_noun(" ".join(head))
    return " ".join([plural_head] + tail)


def _split_head(name: str) -> tuple[list[str], list[str]]:
    """A name's words up to its head word (the last word before any preposition), and the rest."""
    words = name.split(" ")
    head_end = next((i for i, word in enumerate(words) if i > 0 and word.lower() in _PREPOSITIONS), len(words))
    return words[:head_end], words[head_end:]


def head_word(name: str) -> str:
    """The lower-cased head word of a name: "place with trees" -> "place", "low vegetation" -> "vegetation"."""
    return _split_head(name)[0][-1].lower()


def is_mass_noun(name: str) -> bool:
    """Whether a name's head word is uncountable (:data:`MASS_NOUNS`): "low vegetation", not "place with water"."""
    return head_word(name) in MASS_NOUNS


def _singular_head(name: str) -> str:
    """A default name with a plural head word made singular by :data:`SINGULAR_OVERRIDES`: "people" -> "person"."""
    head, tail = _split_head(name)
    singular = SINGULAR_OVERRIDES.get(head[-1].lower())
    return name if singular is None else " ".join(head[:-1] + [singular] + tail)


def countable(name: str) -> str:
    """A name that can be counted: a mass-noun name as a place ("water" -> "place with water"), others as given."""
    return f"{MASS_NOUN_PLACE} {name}" if is_mass_noun(name) else name


@functools.lru_cache(maxsize=4096)
def article_of(phrase: str) -> str:
    """Indefinite article ("a" or "an") for a noun phrase, by sound: "an airplane", "a unicorn", "a UAV"."""
    first_word = phrase.split(" ", 1)[0].lower()
    override = ARTICLE_OVERRIDES.get(first_word)
    if override is not None:
        return override
    # inflect returns the phrase with its article ("an airplane"); keep only the article.
    return _engine().a(phrase).split(" ", 1)[0].lower()


def _parse_spec(label: str, spec: NameSpec) -> tuple[str, str | None]:
    """Check one name-map value; return ``(singular, plural or None)``."""
    accepted = 'a singular string, a (singular, plural) pair, or {"singular": ..., "plural": ...}'
    if isinstance(spec, str):
        singular, plural = spec, None
    elif isinstance(spec, Mapping):
        unknown = sorted(set(spec) - set(_NAME_KEYS))
        if unknown or "singular" not in spec:
            raise OptionError(f"caption name of label {label!r}: keys {sorted(spec)} given; expected "
                              f"'singular' and optionally 'plural'")
        singular, plural = spec["singular"], spec.get("plural")
    elif isinstance(spec, (tuple, list)) and len(spec) == 2:
        singular, plural = spec
    else:
        raise OptionError(f"caption name of label {label!r} is {spec!r}; expected {accepted}")
    for part in (singular,) if plural is None else (singular, plural):
        if not isinstance(part, str) or not part.strip():
            raise OptionError(f"caption name of label {label!r} has an empty or non-text part {part!r}; "
                              f"expected {accepted}")
    return singular.strip(), plural.strip() if plural is not None else None


class CategoryVocabulary:
    """Maps source labels to :class:`CategoryName`, with explicit ``names`` overriding the default.

    The name map is checked when the vocabulary is made (a bad entry raises :class:`~rsdata.errors.OptionError`);
    plurals and articles are worked out on first use of each label and cached. ``closed=True`` says the map lists
    every class (see :meth:`check_labels`); a closed vocabulary needs a non-empty map.
    """

    def __init__(self, names: Mapping[str, NameSpec] | None = None, *, closed: bool = False):
        self._explicit = {label: _parse_spec(label, spec) for label, spec in (names or {}).items()}
        self._cache: dict[str, CategoryName] = {}
        if closed and not self._explicit:
            raise OptionError("a closed vocabulary (closed_names) needs a name map that lists the classes")
        self.closed = closed

    def name(self, label: str) -> CategoryName:
        """The caption name of a source label."""
        try:
            return self._cache[label]
        except KeyError:
            pass
        singular, plural = self._explicit.get(label, (None, None))
        if singular is None:
            singular = normalise_label(label)
            if not singular:
                raise OptionError(f"category label {label!r} gives an empty caption name; give it a name in the "
                                  f"recipe's name map")
            singular = countable(_singular_head(singular))
        name = CategoryName(singular, plural if plural is not None else plural_of(singular))
        _ = name.indefinite  # worked out now so that captions never pay for inflect after warm-up
        self._cache[label] = name
        return name

    def warm_up(self, labels: Iterable[str] = ()) -> None:
        """Import ``inflect`` now and name ``labels`` (and every label of the name map): a build calls this before
        starting worker processes, which then inherit the module and these names instead of each loading them."""
        _engine()
        for label in [*self._explicit, *labels]:
            self.name(label)

    def is_named(self, label: str) -> bool:
        """Whether the name map gives ``label`` an explicit name (else :meth:`name` derives the default)."""
        return label in self._explicit

    def check_labels(self, objects: Iterable, path: str | Path) -> None:
        """Raise ``unknown_class`` (naming ``path``, the object's line, the label and the listed classes) for the
        first object whose ``category`` a closed vocabulary does not list; an open vocabulary accepts any."""
        if not self.closed:
            return
        for obj in objects:
            if obj.category not in self._explicit:
                listed = sorted(self._explicit)
                shown = ", ".join(listed[:30]) + (f" and {len(listed) - 30} more" if len(listed) > 30 else "")
                raise RecordError(path, f"class {obj.category!r} is not one of the {len(listed)} classes the "
                                  f"recipe's names list ({shown}); add it to the recipe's names, or set "
                                  "closed_names: false if the names only rename some labels",
                                  reason=errors.UNKNOWN_CLASS, line=obj.source_line)

    def __repr__(self) -> str:
        closed = ", closed" if self.closed else ""
        return f"CategoryVocabulary({len(self._explicit)} explicit names{closed})"
