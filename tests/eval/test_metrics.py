"""Every evaluation metric against a naive oracle on seeded embeddings (loops, full sorts, no shared helpers), and
retrieval also against a case computed by hand with several captions per image.

The tasks run through their public ``run(inputs, settings)`` on :class:`ArrayInputs`, an in-memory stand-in for
the runner's cached inputs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("torch")

from rsmodel.eval import counting, few_shot, knn, linear_probe, retrieval, zero_shot  # noqa: E402
from rsmodel.eval.classifier import ProbeHyperparameters, train_logistic_regression  # noqa: E402


class ArrayInputs:
    """TaskInputs over arrays: ``columns[role][name]``, ``images[role]``, ``texts`` maps each text to a vector."""

    def __init__(self, columns, images, texts=None, label_names=None, seed=0):
        self.dataset_name = "fake"
        self.seed = seed
        self.device = "cpu"
        self.columns, self.images, self.texts = columns, images, texts or {}
        self._label_names = label_names or []
        self.text_requests: list[list[str]] = []
        self.image_requests: list[tuple] = []

    def num_rows(self, role):
        return len(self.images[role])

    def column(self, role, name):
        return list(self.columns[role][name])

    def label_names(self):
        return list(self._label_names)

    def image_embeddings(self, role, *, fit="center_crop", fill=0):
        self.image_requests.append((role, fit, fill))
        return self.images[role]

    def text_embeddings(self, texts):
        self.text_requests.append(list(texts))
        return np.stack([self.texts[t] for t in texts]).astype(np.float32)


def unit(v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def clustered(rng, labels, centres, noise=0.8):
    return (centres[labels] + noise * rng.normal(size=(len(labels), centres.shape[1]))).astype(np.float32)


# ------------------------------------------------------------------------------------------------- zero-shot

def test_zero_shot_matches_naive_oracle():
    rng = np.random.default_rng(1)
    classes, dim = 5, 12
    names = [f"class {i}" for i in range(classes)]
    centres = rng.normal(size=(classes, dim))
    test_labels = rng.integers(0, classes, 200)
    images = clustered(rng, test_labels, centres, noise=1.5) * rng.uniform(0.5, 3, (200, 1)).astype(np.float32)
    templates = ("a satellite photo of {class_name}.", "an aerial image of {class_name}.")
    texts = {t.replace("{class_name}", n): (centres[i] + 0.7 * rng.normal(size=dim)).astype(np.float32)
             for i, n in enumerate(names) for t in templates}
    inputs = ArrayInputs({"test": {"label": test_labels, "class_name": [names[i] for i in test_labels]}},
                         {"test": images}, texts, label_names=[f"Class{i}" for i in range(classes)])
    result = zero_shot.run(inputs, zero_shot.ZeroShotSettings(templates=templates))

    correct, per_class = 0, {c: [0, 0] for c in range(classes)}
    for image, label in zip(images, test_labels):
        best, best_score = None, -math.inf
        for c, name in enumerate(names):
            # CLIP prompt ensembling: mean of the normalised template embeddings, normalised again
            weight = unit(sum(unit(texts[t.replace("{class_name}", name)]) for t in templates))
            score = float(unit(image) @ weight)
            if score > best_score:
                best, best_score = c, score
        correct += best == label
        per_class[label][0] += best == label
        per_class[label][1] += 1
    assert result.metrics["zero_shot/top1"] == pytest.approx(100 * correct / len(test_labels), abs=1e-9)
    recalls = [100 * hit / n for hit, n in per_class.values() if n]
    assert result.metrics["zero_shot/mean_per_class_recall"] == pytest.approx(np.mean(recalls), abs=1e-9)
    assert 20 < result.metrics["zero_shot/top1"] < 100  # informative: neither trivial nor chance
    assert inputs.text_requests[0][:2] == ["a satellite photo of class 0.", "an aerial image of class 0."]


def test_zero_shot_default_template_and_class_names():
    settings = zero_shot.ZeroShotSettings()
    assert settings.templates == ("a satellite photo of {class_name}.",)
    assert zero_shot.prompt_name_from_folder("StorageTanks") == "storage tanks"
    assert zero_shot.prompt_name_from_folder("dense_residential") == "dense residential"
    # A class without test rows takes its name from the train split, else from its ClassLabel name.
    inputs = ArrayInputs({"test": {"label": [0], "class_name": ["airport"]},
                          "train": {"label": [1], "class_name": ["bare land"]}},
                         {"test": np.ones((1, 2), np.float32)}, label_names=["Airport", "BareLand", "SeaLake"])
    assert zero_shot.class_prompt_names(inputs) == ["airport", "bare land", "sea lake"]


def test_zero_shot_refuses_inconsistent_class_names():
    from rsmodel.errors import EvalDatasetError

    inputs = ArrayInputs({"test": {"label": [0, 0], "class_name": ["airport", "airfield"]}},
                         {"test": np.ones((2, 2), np.float32)}, label_names=["Airport"])
    with pytest.raises(EvalDatasetError, match=r"test row 1 has class_name 'airfield' for label 0 \(Airport\)"):
        zero_shot.class_prompt_names(inputs)


# ------------------------------------------------------------------------------------------------------ k-NN

def naive_knn(train, train_labels, test, classes, k, temperature):
    predictions = []
    for query in test:
        sims = [(float(unit(query) @ unit(t)), i) for i, t in enumerate(train)]
        sims.sort(key=lambda item: (-item[0], item[1]))
        votes = [0.0] * classes
        for sim, i in sims[:k]:
            votes[train_labels[i]] += math.exp(sim / temperature)
        predictions.append(max(range(classes), key=lambda c: (votes[c], -c)))
    return np.asarray(predictions)


@pytest.mark.parametrize("k", [20, 3, 500])
def test_knn_matches_naive_oracle(k):
    rng = np.random.default_rng(2)
    classes, dim = 4, 10
    centres = rng.normal(size=(classes, dim))
    train_labels, test_labels = rng.integers(0, classes, 120), rng.integers(0, classes, 60)
    train, test = clustered(rng, train_labels, centres, 1.6), clustered(rng, test_labels, centres, 1.6)
    inputs = ArrayInputs({"train": {"label": train_labels}, "test": {"label": test_labels}},
                         {"train": train, "test": test}, label_names=list("abcd"))
    result = knn.run(inputs, knn.KnnSettings(k=k, temperature=0.07, chunk_rows=7))
    expected = naive_knn(train, train_labels, test, classes, min(k, len(train)), 0.07)
    assert result.metrics["knn/top1"] == pytest.approx(100 * np.mean(expected == test_labels), abs=1e-9)
    recall = np.mean([np.mean(expected[test_labels == c] == c) for c in range(classes)]) * 100
    assert result.metrics["knn/mean_per_class_recall"] == pytest.approx(recall, abs=1e-9)
    assert result.details["k"] == min(k, 120)


# ------------------------------------------------------------------------------------------------- retrieval

def naive_retrieval(images, captions_per_image, ks=(1, 5, 10)):
    """images: list of vectors; captions_per_image: list (per image) of lists of vectors."""
    texts = [(i, v) for i, caps in enumerate(captions_per_image) for v in caps]
    i2t = {k: 0 for k in ks}
    with_captions = 0
    for i, image in enumerate(images):
        scores = np.array([unit(image) @ unit(v) for _, v in texts])
        order = list(np.argsort(-scores, kind="stable"))  # ties: lower index first
        own = [j for j, (owner, _) in enumerate(texts) if owner == i]
        if not own:
            continue
        with_captions += 1
        best = min(order.index(j) for j in own)
        for k in ks:
            i2t[k] += best < k
    t2i = {k: 0 for k in ks}
    for owner, text in texts:
        scores = np.array([unit(text) @ unit(image) for image in images])
        position = list(np.argsort(-scores, kind="stable")).index(owner)
        for k in ks:
            t2i[k] += position < k
    metrics = {f"retrieval/i2t_r@{k}": 100 * i2t[k] / with_captions for k in ks}
    metrics.update({f"retrieval/t2i_r@{k}": 100 * t2i[k] / len(texts) for k in ks})
    metrics["retrieval/mean_recall"] = float(np.mean(list(metrics.values())))
    return metrics


def retrieval_inputs(source_ids, captions_per_row, row_vectors, text_vectors):
    return ArrayInputs({"test": {"source_id": source_ids, "captions": captions_per_row}},
                       {"test": np.asarray(row_vectors, np.float32)}, text_vectors)


def test_retrieval_matches_naive_oracle_with_several_captions_per_image():
    rng = np.random.default_rng(3)
    n_images, dim = 40, 8
    centres = rng.normal(size=(n_images, dim))
    source_ids, captions, rows, text_vectors = [], [], [], {}
    caption_vectors = []
    for i in range(n_images):
        count = [5, 5, 3, 0, 5][i % 5]  # mostly 5; some 3; one in five without captions
        names = [f"image {i} caption {c}" for c in range(count)]
        vectors = [centres[i] + 1.5 * rng.normal(size=dim) for _ in names]
        text_vectors.update(zip(names, vectors))
        caption_vectors.append(vectors)
        image = centres[i] + 1.5 * rng.normal(size=dim)
        if i == 7:  # one image stored as two rows (same file name), captions split between them
            source_ids += [f"{i}.jpg", f"{i}.jpg"]
            captions += [names[:2], names[2:]]
            rows += [image, rng.normal(size=dim)]  # the second row's vector is never used
        else:
            source_ids.append(f"{i}.jpg")
            captions.append(names)
            rows.append(image)
    images = [rows[source_ids.index(f"{i}.jpg")] for i in range(n_images)]
    result = retrieval.run(retrieval_inputs(source_ids, captions, rows, text_vectors),
                           retrieval.RetrievalSettings(chunk_rows=13))
    expected = naive_retrieval(images, caption_vectors)
    assert result.metrics.keys() == expected.keys()
    for name, value in expected.items():
        assert result.metrics[name] == pytest.approx(value, abs=1e-9), name
    assert result.details["images"] == n_images and result.details["images_without_captions"] == n_images // 5
    assert 0 < result.metrics["retrieval/i2t_r@1"] < 100


def test_retrieval_hand_computed_case():
    """Three images in 2-D, seven captions; every rank below is worked out by hand.

    Images (unit vectors): A = (1, 0), B = (0, 1), C = (-1, 0).
    Captions: A1 = (1, 0.2), A2 = (0, -1), A3 = (-1, 0.1);  B1 = (0.1, 1), B2 = (1, 0.1);  C1 = (-1, -0.2),
    C2 = (0.7, 0.7) (same direction as (1, 1)). Scores are cosines, so only directions matter.

    Image -> text, captions by cosine with each image:
      A: A1 .981, B2 .995, C2 .707, B1 .0995, A2 0, A3 -.995, C1 -.981 -> order B2, A1, ...: best own A1 at rank 2
      B: B1 .995, C2 .707, A1 .196, A3 .0995, B2 .0995, C1 -.196, A2 -1 -> own B1 at rank 1
      C: A3 .995, C1 .981, B1 -.0995, B2 -.995 ... -> own C1 at rank 2
      I2T R@1 = 1/3 (B), R@5 = R@10 = 3/3.
    Text -> image, images by cosine with each caption:
      A1: A .981, B .196, C -.981 -> A rank 1      A2: A 0, B -1, C 0 -> tie A/C: A first (lower index), rank 1
      A3: C .995, B .0995, A -.995 -> A rank 3     B1: B .995, A .0995, C -.0995 -> B rank 1
      B2: A .995, B .0995, C -.995 -> B rank 2     C1: C .981, B -.196, A -.981 -> C rank 1
      C2: A .707, B .707 (tie), C -.707 -> C rank 3
      T2I R@1 = 4/7 (A1, A2, B1, C1), R@5 = R@10 = 7/7.
    Mean recall = (100/3 + 100 + 100 + 400/7 + 100 + 100) / 6.
    """
    text_vectors = {"A1": (1, 0.2), "A2": (0, -1), "A3": (-1, 0.1), "B1": (0.1, 1), "B2": (1, 0.1),
                    "C1": (-1, -0.2), "C2": (0.7, 0.7)}
    text_vectors = {k: np.asarray(v, np.float32) for k, v in text_vectors.items()}
    inputs = retrieval_inputs(["a.png", "b.png", "c.png"], [["A1", "A2", "A3"], ["B1", "B2"], ["C1", "C2"]],
                              [(1, 0), (0, 1), (-1, 0)], text_vectors)
    metrics = retrieval.run(inputs, retrieval.RetrievalSettings()).metrics
    assert metrics["retrieval/i2t_r@1"] == pytest.approx(100 / 3)
    assert metrics["retrieval/i2t_r@5"] == metrics["retrieval/i2t_r@10"] == 100
    assert metrics["retrieval/t2i_r@1"] == pytest.approx(400 / 7)
    assert metrics["retrieval/t2i_r@5"] == metrics["retrieval/t2i_r@10"] == 100
    assert metrics["retrieval/mean_recall"] == pytest.approx((100 / 3 + 400 / 7 + 400) / 6)
    # k = 2 separates the ranks: images A and C have their best own caption second, captions A3 and C2 are third
    metrics = retrieval.run(inputs, retrieval.RetrievalSettings(ks=(2,))).metrics
    assert metrics["retrieval/i2t_r@2"] == 100 and metrics["retrieval/t2i_r@2"] == pytest.approx(500 / 7)


def test_retrieval_counts_exact_ties():
    """Images A = (1, 0), B = (0, 1), C = (1, 0) again (a duplicate under another name). Captions: A's "x" and
    B's "x" are the same text (so the same vector (1, 0)); B also has "b" = (0, 1); C has "c" = (0.6, 0.8).

    Text -> image: "x" of A scores A 1, C 1 (tie with another image); "x" of B: own B scores 0, A and C 0... no:
    B scores 0 with (1, 0) and so does nothing else (A, C score 1), no tie; "b": B 1, A 0, C 0, no tie; "c": C .6
    ties with A .6. Tied text queries: "x"(A), "c" -> 2.
    Image -> text: A's best own caption "x"(A) scores 1, equalled by B's "x" -> tied; B's best own "b" scores 1,
    nothing else does -> not tied; C's own "c" scores .6, no other caption (1, 1, 0) -> not tied. -> 1.
    Identical texts: the two "x" -> 2."""
    texts = {"x": np.asarray([1, 0], np.float32), "b": np.asarray([0, 1], np.float32),
             "c": np.asarray([0.6, 0.8], np.float32)}
    inputs = retrieval_inputs(["a.png", "b.png", "c.png"], [["x"], ["x", "b"], ["c"]], [(1, 0), (0, 1), (1, 0)],
                              texts)
    details = retrieval.run(inputs, retrieval.RetrievalSettings(chunk_rows=2)).details
    assert details["text_to_image_tied_queries"] == 2
    assert details["image_to_text_tied_queries"] == 1
    assert details["captions_with_identical_text"] == 2


def test_retrieval_tie_counts_match_a_naive_oracle():
    # vectors whose unit versions and dot products are exact in float32 (axes, and +-1 in all 4 components:
    # components 1 or 0.5), so scores are exact multiples of 0.25 whatever the summation order, and ties are real
    rng = np.random.default_rng(12)
    pool = [np.eye(4)[i] * s for i in range(4) for s in (1, -2)] + [rng.choice([-1.0, 1.0], 4) for _ in range(6)]
    vocabulary = [f"caption {i}" for i in range(12)]  # few texts for many captions: many identical captions
    vectors = {t: np.asarray(pool[rng.integers(len(pool))], np.float32) for t in vocabulary}
    images = np.asarray([pool[i] for i in rng.integers(0, len(pool), 15)], np.float32)
    captions = [list(rng.choice(vocabulary, 3)) for _ in range(15)]
    inputs = retrieval_inputs([f"{i}.png" for i in range(15)], captions, images, vectors)
    details = retrieval.run(inputs, retrieval.RetrievalSettings(chunk_rows=4)).details
    score = {t: [float(unit(vectors[t]) @ unit(im)) for im in images] for t in vocabulary}
    t2i = sum(any(score[t][j] == score[t][i] for j in range(15) if j != i)
              for i, row in enumerate(captions) for t in row)
    i2t = 0
    for i, row in enumerate(captions):
        best = max(score[t][i] for t in row)
        others = [score[t][i] for j, other in enumerate(captions) if j != i for t in other]
        i2t += best in others
    assert details["text_to_image_tied_queries"] == t2i > 0
    assert details["image_to_text_tied_queries"] == i2t > 0
    flat = [t for row in captions for t in row]
    assert details["captions_with_identical_text"] == sum(flat.count(t) > 1 for t in flat)


# -------------------------------------------------------------------------------------------------- counting

NUMBER = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def test_counting_matches_naive_oracle():
    rng = np.random.default_rng(4)
    rows, dim = 80, 6
    counts = rng.integers(1, 11, rows)
    categories = rng.choice(["plane", "ship"], rows)
    words = [[f"There are {NUMBER[n]} {c}s." for n in range(10)] for c in categories]
    digits = [[f"There are {n + 1} {c}s." for n in range(10)] for c in categories]
    text_vectors = {t: rng.normal(size=dim).astype(np.float32) for row in words + digits for t in row}
    images = rng.normal(size=(rows, dim)).astype(np.float32)
    for i, count in enumerate(counts):  # pull each image towards its true word caption, so ranks vary
        images[i] += 0.8 * text_vectors[words[i][count - 1]]
    inputs = ArrayInputs({"test": {"count": counts, "count_candidates": words, "count_candidates_digits": digits}},
                         {"test": images}, text_vectors)
    result = counting.run(inputs, counting.CountingSettings(candidates="grammatical"))
    for prefix, candidates, matrix_name in (("counting/", words, "confusion_matrix"),
                                            ("counting/digits_", digits, "digits_confusion_matrix")):
        hits = np.zeros(11)
        matrix = [[0] * 10 for _ in range(10)]
        for image, count, row in zip(images, counts, candidates):
            scores = [float(unit(image) @ unit(text_vectors[t])) for t in row]
            order = sorted(range(10), key=lambda j: (-scores[j], j))
            position = order.index(count - 1)
            for k in range(1, 11):
                hits[k] += position < k
            matrix[count - 1][order[0]] += 1
        for k in range(1, 11):
            assert result.metrics[f"{prefix}top{k}"] == pytest.approx(100 * hits[k] / rows, abs=1e-9)
        assert result.details[matrix_name] == matrix
    assert result.metrics["counting/top10"] == 100 and 0 < result.metrics["counting/top1"] < 100
    assert result.details["rows_per_count"] == np.bincount(counts, minlength=11)[1:].tolist()
    # every distinct candidate text is encoded once
    assert len(inputs.text_requests[0]) == len(set(inputs.text_requests[0]))


def test_counting_ties_rank_the_smaller_number_first():
    """Candidates "two" and "three" score the same and best: "two" ranks first, so an image of two is a top-1
    hit and an image of three a top-2 hit only; both are predicted "two"."""
    texts = {f"{word} planes": np.asarray([0.0, 1.0], np.float32) for word in NUMBER}
    texts["two planes"] = texts["three planes"] = np.asarray([1.0, 0.0], np.float32)
    words = [[f"{word} planes" for word in NUMBER]] * 2
    inputs = ArrayInputs({"test": {"count": [2, 3], "count_candidates": words, "count_candidates_digits": words}},
                         {"test": np.asarray([[1.0, 0.2], [1.0, 0.2]], np.float32)}, texts)
    result = counting.run(inputs, counting.CountingSettings(candidates="grammatical"))
    assert result.metrics["counting/top1"] == 50 and result.metrics["counting/top2"] == 100
    assert result.details["confusion_matrix"][1][1] == result.details["confusion_matrix"][2][1] == 1


def test_counting_refuses_bad_rows():
    from rsmodel.errors import EvalDatasetError

    inputs = ArrayInputs({"test": {"count": [3, 11], "count_candidates": [list(NUMBER)] * 2,
                                   "count_candidates_digits": [list(NUMBER)] * 2}},
                         {"test": np.ones((2, 2), np.float32)})
    with pytest.raises(EvalDatasetError, match=r"test row 1: count 11 is not an integer from 1 to 10"):
        counting.run(inputs, counting.CountingSettings())
    inputs.columns["test"]["count"] = [3, 4]
    inputs.columns["test"]["count_candidates"] = [list(NUMBER), list(NUMBER[:9])]
    with pytest.raises(EvalDatasetError, match=r"test row 1: count_candidates has 9 captions, expected 10"):
        counting.run(inputs, counting.CountingSettings())


def counting_rows(counts):
    """Grammatical candidate columns as rsdata's remotecount/1 writes them ("There is one harbor", "There are
    two harbors")."""
    def caption(number, n):
        return f"There {'is' if n == 1 else 'are'} {number} {'harbor' if n == 1 else 'harbors'} in the picture."

    words = [[caption(NUMBER[n - 1], n) for n in range(1, 11)] for _ in counts]
    digits = [[caption(str(n), n) for n in range(1, 11)] for _ in counts]
    return {"count": list(counts), "count_candidates": words, "count_candidates_digits": digits}


