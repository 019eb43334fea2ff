"""Human-captioned retrieval sets: RSICD, RSITMD, UCM-captions and Sydney-captions, in both published layouts.

Rows keep the captions people wrote (caption rule ``human``): each exactly as published without its line
terminator, in source order, as many as the source gives (normally 5); there are no objects. ``source_id`` is
the image's file name.

Layout ``karpathy`` (the datasets' own releases, after Karpathy's COCO split files)::

    <root>/dataset_rsicd.json          the caption file (option json_file=NAME; default: the one
                                       dataset*.json directly in the root)
    <root>/<images folder>/airport_1.jpg

    {"images": [{"filename": "airport_1.jpg", "split": "train", "filepath": "...",
                 "sentences": [{"raw": "many planes are parked next to a long runway .", ...}, ...]}, ...]}

The top level is an object with an ``images`` list. Each image record needs ``filename`` (a non-empty relative
file name), ``split`` (the split, usually train, val or test) and ``sentences``: a non-empty list of objects,
each with a non-empty text ``raw`` (the caption). Other keys (``tokens``, ``imgid``, ``sentids``...) are
ignored. The image is ``<images folder>/<filepath>/<filename>`` when the record has a non-empty ``filepath``
and that file exists, else ``<images folder>/<filename>``.

Layout ``precomp`` (the text pairs published with the RSITMD authors' AMFMN code, for all four sets)::

    <root>/test_caps.txt               one caption per line
    <root>/test_filename.txt           on line i, the file name of the image that line i of test_caps.txt describes
    <root>/<images folder>/...

The split is the file-name prefix (``train_caps.txt`` -> train, ``val_``, ``test_``); each split has both
files with the same number of lines. Captions are grouped per image, images in the order they first appear
(normally 5 consecutive lines per image); an image named again further down gets those captions too, in line
order. File names are stripped of surrounding blanks; captions are not.

Layout ``jsonl`` (JSON lines, as CLIP fine-tuning repositories keep RSICD, UCM and others, e.g. CLIP-rsicd)::

    <root>/train_rsicd.jsonl           one object per line: {"filename": "airport_1.jpg", "captions": ["...", ...]}
    <root>/test_rsicd.jsonl
    <root>/<images folder>/airport_1.jpg

The caption files are every ``*.jsonl`` in the root and every other ``*.json`` there whose first line is such an
object (or the one file ``json_file=NAME`` names). Each non-blank line is an object with ``filename`` (a
non-empty relative file name) and ``captions`` (a non-empty list of non-empty texts, kept as written without a
line terminator); other keys are ignored. The split is the line's ``split`` when it has a non-empty text one,
else the caption file's: the first of the words ``train``, ``val``, ``valid``, ``validation``, ``test``,
``trainval`` in its name (split at "_", "-" and "."; ``train_rsicd.jsonl`` -> train), else its whole name without
the ending. Images come in file order, files in name order.

Both: the images folder is option ``images_dir=NAME`` (relative to the root), else the first of ``images/``,
``imgs/``, the one ``<name>_images/`` folder (``RSICD_images/``) or the root itself. Option ``layout`` is
``auto`` (default: the layout whose files the root holds), ``karpathy``, ``precomp`` or ``jsonl``. Text is UTF-8 (a
byte-order mark allowed); lines end in "\\n" or "\\r\\n". Splits come out in name order, images in source order
(so ``--limit N`` keeps a split's first N images as published).

Bad input:

- the whole source (:class:`~rsdata.errors.SourceLayoutError`, naming the file and the line or record): no
  caption file; two layouts present without ``layout=``; a JSON-lines line that does not parse, is not an object
  or lacks a text ``filename`` (file and line); JSON that does not parse (line and column), that has
  no ``images`` list, or an image record that is not an object or lacks ``filename`` or ``split``; a caps file
  without its filename file; caps and filename files with different line counts; an empty line in a filename
  file;
- one image (:class:`~rsdata.errors.RecordError`, skipped and counted with ``--on-error skip``): an empty caption
  line (``malformed_line``, caps file and line); a JSON record with no sentences (or ``sentences`` that is not a
  list, such as a single string), a sentence that is not an object or has no text ``raw``, or a
  file name given twice in one split (``malformed_line``, naming ``images[i]``); a JSON-lines line whose
  ``captions`` is missing, empty, not a list or holds an empty or non-text caption, or that names an image given
  before in its split (``malformed_line``, file and line); an image file that is not
  there (``missing_image``).

Licence: each set's own (see its recipe); the default card licence is ``unknown``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Sequence

from rsdata import errors
from rsdata.errors import OptionError, RecordError, SourceLayoutError
from rsdata.formats.base import SourceFormat, SourceItem, choose_splits, file_signature, read_text_file, register_format
from rsdata.records import HUMAN_RULE, ImageRecord, Provenance

LAYOUTS = ("auto", "karpathy", "precomp", "jsonl")
JSONL_SPLIT_WORDS = ("train", "val", "valid", "validation", "test", "trainval")
IMAGE_FOLDER_NAMES = ("images", "imgs")
CAPS_SUFFIX = "_caps.txt"
FILENAME_SUFFIX = "_filename.txt"


@dataclass(frozen=True)
class RsCaptionsOptions:
    layout: str = "auto"
    images_dir: str | None = None
    json_file: str | None = None

    def __post_init__(self):
        if self.layout not in LAYOUTS:
            raise OptionError(f"option layout={self.layout!r}: expected one of {', '.join(LAYOUTS)}")


@dataclass
class _CaptionedImage:
    """One image's captions as read from the caption file, and where they came from."""

    split: str
    filename: str
    filepath: str
    source: Path  # the caption file
    line: int | None  # first caption line (precomp), None for JSON
    record: str | None  # "images[12]" (JSON), "line 3" (JSON lines), None for precomp
    captions: list[str] = field(default_factory=list)
    problem: RecordError | None = None  # the first thing wrong with this image's captions

    def fail(self, message: str, line: int | None = None) -> None:
        if self.problem is None:
            prefix = f"{self.record} ({self.filename}): " if self.record else ""
            self.problem = RecordError(self.source, prefix + message, reason=errors.MALFORMED_LINE, line=line)


