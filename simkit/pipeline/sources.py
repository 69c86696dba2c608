"""The report files a build or rebuild is given: collected from files and folders, parsed one by one."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from simkit.errors import InputError
from simkit.reading.parse import document_id_for, parse_report
from simkit.reading.records import ParsedReport
from simkit.reading.sidecar import Metadata, is_sidecar, match_rows, read_csv

#: Report paths as the build functions take them: a list of files and folders, or a single one.
ReportPaths = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]

#: ``SkippedFile.kind``: a file that could not be read, a folder whose files could not be listed, a path
#: given that does not exist.
SKIPPED_KINDS = ("file", "folder", "missing")


@dataclass(frozen=True)
class SkippedFile:
    """A file (or folder) that was not indexed, and why.

    ``document_id``: the id the file was given (None for a folder or a missing path); ``kind``:
    ``file`` (a file that could not be read), ``folder`` (a folder that could not be listed or
    searched, so that none of its files was read) or ``missing`` (a path given that does not exist).
    """

    file: str
    reason: str
    document_id: str | None = None
    kind: str = "file"

    @property
    def unlisted(self) -> bool:
        """Whether this is a source whose files are unknown (a folder or a path given): their reports
        must not count as deleted."""
        return self.kind != "file"


def as_paths(paths: ReportPaths) -> list[str | os.PathLike[str]]:
    """The paths of a ``paths`` argument: a single ``str`` or path-like is one path (not its characters)."""
    if isinstance(paths, (str, os.PathLike)):
        return [paths]
    if isinstance(paths, bytes):
        raise TypeError("report paths must be str or os.PathLike, not bytes")
    return list(paths)


def collect_files(paths: ReportPaths) -> tuple[list[Path], list[SkippedFile]]:
    """Expand directories (recursively, hidden files and folders excluded) into a sorted list of files.

    Returns the files and what was skipped: a path given that does not exist (``missing``); a
    folder that cannot be listed (no read permission) or searched (no execute permission), as one
    ``folder`` entry, none of its files being returned; and, inside folders, anything that is not
    a regular file (a FIFO, a device, a socket, a broken link) as a ``file`` entry. Symbolic links
    to files are followed, links to folders are not. A single ``str`` or path-like is one path.
    """
    files: list[Path] = []
    skipped: list[SkippedFile] = []
    seen: set[Path] = set()

    def add(file: Path) -> None:
        try:
            key = file.resolve()
        except OSError:  # a loop of links: the path as given
            key = Path(os.path.abspath(file))
        if key not in seen:  # a file named twice (or inside a named folder) is read once
            seen.add(key)
            files.append(file)

    for raw in as_paths(paths):
        path = Path(raw)
        try:
            info = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            skipped.append(SkippedFile(str(path), f"{path}: no such file or directory; check the path",
                                       kind="missing"))
            continue
        except OSError as exc:
            skipped.append(SkippedFile(str(path), f"{path}: cannot be reached ({exc.strerror or exc}); check the "
                                       "permissions of the folders above it", kind="missing"))
            continue
        if stat.S_ISDIR(info.st_mode):
            found, bad = _walk(path)
            for file in found:
                add(file)
            skipped.extend(bad)
        else:  # a file given by name; anything but a regular file is refused when it is read
            add(path)
    return files, skipped


def _walk(folder: Path) -> tuple[list[Path], list[SkippedFile]]:
    """The regular files under ``folder`` in sorted path order, and what could not be read.

    The order is that of ``sorted(folder.rglob("*"))``: report ids given to repeated file stems
    (``-2``, ``-3``…) follow it.
    """
    try:
        with os.scandir(folder) as listing:
            entries = sorted((entry for entry in listing if not entry.name.startswith(".")), key=lambda e: e.name)
    except OSError as exc:
        return [], [_unreadable_folder(folder, exc)]
    if entries:  # a folder that can be listed (r) but not searched (no x) fails only here
        try:
            os.lstat(folder / entries[0].name)
        except FileNotFoundError:
            pass  # removed meanwhile
        except OSError as exc:
            return [], [_unreadable_folder(folder, exc)]
    files: list[Path] = []
    skipped: list[SkippedFile] = []
    for entry in entries:
        path = folder / entry.name
        link = False
        try:
            if entry.is_dir(follow_symlinks=False):
                found, bad = _walk(path)
                files.extend(found)
                skipped.extend(bad)
                continue
            link = entry.is_symlink()
            mode = os.stat(path).st_mode if link else entry.stat(follow_symlinks=False).st_mode
        except FileNotFoundError:
            if entry.is_symlink():
                skipped.append(SkippedFile(str(path), f"{path}: broken symbolic link, not read; fix or remove it"))
            continue  # removed while the folder was being read
        except OSError as exc:
            if not link:  # looking at an entry failed although the folder could be searched a moment ago
                return [], [_unreadable_folder(folder, exc)]
            skipped.append(SkippedFile(str(path), f"{path}: the file this link points to cannot be reached "
                                       f"({exc.strerror or exc}); check its permissions"))
            continue
        if stat.S_ISREG(mode):
            if not is_sidecar(path):  # a report's NAME.json is read with it, not as a report
                files.append(path)
        elif not stat.S_ISDIR(mode):  # a link to a folder is not followed
            skipped.append(SkippedFile(str(path), f"{path}: not a regular file (a FIFO, device or socket), not "
                                       "read; move it out of the report folder"))
    return files, skipped


def _unreadable_folder(folder: Path, exc: OSError) -> SkippedFile:
    """A folder that cannot be listed or searched, as one ``folder`` entry."""
    return SkippedFile(
        str(folder),
        f"{folder}: folder cannot be read ({exc.strerror or exc}), none of the reports in it was read; "
        "the user running simkit needs read and search permission on it (chmod a+rx)",
        kind="folder",
    )


def read_metadata(metadata: str | os.PathLike[str] | None, files: list[Path]) -> dict[Path, Metadata]:
    """The rows of a ``--metadata`` CSV matched to the report files given (an error names a row whose file
    is not among them); the CSV itself is taken out of ``files`` when it lies among them."""
    if metadata is None:
        return {}
    sheet = Path(metadata)
    rows = read_csv(sheet)
    try:
        key = sheet.resolve()
        files[:] = [f for f in files if f.resolve() != key]
    except OSError:
        pass
    return match_rows(rows, files, sheet)


def region_warning(file: Path | str, report: ParsedReport) -> str | None:
    """The warning for a report whose region was not found (or is ambiguous), or None."""
    r = report.report
    if r.region is not None:
        return None
    if r.region_candidates:
        return (f"{file}: region is ambiguous ({', '.join(r.region_candidates)}); shown on its own as "
                f"{r.reporter!r} (set it with --region or --metadata)")
    return f"{file}: region not detected; shown on its own as {r.reporter!r} (set it with --region or --metadata)"


def parse_reports(
    files: Sequence[Path], *, region: str | None = None, skip_bad: bool = True, reserved: Iterable[str] = (),
    metadata: dict[Path, Metadata] | None = None,
) -> tuple[list[ParsedReport], list[SkippedFile], list[str]]:
    """Parse every file; unreadable ones are returned as skipped (or, without ``skip_bad``, raised).

    Ids are file stems, with ``-2``, ``-3``… for repeated stems in file order; an unreadable file
    keeps its id too (recorded in its :class:`SkippedFile`), so that the ids of the others do
    not shift when a file becomes unreadable. ``reserved`` ids are given to no file (a rebuild
    reserves those of the reports in a folder that cannot be read, which it keeps).
    """
    parsed: list[ParsedReport] = []
    skipped: list[SkippedFile] = []
    warnings: list[str] = []
    used_ids: set[str] = set(reserved)
    for file in files:
        doc_id = document_id_for(file)
        suffix = 2
        while doc_id in used_ids:
            doc_id = f"{document_id_for(file)}-{suffix}"
            suffix += 1
        used_ids.add(doc_id)
        try:
            report = parse_report(file, document_id=doc_id, region=region, metadata=(metadata or {}).get(file))
        except InputError as exc:
            if not skip_bad:
                raise
            skipped.append(SkippedFile(str(file), str(exc), doc_id))
            continue
        if not report.units:
            message = f"{file}: no paragraph long enough to index; is this a report?"
            if not skip_bad:
                raise InputError(message)
            skipped.append(SkippedFile(str(file), message, doc_id))
            continue
        if (warning := region_warning(file, report)) is not None:
            warnings.append(warning)
        parsed.append(report)
    return parsed, skipped, warnings