def test_counting_candidates_change_only_the_number_by_default():
    """The paper's candidates: the true caption with only its number replaced (verb and noun unchanged), words
    and digits; the grammatical column is used only when asked for; images are padded to square by default."""
    rng = np.random.default_rng(11)
    columns = counting_rows([1, 3])
    inputs = ArrayInputs({"test": columns}, {"test": rng.normal(size=(2, 4)).astype(np.float32)})
    inputs.texts = _TextOracle(rng)
    result = counting.run(inputs, counting.CountingSettings())
    assert result.details["candidates"] == "number_only"
    words = result.details["first_row_candidates"]["count_candidates"]
    assert words[0] == "There is one harbor in the picture." and words[2] == "There is three harbor in the picture."
    assert result.details["first_row_candidates"]["count_candidates_digits"][9] == "There is 10 harbor in the picture."
    expected_three = [f"There are {n} harbors in the picture." for n in NUMBER]
    assert set(expected_three) <= set(inputs.text_requests[0])
    assert "There is two harbor in the picture." in inputs.text_requests[0]  # from the count-1 row
    assert "There are two harbors in the picture." in inputs.text_requests[0]  # from the count-3 row
    assert inputs.image_requests == [("test", "pad_square", 0)]
    # the number-only candidates scored by hand: row 0 (count 1) and row 1 (count 3)
    for row, (count, image) in enumerate(zip([1, 3], inputs.images["test"])):
        true = columns["count_candidates"][row][count - 1]
        candidates = [true.replace(NUMBER[count - 1], n) for n in NUMBER]
        scores = [float(unit(image) @ unit(inputs.texts[t])) for t in candidates]
        predicted = sorted(range(10), key=lambda j: (-scores[j], j))[0]
        assert result.details["confusion_matrix"][count - 1][predicted] == 1
    # the grammatical variant, as an option, reads the dataset's columns as they are
    inputs.text_requests.clear()
    inputs.image_requests.clear()
    result = counting.run(inputs, counting.CountingSettings(candidates="grammatical", image_fit="center_crop"))
    assert result.details["candidates"] == "grammatical"
    assert result.details["first_row_candidates"]["count_candidates"] == columns["count_candidates"][0]
    assert "There are two harbors in the picture." in inputs.text_requests[0]
    assert "There is two harbor in the picture." not in inputs.text_requests[0]
    assert inputs.image_requests == [("test", "center_crop", 0)]