@register_format
class RsCaptionsFormat(SourceFormat):
    name = "rs_captions"
    description = ("RSICD/RSITMD/UCM/Sydney human captions: Karpathy dataset_*.json, precomp <split>_caps.txt "
                   "+ _filename.txt, or JSON lines <split>.jsonl (filename + captions)")
    options_class = RsCaptionsOptions
    caption_rule = HUMAN_RULE

    def __init__(self, options: RsCaptionsOptions | None = None):
        super().__init__(options)
        self._images: dict[tuple[str, str], _CaptionedImage] = {}

    def list_items(self, root: Path, splits: Sequence[str] | None) -> list[SourceItem]:
        if not root.is_dir():
            raise SourceLayoutError(f"source folder {root} does not exist or is not a folder")
        layout = self._layout(root)
        if layout == "karpathy":
            entries = read_karpathy_json(self._json_file(root))
        elif layout == "jsonl":
            entries = [e for path in self._jsonl_files(root) for e in read_json_lines(path)]
        else:
            entries = read_precomp(root)
        found = sorted({entry.split for entry in entries})
        chosen = choose_splits(splits, found, root)
        images_dir = self._images_dir(root)
        self._images = {}
        items = []
        for split in chosen:
            for entry in (e for e in entries if e.split == split):
                self._images[(split, entry.filename)] = entry
                items.append(_item(root, images_dir, entry))
        return items

    def parse(self, item: SourceItem) -> ImageRecord:
        entry = self._images[(item.split, item.source_id)]
        if entry.problem is not None:
            raise entry.problem
        if item.image_path is None:
            where = f"{entry.record} ({entry.filename})" if entry.record else entry.filename
            raise RecordError(entry.source, f"image {where} not found (looked for {item.image_name})",
                              reason=errors.MISSING_IMAGE, line=entry.line)
        provenance = Provenance(source_dataset=self.name, split=item.split, source_id=item.source_id)
        return ImageRecord(image_path=item.image_path, image_name=item.image_name, provenance=provenance,
                           human_captions=tuple(entry.captions), annotation_path=entry.source)

    # -- layout ----------------------------------------------------------------------------------------------

    def _layout(self, root: Path) -> str:
        if self.options.layout != "auto":
            return self.options.layout
        if self.options.json_file:
            named = self._named_json(root)
            return "jsonl" if named.suffix.lower() == ".jsonl" or _is_json_lines(named) else "karpathy"
        found = {"karpathy": bool(_json_candidates(root)), "precomp": any(root.glob(f"*{CAPS_SUFFIX}")),
                 "jsonl": bool(_jsonl_candidates(root))}
        present = [name for name, here in found.items() if here]
        if len(present) > 1:
            what = {"karpathy": "a Karpathy-style dataset*.json", "precomp": f"precomp *{CAPS_SUFFIX} files",
                    "jsonl": "JSON-lines caption files (*.jsonl)"}
            both = "both " if len(present) == 2 else ""
            held = " and ".join(what[name] for name in present)
            raise SourceLayoutError(f"{root} holds {both}{held}; choose one with "
                                    + " or ".join(f"-o layout={name}" for name in present))
        if not present:
            raise SourceLayoutError(
                f"no caption file in {root}: expected a Karpathy-style dataset_<name>.json (or -o json_file=NAME), "
                f"precomp <split>{CAPS_SUFFIX} + <split>{FILENAME_SUFFIX} pairs, or JSON-lines <split>.jsonl files "
                "(one {\"filename\": ..., \"captions\": [...]} object per line)")
        return present[0]

    def _named_json(self, root: Path) -> Path:
        path = (root / self.options.json_file).resolve()
        if not path.is_relative_to(root.resolve()):
            raise OptionError(f"option json_file={self.options.json_file!r} must name a file inside {root}")
        if not path.is_file():
            raise SourceLayoutError(f"caption file {path} (option json_file) does not exist")
        return path

    def _jsonl_files(self, root: Path) -> list[Path]:
        if self.options.json_file:
            return [self._named_json(root)]
        files = _jsonl_candidates(root)
        if not files:
            raise SourceLayoutError(f"no JSON-lines caption file in {root}: expected <split>.jsonl files (one "
                                    "{\"filename\": ..., \"captions\": [...]} object per line), or name one with "
                                    "-o json_file=NAME")
        return files

    def _json_file(self, root: Path) -> Path:
        if self.options.json_file:
            return self._named_json(root)
        candidates = _json_candidates(root)
        if len(candidates) != 1:
            names = ", ".join(p.name for p in candidates) or "none"
            raise SourceLayoutError(f"expected one dataset*.json in {root}, found {names}; name it with "
                                    "-o json_file=NAME")
        return candidates[0]

    def _images_dir(self, root: Path) -> Path:
        if self.options.images_dir is not None:
            folder = root / self.options.images_dir
            if not folder.is_dir():
                raise SourceLayoutError(f"images folder {folder} (option images_dir) does not exist")
            return folder
        for name in IMAGE_FOLDER_NAMES:
            if (root / name).is_dir():
                return root / name
        named = sorted(p for p in root.glob("*_images") if p.is_dir())
        if len(named) > 1:
            raise SourceLayoutError(f"several image folders in {root}: {', '.join(p.name for p in named)}; choose "
                                    "one with -o images_dir=NAME")
        return named[0] if named else root


