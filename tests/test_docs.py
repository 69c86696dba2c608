"""Documentation checks: docs/cli.md matches --help, every command has help, README lists every command,
relative links in README.md and docs/ resolve. Fast: nothing here loads a model or an index."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import load_script

ROOT = Path(__file__).resolve().parents[1]
CLI_DOC = ROOT / "docs" / "cli.md"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


reference = load_script("cli_reference")


def _commands():
    return reference.command_contexts()


def test_cli_reference_is_up_to_date():
    assert CLI_DOC.read_text(encoding="utf-8") == reference.render(), (
        f"docs/cli.md is stale; regenerate it with: {reference.REGENERATE}")


def test_check_mode_reports_a_stale_file(tmp_path, capsys):
    stale = tmp_path / "cli.md"
    stale.write_text(reference.render() + "edited by hand\n", encoding="utf-8")
    assert reference.main(["--check", str(stale)]) == 1
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1 and "regenerate" in message
    stale.write_text(reference.render(), encoding="utf-8")
    assert reference.main(["--check", str(stale)]) == 0


def test_reference_ignores_environment_defaults(monkeypatch):
    expected = reference.render()
    monkeypatch.setenv("SIMKIT_INDEX", "/somewhere/else")
    monkeypatch.setenv("SIMKIT_MODEL", "another-model")
    monkeypatch.setenv("COLUMNS", "40")
    assert reference.render() == expected


@pytest.mark.parametrize("ctx", _commands(), ids=lambda ctx: ctx.command_path)
def test_every_command_has_help(ctx):
    command = ctx.command
    assert (command.help or command.short_help or "").strip(), f"`{ctx.command_path}` has no help text"


def test_readme_table_lists_every_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for ctx in _commands():
        if hasattr(ctx.command, "list_commands"):  # groups: their subcommands are listed instead
            continue
        anchor = ctx.command_path.replace(" ", "-")
        assert f"](docs/cli.md#{anchor})" in readme, f"README.md's command table lacks `{ctx.command_path}`"


# --------------------------------------------------------------------------- links

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def _prose(text: str) -> str:
    return FENCE.sub("", text)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    return re.sub(r"[^\w\- ]", "", text.replace("`", "").strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    anchors = set()
    for heading in HEADING.findall(_prose(page.read_text(encoding="utf-8"))):
        slug = _slug(heading)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _links(page: Path) -> list[str]:
    prose = INLINE_CODE.sub("code", _prose(page.read_text(encoding="utf-8")))
    return [target for target in LINK.findall(prose) if not re.match(r"[a-z][a-z0-9+.-]*:", target)]


def test_pages_exist():
    assert (ROOT / "docs" / "README.md").is_file()
    assert len(PAGES) > 2


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_relative_links_resolve(page):
    broken = []
    for target in _links(page):
        path, _, fragment = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif fragment and resolved.suffix == ".md" and fragment not in _anchors(resolved):
            broken.append(f"{target}: no heading #{fragment} in {resolved.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)