class _TextOracle(dict):
    """A seeded vector for any text, made on first request."""

    def __init__(self, rng):
        super().__init__()
        self.rng = rng

    def __missing__(self, text):
        self[text] = self.rng.normal(size=4).astype(np.float32)
        return self[text]


def test_counting_number_only_keeps_capitals_and_refuses_captions_without_the_number():
    assert counting.number_only_candidates("Three planes are parked.", 3)[:2] == ["One planes are parked.",
                                                                                  "Two planes are parked."]
    assert counting.number_only_candidates("Three planes.", 3, digits=True)[9] == "10 planes."
    from rsmodel.errors import EvalDatasetError
    from rsmodel.eval.suite import SuiteError, typed

    columns = counting_rows([2])
    columns["count_candidates"][0][1] = "A pair of harbors."
    inputs = ArrayInputs({"test": columns}, {"test": np.ones((1, 4), np.float32)})
    with pytest.raises(EvalDatasetError, match="holds the word 'two' 0 times"):
        counting.run(inputs, counting.CountingSettings())
    with pytest.raises(SuiteError, match="candidates 'natural'"):
        typed(counting.CountingSettings, {"candidates": "natural"}, "suite.yaml", "tasks.counting")
    with pytest.raises(SuiteError, match="image_fit 'stretch'"):
        typed(counting.CountingSettings, {"image_fit": "stretch"}, "suite.yaml", "tasks.counting")