def _json_candidates(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("dataset*.json") if p.is_file() and not _is_json_lines(p))


def _jsonl_candidates(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith(".") and (
        p.suffix.lower() == ".jsonl" or (p.suffix.lower() == ".json" and _is_json_lines(p))))


def _is_json_lines(path: Path) -> bool:
    """Whether the file's first non-blank line is, alone, a JSON object with a ``filename`` (a JSON-lines caption
    file, not a Karpathy-style one)."""
    try:
        with open(path, "rb") as handle:
            for raw in handle:
                line = raw.decode("utf-8-sig", errors="replace").strip()
                if line:
                    record = json.loads(line)
                    return isinstance(record, dict) and "filename" in record
    except (OSError, ValueError):
        return False
    return False


def _item(root: Path, images_dir: Path, entry: _CaptionedImage) -> SourceItem:
    name = PurePosixPath(entry.filename)
    if any(p.is_absolute() or ".." in p.parts for p in (name, PurePosixPath(entry.filepath))):
        entry.fail(f"file name {entry.filename!r} (filepath {entry.filepath!r}) must be a relative path inside the "
                   "images folder", entry.line)
        candidates = []
    else:
        candidates = [images_dir / entry.filepath / entry.filename] if entry.filepath else []
        candidates.append(images_dir / entry.filename)
    image_path = next((p for p in candidates if p.is_file()), None)
    shown = image_path or (candidates[-1] if candidates else images_dir / name.name)
    size, mtime = file_signature(image_path)
    return SourceItem(split=entry.split, source_id=entry.filename,
                      image_name=Path(os.path.relpath(shown, root)).as_posix(), image_path=image_path,
                      annotation_path=entry.source, size_bytes=size, mtime_ns=mtime)


