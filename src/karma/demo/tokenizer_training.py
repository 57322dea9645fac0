"""Train the demo's byte-level BPE tokenizer on the demo corpus, offline.

The demo cannot download a hub tokenizer, so it trains its own with the `tokenizers` library and saves
it as a `transformers` fast-tokenizer directory that `AutoTokenizer.from_pretrained(dir)` loads with
no network. The turn tags of :mod:`karma.formats` are special tokens, so a tag is always one token and
user text can never be split into something that looks like one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from karma.formats import SPECIAL_TAGS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpecialTokens:
    """Names of the control tokens; ids follow this order (bos=0, eos=1, pad=2, unk=3), then the tags."""

    bos: str = "<|bos|>"
    eos: str = "<|eos|>"
    pad: str = "<|pad|>"
    unk: str = "<|unk|>"

    def control(self) -> list[str]:
        return [self.bos, self.eos, self.pad, self.unk]


DEFAULT_SPECIAL_TOKENS = SpecialTokens()


def train_bpe_tokenizer(
    texts: Iterable[str],
    *,
    vocab_size: int = 8000,
    min_frequency: int = 2,
    model_max_length: int = 2048,
    special: SpecialTokens = DEFAULT_SPECIAL_TOKENS,
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer; the same texts in the same order give the same tokenizer.

    Encoding prepends ``bos`` (as Llama tokenizers do) and no ``eos``; padding uses ``pad``.
    Truncation keeps the end of a text (``truncation_side="left"``) because the candidate response,
    the part a reward model judges, is always at the end of the rendered input.
    """
    control = special.control()
    reserved = control + list(SPECIAL_TAGS)
    if vocab_size <= len(reserved) + 256:
        raise ValueError(
            f"tokenizer vocab_size={vocab_size} is too small: it must exceed the 256 byte symbols plus "
            f"{len(reserved)} special tokens; use at least {len(reserved) + 512}"
        )
    tokenizer = Tokenizer(models.BPE(unk_token=special.unk))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=reserved,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    counted = _Counting(texts)
    tokenizer.train_from_iterator(counted, trainer=trainer)
    if counted.n == 0:
        raise ValueError("no texts to train the tokenizer on: the training corpus is empty")
    bos_id = tokenizer.token_to_id(special.bos)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{special.bos} $A",
        pair=f"{special.bos} $A {special.bos}:1 $B:1",
        special_tokens=[(special.bos, bos_id)],
    )
    log.info(
        "trained byte-level BPE tokenizer: %d texts, %d tokens in vocabulary",
        counted.n,
        tokenizer.get_vocab_size(),
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=special.bos,
        eos_token=special.eos,
        pad_token=special.pad,
        unk_token=special.unk,
        additional_special_tokens=list(SPECIAL_TAGS),
        model_max_length=model_max_length,
        padding_side="right",
        truncation_side="left",
    )


class _Counting:
    """Iterates texts once while counting them, so an empty corpus is reported, not silently used."""

    def __init__(self, texts: Iterable[str]) -> None:
        self._texts = texts
        self.n = 0

    def __iter__(self) -> Iterator[str]:
        for text in self._texts:
            if not isinstance(text, str):
                raise TypeError(
                    f"tokenizer training text #{self.n} is {type(text).__name__}, not str"
                )
            self.n += 1
            yield text


def read_texts(parquet_paths: Iterable[str | Path], column: str = "text") -> Iterator[str]:
    """Stream one string column from Parquet files, batch by batch, without loading whole files."""
    for path in parquet_paths:
        parquet = pq.ParquetFile(path)
        if column not in parquet.schema_arrow.names:
            raise ValueError(
                f"{path} has no column {column!r} (columns: {', '.join(parquet.schema_arrow.names)}); "
                "pass the Parquet files written by the data stage"
            )
        for batch in parquet.iter_batches(columns=[column], batch_size=4096):
            yield from batch.column(0).to_pylist()


def train_tokenizer(
    parquet_paths: Iterable[str | Path],
    out_dir: str | Path,
    *,
    vocab_size: int = 8000,
    min_frequency: int = 2,
    model_max_length: int = 2048,
) -> Path:
    """Train on the ``text`` column of the given Parquet files and save to ``out_dir``."""
    tokenizer = train_bpe_tokenizer(
        read_texts(parquet_paths),
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        model_max_length=model_max_length,
    )
    out = Path(out_dir)
    tokenizer.save_pretrained(out)
    return out
