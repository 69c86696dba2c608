"""Text output shows report text as written (issue 16, probes 9 and 10).

Report text with rich markup (``[bold]x[/]``, ``[link=…]``, a closing tag alone) is shown literally, never
interpreted (a label ``《y[/link]》`` made ``simkit matrix`` fail with a MarkupError traceback), and terminal
escape sequences (a colour, an OSC setting the window title) never reach the terminal through ``show``,
``search``, ``clusters`` or ``matrix``. JSON keeps the text as stored.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import CLOSING_TAG, ESCAPES, LINK, MARKUP

from simkit.cli import cli

pytestmark = pytest.mark.slow  # the index of two generated reports takes ~20 s to build

ESCAPE_ID_QUERY = "推进互联网加监管，建设行政执法监督平台"


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.output


def _no_control(output: str) -> None:
    assert "\x1b" not in output and "\x07" not in output and "\x9b" not in output
    assert "0;title" not in output  # the OSC's text went with it, not just its ESC


@pytest.fixture(scope="module")
def escaped_id(markup_index_dir) -> str:
    """The id of the measure holding :data:`ESCAPES`."""
    data = json.loads(_run("search", ESCAPE_ID_QUERY, "--index", str(markup_index_dir), "--json", "-k", "1"))
    hit = next(h for r in data["regions"] for h in r["hits"] if ESCAPES in h["text"])
    return hit["paragraph_id"]


def test_matrix_shows_labels_with_markup_as_written(markup_index_dir):
    """Probe 9: a label with a lone closing tag crashed `simkit matrix` (MarkupError); `[bold]x[/]` lost its tags."""
    output = _run("matrix", "--index", str(markup_index_dir))
    assert MARKUP in output and CLOSING_TAG in output
    matrix = _run("clusters", "--matrix", "--index", str(markup_index_dir))
    assert MARKUP in matrix and CLOSING_TAG in matrix


def test_clusters_table_shows_markup_and_no_escapes(markup_index_dir):
    """Probes 9/10, a guard: labels, keywords and examples with markup are shown literally (this table already
    made rich Text of them; the matrix and the search table did not)."""
    output = _run("clusters", "--index", str(markup_index_dir))
    assert MARKUP in output and CLOSING_TAG in output
    _no_control(output)


def test_search_table_shows_markup_and_drops_escapes(markup_index_dir):
    """Probe 10: escape sequences of a report reached the terminal through the search table."""
    output = _run("search", ESCAPE_ID_QUERY, "--index", str(markup_index_dir), "-k", "2", "--hits", "5")
    _no_control(output)
    assert "红色建设行政执法监督平台" in output  # the text around the escapes is kept, joined
    linked = _run("search", "行政执法公示制度 执法公示平台", "--index", str(markup_index_dir), "-k", "1")
    assert MARKUP in linked and LINK in linked.replace("\n", "").replace("│", "").replace(" ", "")


def test_show_drops_escapes_and_keeps_markup(markup_index_dir, escaped_id):
    """Probe 10: `simkit show` printed the report's escape sequences (the OSC retitled the terminal)."""
    output = _run("show", escaped_id, "--index", str(markup_index_dir))
    _no_control(output)
    assert "7.推进互联网加监管。红色建设行政执法监督平台" in output


def test_json_keeps_the_text_as_stored(markup_index_dir, escaped_id):
    """A guard: JSON output is data, the escapes are kept (JSON writes them as \\u001b and \\u0007)."""
    output = _run("show", escaped_id, "--index", str(markup_index_dir), "--json")
    assert "\x1b" not in output and "\\u001b" in output
    assert ESCAPES in json.loads(output)["text"]
    labels = [c["label"] for c in json.loads(_run("clusters", "--index", str(markup_index_dir), "--json"))["clusters"]]
    assert MARKUP in labels and CLOSING_TAG in labels


def test_clean_removes_escape_sequences_and_controls_but_keeps_tabs_and_newlines():
    """The one sanitizer of text output (simkit.cli.render.clean)."""
    from simkit.cli.render import clean

    assert clean("a\x1b[31mb\x1b[0m") == "ab"  # CSI
    assert clean("a\x1b]0;title\x07b") == "ab"  # OSC ended by BEL
    assert clean("a\x1b]8;;http://e\x1b\\link\x1b]8;;\x1b\\b") == "alinkb"  # OSC 8 hyperlink ended by ST
    assert clean("a\x1bPdata\x1b\\b") == "ab"  # DCS
    assert clean("a\x9b2Jb\x85c") == "abc"  # 8-bit CSI, C1 NEL
    assert clean("a\rb\x08c\x00d\x7fe") == "abcde"
    assert clean("a\tb\nc") == "a\tb\nc"
    assert clean("[bold]x[/] [link=http://e]y[/link]") == "[bold]x[/] [link=http://e]y[/link]"
    assert clean("a\x1b") == "a" and clean("a\x1b]unterminated") == "aunterminated"


def test_highlights_stay_on_their_characters_after_cleaning():
    """Removing escapes before a hit's query words moves the highlight spans with the text."""
    from simkit.cli.render import _hit_text
    from simkit.results import Hit

    text = "a\x1b[31mb\x1b]0;t\x07执法公示"
    start = text.index("执法")
    hit = Hit("p", "d", None, None, "s", text, 1.0, "measure", False, highlights=[(start, start + 2)])
    shown = _hit_text(hit, 200)
    assert shown.plain == "ab执法公示"
    bold = [shown.plain[span.start:span.end] for span in shown.spans if "bold" in str(span.style)]
    assert bold == ["执法"]


def test_error_and_warning_lines_drop_escape_sequences_from_file_names(tmp_path, capsys):
    """Probe 10, error lines: an escape sequence in a file name (or any message) no longer reaches the terminal
    through ``Error:`` or ``Warning:`` lines; the rest of the name is kept so the user can find the file."""
    from simkit.cli.errors import warn

    name = tmp_path / "report\x1b]0;pwned\x07\x1b[31m.txt"
    result = CliRunner().invoke(cli, ["parse", str(name)])
    assert result.exit_code != 0
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert result.output.startswith("Error: ") and "report.txt" in result.output

    warn("bad\x1b[2Jname")
    assert capsys.readouterr().err == "Warning: badname\n"