def without_line_terminator(text: str) -> str:
    """``text`` without one trailing "\\r\\n", "\\n" or "\\r" (nothing else is changed)."""
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith(("\n", "\r")):
        return text[:-1]
    return text


def read_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 text file without their terminators ("\\n" or "\\r\\n"); a final terminator does not
    start another line."""
    text = read_text_file(path)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


# ---------------------------------------------------------------------------------------------------------------
# Karpathy-style JSON


def read_karpathy_json(path: Path) -> list[_CaptionedImage]:
    """The images of a Karpathy-style caption file, in file order (see the module docstring for what is checked)."""
    try:
        data = json.loads(read_text_file(path))
    except json.JSONDecodeError as error:
        raise SourceLayoutError(f"{path}:{error.lineno}: not valid JSON ({error.msg} at column "
                                f"{error.colno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        found = f"keys {', '.join(sorted(map(str, data)))}" if isinstance(data, dict) else type(data).__name__
        raise SourceLayoutError(f"{path}: expected an object with an 'images' list (Karpathy-style captions), "
                                f"found {found}")
    entries: dict[tuple[str, str], _CaptionedImage] = {}
    for index, record in enumerate(data["images"]):
        where = f"images[{index}]"
        if not isinstance(record, dict):
            raise SourceLayoutError(f"{path}: {where} is {type(record).__name__}, expected an object with "
                                    "'filename', 'split' and 'sentences'")
        for key in ("filename", "split"):
            value = record.get(key)
            if not isinstance(value, str) or not value.strip():
                got = "missing" if key not in record else f"{value!r}"
                raise SourceLayoutError(f"{path}: {where} needs a non-empty text {key!r}, got {got}")
        filepath = record.get("filepath") or ""
        entry = _CaptionedImage(split=record["split"], filename=record["filename"],
                                filepath=filepath if isinstance(filepath, str) else "", source=path, line=None,
                                record=where)
        key = (entry.split, entry.filename)
        if key in entries:
            entries[key].fail(f"file name given again by {where} in split {entry.split!r}")
            continue
        entries[key] = entry
        sentences = record.get("sentences")
        accepted = "expected a non-empty list of {\"raw\": caption} objects"
        if sentences is None or sentences == []:
            entry.fail(f"no sentences ({accepted})")
            continue
        if not isinstance(sentences, list):
            entry.fail(f"'sentences' is {_json_kind(sentences)} {_shortened(sentences)}, not a list; {accepted}, "
                       "even for one caption")
            continue
        for number, sentence in enumerate(sentences):
            raw = sentence.get("raw") if isinstance(sentence, dict) else None
            if not isinstance(sentence, dict):
                entry.fail(f"sentences[{number}] is {_json_kind(sentence)} {_shortened(sentence)}, not an object; "
                           f"{accepted}")
                break
            if not isinstance(raw, str):
                got = "missing" if "raw" not in sentence else f"{_json_kind(raw)} {_shortened(raw)}"
                entry.fail(f"sentences[{number}] has no text 'raw' (the caption; got {got})")
                break
            caption = without_line_terminator(raw)
            if not caption.strip():
                entry.fail(f"sentences[{number}] 'raw' is empty")
                break
            entry.captions.append(caption)
    return list(entries.values())


def _json_kind(value) -> str:
    """How JSON names a value's type ("a string", "an object", ...), for messages."""
    kinds = ((bool, "a boolean"), (str, "a string"), (dict, "an object"), (list, "a list"), ((int, float), "a number"))
    return next((kind for types, kind in kinds if isinstance(value, types)), "null")


def _shortened(value, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit - 3] + "..."


# ---------------------------------------------------------------------------------------------------------------
# JSON lines


