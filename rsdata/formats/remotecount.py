"""A RemoteCount-style counting set, rule ``remotecount/1``, from a DOTA-format source (normally DOTA's val split).

The paper's RemoteCount set (RemoteCLIP, Liu, Chen et al., IEEE TGRS 2024: 947 image-caption pairs) is not
public; this format builds one the same way (specs/captions.md, "Counting captions for evaluation"). Source
layout, label files and their errors are exactly the ``dota`` format's (options ``images`` and ``labels``).

Rule ``remotecount/1``, per image:

1. Count the image's objects per label, over the 13 DOTA-v1.0 categories without the two vehicle classes
   (:data:`CATEGORIES`: plane, ship, storage-tank, baseball-diamond, tennis-court, basketball-court,
   ground-track-field, harbor, bridge, helicopter, roundabout, soccer-ball-field, swimming-pool). Every object
   counts, ``difficult`` ones included; other labels (the vehicles, DOTA v1.5/v2.0's extra classes) are ignored.
2. The categories counted 1 to 10 times qualify. None: the image is left out, counted as ``nothing_to_count``.
3. One qualifying category is chosen: ``random.Random(seed).choice`` over the qualifying labels sorted by name,
   ``seed`` being the image's caption seed (:func:`rsdata.captions.caption_seed`: build seed, source name,
   image id), so the choice is the same on any number of processes.
4. The caption states the count in words with the category's caption name (the recipe's name map, else the
   default name; :mod:`rsdata.captions.vocabulary`): "There is one tennis court in the picture." for 1,
   "There are three tennis courts in the picture." otherwise.

Columns added to the base ones (the counting set of the evaluation contract): ``count`` (int32, 1..10),
``count_category`` (the chosen source label, e.g. "tennis-court"), ``count_candidates`` (the 10 captions with
the count in words, "one" .. "ten"; index i is count i + 1) and ``count_candidates_digits`` (the same with
"1" .. "10"). ``captions`` holds the one true caption (``count_candidates[count - 1]``), ``caption_templates`` is
empty, and ``objects`` keeps every object of the image. Licence: DOTA's (academic use only), so ``other``.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any, Mapping

from rsdata.formats.base import register_format
from rsdata.formats.dota import DotaFormat
from rsdata.records import Description, ImageRecord, NothingToDescribe

RULE_ID = "remotecount/1"
#: Reason slug of images with no category counted 1 to 10 times (not an error; reported like ``no_objects``).
NOTHING_TO_COUNT = "nothing_to_count"
#: The 13 DOTA-v1.0 categories of RemoteCount: DOTA v1.0's 15 without small-vehicle and large-vehicle.
CATEGORIES = ("plane", "ship", "storage-tank", "baseball-diamond", "tennis-court", "basketball-court",
              "ground-track-field", "harbor", "bridge", "helicopter", "roundabout", "soccer-ball-field",
              "swimming-pool")
MIN_COUNT, MAX_COUNT = 1, 10
COUNT_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def count_caption(singular: str, plural: str, count: int, number: str) -> str:
    """The counting caption for ``count`` objects, the count written as ``number`` ("three" or "3")."""
    if count == 1:
        return f"There is {number} {singular} in the picture."
    return f"There are {number} {plural} in the picture."


@register_format
class RemoteCountFormat(DotaFormat):
    name = "remotecount"
    description = ("RemoteCount-style counting set from DOTA labelTxt: 1-10 objects of one of 13 categories, 10 "
                   "candidate captions")
    caption_rule = RULE_ID
    counted_columns = ("count", "count_category")

    def extra_features(self) -> Mapping[str, Any]:
        from datasets import List, Value

        return {
            "count": Value("int32"),
            "count_category": Value("string"),
            "count_candidates": List(Value("string"), length=MAX_COUNT),
            "count_candidates_digits": List(Value("string"), length=MAX_COUNT),
        }

    def describe(self, record: ImageRecord, objects, image, *, seed: int,
                 vocabulary) -> Description | NothingToDescribe:
        counts = Counter(obj.category for obj in objects)
        qualifying = sorted(label for label, n in counts.items()
                            if label in CATEGORIES and MIN_COUNT <= n <= MAX_COUNT)
        if not qualifying:
            found = ", ".join(f"{label} {n}" for label, n in sorted(counts.items())) or "none"
            return NothingToDescribe(NOTHING_TO_COUNT, f"no RemoteCount category appears {MIN_COUNT} to "
                                     f"{MAX_COUNT} times (objects: {found})")
        label = random.Random(seed).choice(qualifying)
        name = vocabulary.name(label)
        words = [count_caption(name.singular, name.plural, n, COUNT_WORDS[n - 1])
                 for n in range(MIN_COUNT, MAX_COUNT + 1)]
        digits = [count_caption(name.singular, name.plural, n, str(n)) for n in range(MIN_COUNT, MAX_COUNT + 1)]
        count = counts[label]
        return Description((words[count - 1],), (), RULE_ID, extras={
            "count": count, "count_category": label, "count_candidates": words,
            "count_candidates_digits": digits})