# ---------------------------------------------------------------------------------------- probe classifier

def numpy_probe(x, y, classes, hyper, seed):
    """Multinomial logistic regression by hand: softmax gradients, SGD (torch's momentum rule), weight decay on W
    only, cosine learning rate per step, batches from numpy permutations; float64."""
    x, n = np.asarray(x, np.float64), len(x)
    w, b = np.zeros((classes, x.shape[1])), np.zeros(classes)
    buf_w = buf_b = None
    rng = np.random.default_rng(seed)
    steps = hyper.epochs * math.ceil(n / hyper.batch_size)
    step = 0
    for _ in range(hyper.epochs):
        order = rng.permutation(n)
        for start in range(0, n, hyper.batch_size):
            idx = order[start:start + hyper.batch_size]
            logits = x[idx] @ w.T + b
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(idx)), y[idx]] -= 1
            grad_w = p.T @ x[idx] / len(idx) + hyper.weight_decay * w
            grad_b = p.sum(axis=0) / len(idx)
            if hyper.momentum:
                buf_w = grad_w if buf_w is None else hyper.momentum * buf_w + grad_w
                buf_b = grad_b if buf_b is None else hyper.momentum * buf_b + grad_b
                grad_w, grad_b = buf_w, buf_b
            lr = 0.5 * hyper.lr * (1 + math.cos(math.pi * step / steps))
            w, b = w - lr * grad_w, b - lr * grad_b
            step += 1
    return w, b


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_probe_training_matches_numpy_oracle(momentum):
    rng = np.random.default_rng(5)
    classes, dim, n = 4, 8, 90
    labels = rng.integers(0, classes, n)
    x = clustered(rng, labels, rng.normal(size=(classes, dim)), 1.0)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    hyper = ProbeHyperparameters(lr=0.8, weight_decay=4e-3, epochs=12, batch_size=32, momentum=momentum)
    probe = train_logistic_regression(x, labels, classes, hyper, seed=7)
    w, b = numpy_probe(x, labels, classes, hyper, seed=7)
    assert np.abs(probe.weight - w).max() < 1e-5 and np.abs(probe.bias - b).max() < 1e-5
    assert np.array_equal(probe.predict(x), np.argmax(x @ w.T + b, axis=1))
    assert np.abs(w).max() > 0.1  # it learned something