def split_of_file(path: Path) -> str:
    """The split a JSON-lines caption file holds, from its name (see the module docstring)."""
    stem = path.name[:-len(path.suffix)] if path.suffix else path.name
    words = [w for w in stem.replace("-", "_").replace(".", "_").split("_") if w]
    return next((w.lower() for w in words if w.lower() in JSONL_SPLIT_WORDS), stem)


def read_json_lines(path: Path) -> list[_CaptionedImage]:
    """The images of one JSON-lines caption file, in line order (see the module docstring for what is checked)."""
    file_split = split_of_file(path)
    entries: dict[tuple[str, str], _CaptionedImage] = {}
    accepted = 'expected one object per line, {"filename": "NAME", "captions": ["caption", ...]}'
    for number, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise SourceLayoutError(f"{path}:{number}: not valid JSON ({error.msg} at column {error.colno}); "
                                    f"{accepted}") from None
        if not isinstance(record, dict):
            raise SourceLayoutError(f"{path}:{number}: line holds {_json_kind(record)} {_shortened(record)}; "
                                    f"{accepted}")
        filename = record.get("filename")
        if not isinstance(filename, str) or not filename.strip():
            got = "missing" if "filename" not in record else repr(filename)
            raise SourceLayoutError(f"{path}:{number}: needs a non-empty text 'filename', got {got}; {accepted}")
        split = record.get("split")
        split = split if isinstance(split, str) and split.strip() else file_split
        entry = _CaptionedImage(split=split, filename=filename, filepath="", source=path, line=number,
                                record=f"line {number}")
        key = (split, filename)
        if key in entries:
            first = entries[key]
            first.fail(f"file name given again on line {number} in split {split!r}", first.line)
            continue
        entries[key] = entry
        captions = record.get("captions")
        if not isinstance(captions, list) or not captions:
            got = "missing" if "captions" not in record else f"{_json_kind(captions)} {_shortened(captions)}"
            entry.fail(f"'captions' must be a non-empty list of texts, even for one caption (got {got})", number)
            continue
        for index, caption in enumerate(captions):
            if not isinstance(caption, str) or not without_line_terminator(caption).strip():
                entry.fail(f"captions[{index}] is {'empty' if isinstance(caption, str) else _json_kind(caption)}; "
                           "every caption must be a non-empty text", number)
                break
            entry.captions.append(without_line_terminator(caption))
    if not entries:
        raise SourceLayoutError(f"{path} holds no caption line; {accepted}")
    return list(entries.values())


# ---------------------------------------------------------------------------------------------------------------
# precomp text pairs


def read_precomp(root: Path) -> list[_CaptionedImage]:
    """The images of every ``<split>_caps.txt`` + ``<split>_filename.txt`` pair in ``root``, splits in name
    order, images in order of first appearance."""
    found = sorted(p.name[:-len(CAPS_SUFFIX)] for p in root.glob(f"*{CAPS_SUFFIX}") if p.is_file())
    entries: list[_CaptionedImage] = []
    for split in found:
        entries.extend(read_precomp_split(root / f"{split}{CAPS_SUFFIX}", root / f"{split}{FILENAME_SUFFIX}", split))
    return entries


def read_precomp_split(caps_file: Path, names_file: Path, split: str) -> list[_CaptionedImage]:
    if not names_file.is_file():
        raise SourceLayoutError(f"{caps_file} has no companion {names_file.name} naming the image of each caption "
                                f"line (expected {names_file})")
    captions, names = read_lines(caps_file), read_lines(names_file)
    if len(captions) != len(names):
        raise SourceLayoutError(f"{caps_file} has {len(captions)} caption line(s) but {names_file} names "
                                f"{len(names)} image(s); line i of one must match line i of the other")
    if not captions:
        raise SourceLayoutError(f"{caps_file} holds no caption")
    entries: dict[str, _CaptionedImage] = {}
    for number, (caption, name) in enumerate(zip(captions, names), start=1):
        filename = name.strip()
        if not filename:
            raise SourceLayoutError(f"{names_file}:{number}: empty line; every line names the image of the caption "
                                    f"on the same line of {caps_file.name}")
        entry = entries.get(filename)
        if entry is None:
            entry = entries[filename] = _CaptionedImage(split=split, filename=filename, filepath="",
                                                        source=caps_file, line=number, record=None)
        if not caption.strip():
            entry.fail(f"caption of image {filename} is empty", line=number)
        entry.captions.append(caption)
    return list(entries.values())
