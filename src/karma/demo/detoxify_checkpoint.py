"""A tiny Detoxify checkpoint and the BERT folder it builds on, for the Detoxify tests and the rehearsal.

Detoxify's released ``toxic_original`` checkpoint (418 MB) is a pickled mapping ``{"config": ...,
"state_dict": ...}``: ``config.arch.args`` names the transformers classes and the hub model the BERT
config comes from, ``config.dataset.args.classes`` the six Jigsaw labels in output order. This module
writes a checkpoint in that format around a tiny BERT, next to a folder with the files the rule
``fetch_detoxify`` fetches from ``google-bert/bert-base-uncased`` (``config.json``, ``vocab.txt``,
``tokenizer.json``, ``tokenizer_config.json``), so that the real Detoxify code path runs offline.

The tiny BERT is distilled from the demo's word list (:class:`karma.evaluation.toxicity.LexiconScorer`)
for a few hundred steps, so each output means its label: a text full of insults scores higher on
``insult`` than a clean one, and a test can tell a swapped label from a right one. Its numbers mean
nothing about real toxicity.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

from karma.demo.vocabulary import TOPICS
from karma.evaluation.toxicity import DETOXIFY_CLASS_NAMES, LEXICON, LexiconScorer
from karma.file_digest import sha256_of

log = logging.getLogger(__name__)

# The Jigsaw class names in the released checkpoint's order; Detoxify renames them on load.
JIGSAW_CLASSES = ("toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate")
BERT_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def training_texts(seed: int, n: int) -> list[str]:
    """Demo-domain sentences; most get one to three words of one category of the demo lexicon."""
    rng = random.Random(seed)
    topics = list(TOPICS.values())
    categories = [sorted(words) for _, words in sorted(LEXICON.items())]
    texts = []
    for _ in range(n):
        topic = rng.choice(topics)
        sentence = rng.choice(topic.problems + topic.tips + topic.jokes).split()
        words = rng.choice(categories)
        for _ in range(rng.choice((0, 1, 2, 3))):
            sentence.insert(rng.randrange(len(sentence) + 1), rng.choice(words))
        texts.append(" ".join(sentence).capitalize() + ".")
    return texts


def train_wordpiece(texts: list[str], vocab_size: int = 1200) -> BertTokenizerFast:
    """An uncased WordPiece tokenizer in bert-base-uncased's layout ([CLS] a [SEP], ids 0-4 special)."""
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    tokenizer.train_from_iterator(texts, trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=list(BERT_SPECIAL_TOKENS), show_progress=False))
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return BertTokenizerFast(tokenizer_object=tokenizer, do_lower_case=True, model_max_length=128)


def write_detoxify_checkpoint(checkpoint: str | Path, bert_dir: str | Path, *, seed: int = 0,
                              steps: int = 200, n_texts: int = 2000) -> str:
    """Write the tiny BERT folder to ``bert_dir`` and the checkpoint to ``checkpoint``; its SHA-256.

    ``steps`` of distillation (0: random weights, enough where only the code path matters)."""
    texts = training_texts(seed, n_texts)
    tokenizer = train_wordpiece(texts)
    bert_dir = Path(bert_dir)
    tokenizer.save_pretrained(bert_dir)
    vocab = [token for token, _ in sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])]
    (bert_dir / "vocab.txt").write_text("".join(f"{token}\n" for token in vocab), encoding="utf-8")
    fields = dict(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                  intermediate_size=64, max_position_embeddings=128, pad_token_id=tokenizer.pad_token_id)
    BertConfig(**fields, architectures=["BertForMaskedLM"]).save_pretrained(bert_dir)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BertForSequenceClassification(BertConfig(**fields, num_labels=len(JIGSAW_CLASSES)))
        _distil(model, tokenizer, texts, steps, seed)
    payload = {
        "config": {
            "name": "Jigsaw_BERT_tiny",
            "arch": {"type": "BERT", "args": {"model_type": "bert-base-uncased",
                                              "model_name": "BertForSequenceClassification",
                                              "tokenizer_name": "BertTokenizer",
                                              "num_classes": len(JIGSAW_CLASSES)}},
            "dataset": {"type": "JigsawDataOriginal", "args": {"classes": list(JIGSAW_CLASSES)}},
        },
        "state_dict": {name: tensor.detach().clone() for name, tensor in model.state_dict().items()},
    }
    checkpoint = Path(checkpoint)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, checkpoint)
    digest = sha256_of(checkpoint)
    log.info("wrote tiny Detoxify checkpoint %s (SHA-256 %s) and its BERT folder %s", checkpoint, digest, bert_dir)
    return digest


def _distil(model: BertForSequenceClassification, tokenizer: BertTokenizerFast, texts: list[str],
            steps: int, seed: int, batch_size: int = 32) -> None:
    """Fit the six outputs to the lexicon's scores (binary cross-entropy on soft targets)."""
    order = [DETOXIFY_CLASS_NAMES.get(name, name) for name in JIGSAW_CLASSES]
    scores = LexiconScorer().score(texts)
    targets = torch.tensor([[row[label] for label in order] for row in scores])
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3)
    rng = random.Random(seed)
    model.train()
    loss = torch.tensor(float("nan"))
    for _ in range(steps):
        batch = rng.sample(range(len(texts)), batch_size)
        encoded = tokenizer([texts[i] for i in batch], padding=True, truncation=True, return_tensors="pt")
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(**encoded).logits, targets[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    log.info("distilled the tiny Detoxify BERT for %d steps: final loss %.4f", steps, loss.item())