def test_linear_probe_search_and_holdout_follow_the_stated_rule():
    rng = np.random.default_rng(6)
    classes, dim = 3, 6
    centres = rng.normal(size=(classes, dim))
    train_labels = np.repeat(np.arange(classes), [11, 7, 5])
    test_labels = rng.integers(0, classes, 30)
    train, test = clustered(rng, train_labels, centres, 1.2), clustered(rng, test_labels, centres, 1.2)
    # trial 1 (the configured lr) barely moves, so a later trial must win
    settings = linear_probe.LinearProbeSettings(lr=1e-5, epochs=20, batch_size=8, trials=3, validation_fraction=0.3,
                                                lr_range=(0.5, 3.0))
    inputs = ArrayInputs({"train": {"label": train_labels}, "test": {"label": test_labels}},
                         {"train": train, "test": test}, label_names=["a", "b", "c"], seed=11)
    result = linear_probe.run(inputs, settings)

    # The hold-out and the trial settings, recomputed from the documented rule.
    draw = np.random.default_rng(11)
    validation = []
    for c in range(classes):
        rows = np.flatnonzero(train_labels == c)
        validation += list(rows[draw.permutation(len(rows))][: math.floor(0.3 * len(rows))])
    assert len(validation) == 3 + 2 + 1
    candidates = [(1e-5, 4e-5)]
    for _ in range(2):
        lr = math.exp(draw.uniform(math.log(0.5), math.log(3.0)))
        candidates.append((lr, math.exp(draw.uniform(math.log(4e-6), math.log(4e-4)))))
    assert [(t["lr"], t["weight_decay"]) for t in result.details["trials"]] == candidates
    fit = np.setdiff1d(np.arange(len(train_labels)), validation)
    unit_train = train / np.linalg.norm(train, axis=1, keepdims=True)
    scores = []
    for lr, wd in candidates:
        hyper = ProbeHyperparameters(lr=lr, weight_decay=wd, epochs=20, batch_size=8)
        w, b = numpy_probe(unit_train[fit], train_labels[fit], classes, hyper, seed=11)
        held = np.sort(validation)
        scores.append(100 * np.mean(np.argmax(unit_train[held] @ w.T + b, axis=1) == train_labels[held]))
    assert [t["validation_top1"] for t in result.details["trials"]] == pytest.approx(scores)
    best = int(np.argmax(scores))  # first of equal scores
    assert best > 0 and result.details["best_trial"] == best + 1
    hyper = ProbeHyperparameters(lr=candidates[best][0], weight_decay=candidates[best][1], epochs=20, batch_size=8)
    w, b = numpy_probe(unit_train, train_labels, classes, hyper, seed=11)
    unit_test = test / np.linalg.norm(test, axis=1, keepdims=True)
    predicted = np.argmax(unit_test @ w.T + b, axis=1)
    assert result.metrics["linear_probe/top1"] == pytest.approx(100 * np.mean(predicted == test_labels))


def test_linear_probe_single_trial_uses_the_whole_train_split():
    rng = np.random.default_rng(7)
    labels = np.arange(20) % 2
    x = clustered(rng, labels, rng.normal(size=(2, 4)), 0.5)
    inputs = ArrayInputs({"train": {"label": labels}, "test": {"label": labels}}, {"train": x, "test": x},
                         label_names=["a", "b"])
    result = linear_probe.run(inputs, linear_probe.LinearProbeSettings(epochs=30, trials=1))
    assert result.details["trials"] == [{"lr": 0.8, "weight_decay": 4e-5, "validation_top1": None}]
    w, b = numpy_probe(x / np.linalg.norm(x, axis=1, keepdims=True), labels, 2,
                       ProbeHyperparameters(0.8, 4e-5, 30, 10000), seed=0)
    expected = np.argmax((x / np.linalg.norm(x, axis=1, keepdims=True)) @ w.T + b, axis=1)
    assert result.metrics["linear_probe/top1"] == pytest.approx(100 * np.mean(expected == labels))


def test_few_shot_draws_and_statistics():
    rng = np.random.default_rng(8)
    classes, dim = 3, 6
    centres = rng.normal(size=(classes, dim))
    train_labels = np.repeat(np.arange(classes), [9, 5, 12])
    test_labels = rng.integers(0, classes, 24)
    train, test = clustered(rng, train_labels, centres, 1.3), clustered(rng, test_labels, centres, 1.3)
    inputs = ArrayInputs({"train": {"label": train_labels}, "test": {"label": test_labels}},
                         {"train": train, "test": test}, label_names=["a", "b", "c"], seed=3)
    settings = few_shot.FewShotSettings(shots=(1, 4, 8), runs=3, epochs=15, trials=1)
    result = few_shot.run(inputs, settings)
    assert result.details["skipped_shots"] == {"8": "class 'b' has 5 train images, fewer than 8"}
    assert "few_shot/top1_8shot_mean" not in result.metrics and result.main_metric == "few_shot/top1_4shot_mean"
    unit_train = train / np.linalg.norm(train, axis=1, keepdims=True)
    unit_test = test / np.linalg.norm(test, axis=1, keepdims=True)
    for shots in (1, 4):
        scores = []
        for run in range(3):
            draw = np.random.default_rng([3, shots, run])
            rows = []
            for c in range(classes):
                members = np.flatnonzero(train_labels == c)
                rows += list(members[draw.permutation(len(members))[:shots]])
            assert len(rows) == shots * classes
            w, b = numpy_probe(unit_train[rows], train_labels[rows], classes,
                               ProbeHyperparameters(0.8, 4e-5, 15, 10000), seed=3 + run)
            scores.append(100 * np.mean(np.argmax(unit_test @ w.T + b, axis=1) == test_labels))
        assert result.details["runs"][str(shots)] == pytest.approx(scores)
        assert result.metrics[f"few_shot/top1_{shots}shot_mean"] == pytest.approx(np.mean(scores))
        assert result.metrics[f"few_shot/top1_{shots}shot_std"] == pytest.approx(np.std(scores, ddof=1))


def test_few_shot_searches_5_trials_on_a_hold_out_of_the_draw():
    """Best of 5 trials as the linear probe draws them, on a per-class hold-out taken from the k drawn rows only
    (the same generator continues after the draw); the winner is retrained on all drawn rows; 1 shot: no search."""
    rng = np.random.default_rng(9)
    classes, dim = 3, 5
    centres = rng.normal(size=(classes, dim))
    train_labels = np.repeat(np.arange(classes), [10, 7, 9])
    test_labels = rng.integers(0, classes, 18)
    train, test = clustered(rng, train_labels, centres, 1.2), clustered(rng, test_labels, centres, 1.2)
    inputs = ArrayInputs({"train": {"label": train_labels}, "test": {"label": test_labels}},
                         {"train": train, "test": test}, label_names=["a", "b", "c"], seed=5)
    settings = few_shot.FewShotSettings(shots=(1, 5), runs=2, epochs=10)
    assert settings.trials == 5
    result = few_shot.run(inputs, settings)
    unit_train = train / np.linalg.norm(train, axis=1, keepdims=True)
    unit_test = test / np.linalg.norm(test, axis=1, keepdims=True)
    scores = []
    for run in range(2):
        draw = np.random.default_rng([5, 5, run])
        rows = []
        for c in range(classes):
            members = np.flatnonzero(train_labels == c)
            rows += list(members[draw.permutation(len(members))[:5]])
        rows = np.asarray(rows)
        fit, held = [], []  # per class, the same generator: floor(0.2 * 5) = 1 row held out
        for c in range(classes):
            members = np.flatnonzero(train_labels[rows] == c)
            shuffled = members[draw.permutation(len(members))]
            held += list(shuffled[:1])
            fit += list(shuffled[1:])
        fit, held = np.sort(fit), np.sort(held)
        trials = [(0.8, 4e-5)]
        for _ in range(4):
            lr = math.exp(draw.uniform(math.log(0.1), math.log(3.2)))
            trials.append((lr, math.exp(draw.uniform(math.log(4e-6), math.log(4e-4)))))
        x, y = unit_train[rows], train_labels[rows]
        held_scores = []
        for lr, wd in trials:
            w, b = numpy_probe(x[fit], y[fit], classes, ProbeHyperparameters(lr, wd, 10, 10000), seed=5 + run)
            held_scores.append(100 * np.mean(np.argmax(x[held] @ w.T + b, axis=1) == y[held]))
        best = max(range(5), key=lambda i: (held_scores[i], -i))
        got = result.details["search"]["5"][run]
        assert [v for t in got["trials"] for v in (t["lr"], t["weight_decay"])] == \
            pytest.approx([v for trial in trials for v in trial])
        assert [t["validation_top1"] for t in got["trials"]] == pytest.approx(held_scores)
        assert got["best_trial"] == best + 1
        w, b = numpy_probe(x, y, classes, ProbeHyperparameters(*trials[best], 10, 10000), seed=5 + run)
        scores.append(100 * np.mean(np.argmax(unit_test @ w.T + b, axis=1) == test_labels))
    assert result.details["runs"]["5"] == pytest.approx(scores)
    # one shot: the paper's settings, no search, and the details say why
    assert [t["trials"] for t in result.details["search"]["1"]] == \
        [[{"lr": 0.8, "weight_decay": 4e-5, "validation_top1": None}]] * 2
    assert "no row to hold out" in result.details["no_search"]["1"]
    # the test split is never read before the final probe: changing test labels changes nothing in the search
    inputs.columns["test"]["label"] = (test_labels + 1) % classes
    again = few_shot.run(inputs, settings)
    assert again.details["search"] == result.details["search"]
