"""``securitize verify MEMO``: rerun a memo from what it embeds and report every difference.

A regulator holding only the memo can check three things: that its text and embedded figures are
as rendered (the digest), that the scenario it embeds gives the same figures when rerun with the
same seed and path count (every figure of the results document, compared exactly: the engine is
deterministic), and that rendering those figures again gives the same memo text (so an edit is
found even when the editor recomputed the digest). Software version differences are warnings.
A memo rendered with non-package templates (``run --templates DIR``) has its text checked only
against a folder the user names with ``--templates`` whose files hash to the memo's manifest;
verify never loads the folder a memo records on its own.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from securitize.errors import SecuritizeError
from securitize.jsonsafe import json_safe
from securitize.memo import seal
from securitize.memo.i18n import LANGUAGES

# Fields of the results document that say where and how fast a run happened, not what it found:
# not compared, and copied from the memo before re-rendering its text. Keys only (list entries
# are not counted); a key named in TIMINGS is a measured duration wherever it is.
PROVENANCE = {
    ("simulation", "workers"),
    ("simulation", "scheduler"),
    ("assumptions", "pool_source"),
    ("assumptions", "score_band_source"),
    ("selection", "candidates", "path"),
    ("manifest",),
    ("timings",),
}
TIMINGS = {"seconds"}
# Manifest fields compared as results (the inputs' hashes); the rest are paths and versions.
MANIFEST_HASHES = ("scenario_sha256", "tape_sha256", "score_bands_sha256")
SHOWN_TEXT_DIFFERENCES = 5
# Figures that differ by less than this (relative, or absolutely for figures near zero) differ
# by floating-point rounding only: another BLAS, numpy or CPU may add the same terms in another
# order. They are a warning, not a failure (unless --exact); the text check still fails if any
# shown digit changes.
ROUNDING_RELATIVE, ROUNDING_ABSOLUTE = 1e-9, 1e-12
CONTEXT = 40


@dataclass
class Report:
    """What a verification found: figures compared, differences (failures) and warnings."""

    figures: int = 0
    differences: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rounding: list[tuple[str, float, float]] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return not self.differences


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _labels(items: list[Any]) -> list[str]:
    """``[name]`` for lists of named records (tranches, enhancers, stresses), else ``[i]``."""
    names = [i.get("name") if isinstance(i, dict) else None for i in items]
    if all(isinstance(n, str) for n in names) and len(set(names)) == len(names):
        return [f"[{n}]" for n in names]
    return [f"[{i}]" for i in range(len(items))]


def is_provenance(keys: tuple[str, ...]) -> bool:
    return keys in PROVENANCE or (bool(keys) and keys[-1] in TIMINGS)


def compare(memo: Any, rerun: Any, where: str, report: Report, keys: tuple[str, ...] = ()) -> None:
    """Walk two results documents; count numeric figures and record each difference by a
    path-like name (``tranches[senior].wrapped.expected_loss.value``)."""
    if isinstance(memo, dict) and isinstance(rerun, dict):
        for key in [*memo, *(k for k in rerun if k not in memo)]:
            name = f"{where}.{key}" if where else key
            if is_provenance((*keys, key)):
                continue
            if key not in rerun:
                report.differences.append(f"{name}: in the memo, not in the rerun")
            elif key not in memo:
                report.differences.append(f"{name}: in the rerun, not in the memo")
            else:
                compare(memo[key], rerun[key], name, report, (*keys, key))
        return
    if isinstance(memo, list) and isinstance(rerun, list):
        if len(memo) != len(rerun):
            report.differences.append(f"{where}: memo {len(memo)} entries, rerun {len(rerun)}")
            return
        memo_labels, rerun_labels = _labels(memo), _labels(rerun)
        if memo_labels != rerun_labels:
            memo_labels = rerun_labels = [f"[{i}]" for i in range(len(memo))]
        for label, a, b in zip(memo_labels, memo, rerun, strict=True):
            compare(a, b, where + label, report, keys)
        return
    if _is_number(memo) and _is_number(rerun):
        report.figures += 1
        if memo == rerun:
            return
        scale = max(abs(memo), abs(rerun))
        if abs(memo - rerun) <= max(ROUNDING_RELATIVE * scale, ROUNDING_ABSOLUTE):
            report.rounding.append((where, memo, rerun))
        else:
            report.differences.append(f"{where}: memo {memo!r}, rerun {rerun!r}")
        return
    if memo != rerun or type(memo) is not type(rerun):
        report.differences.append(f"{where}: memo {memo!r}, rerun {rerun!r}")


def _software_warnings(memo: dict[str, Any], here: dict[str, Any], report: Report) -> None:
    pairs = [
        ("securitize", memo.get("package_version"), here.get("package_version")),
        ("python", memo.get("python"), here.get("python")),
        *(
            (name, version, here.get("libraries", {}).get(name))
            for name, version in memo.get("libraries", {}).items()
        ),
    ]
    for name, then, now in pairs:
        if then != now:
            report.warnings.append(f"{name} {now} here, {then} when the memo was rendered")


def _patch(value: Any, memo: Any, keys: tuple[str, ...]) -> Any:
    """``value`` (part of the rerun's results) with the memo's provenance fields in it."""
    if is_provenance(keys):
        return memo
    if isinstance(value, dict) and isinstance(memo, dict):
        return {
            k: _patch(v, memo[str(k)], (*keys, str(k))) if str(k) in memo else v
            for k, v in value.items()
        }
    if type(value) in (list, tuple) and isinstance(memo, list) and len(value) == len(memo):
        return type(value)(_patch(v, m, keys) for v, m in zip(value, memo, strict=True))
    return value


def _with_provenance(results: Any, memo: dict[str, Any]) -> Any:
    """The rerun's results with the memo's provenance fields (run times, file paths, versions),
    so that rendering them gives the memo's text when the figures agree."""
    changes = {
        f.name: _patch(getattr(results, f.name), memo[f.name], (f.name,))
        for f in dataclasses.fields(results)
        if f.name in memo and isinstance(getattr(results, f.name), dict | list)
    }
    return dataclasses.replace(results, **changes)


def _excerpt(line: str, at: int) -> str:
    start = max(at - CONTEXT, 0)
    text = line[start : at + CONTEXT]
    return ("…" if start else "") + text + ("…" if at + CONTEXT < len(line) else "")


def text_differences(memo: str, fresh: str) -> list[str]:
    """Where the memo's text differs from a fresh rendering: line numbers and short excerpts."""
    memo_lines, fresh_lines = memo.splitlines(), fresh.splitlines()
    matcher = difflib.SequenceMatcher(None, memo_lines, fresh_lines, autojunk=False)
    found = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        a = "\n".join(memo_lines[i1:i2])
        b = "\n".join(fresh_lines[j1:j2])
        at = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), 0)
        found.append(
            f"text: line {i1 + 1}: memo {_excerpt(a, at)!r}, fresh rendering {_excerpt(b, at)!r}"
        )
    if len(found) > SHOWN_TEXT_DIFFERENCES:
        more = len(found) - SHOWN_TEXT_DIFFERENCES
        found = [*found[:SHOWN_TEXT_DIFFERENCES], f"text: ... and {more} more changed passage(s)"]
    return found


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise seal.MemoError(f"{path}: memo not found") from None
    except OSError as exc:
        raise seal.MemoError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise seal.MemoError(f"{path}: not a securitize memo (not UTF-8 text)") from None


def _templates(manifest: dict[str, Any], given: Path | None, report: Report) -> Path | None:
    """The folder of non-package templates to render the memo's text with, or ``None``.

    Verify loads no templates but the package's unless the user names a folder (``given``): a
    folder the memo merely records is someone's claim, not something to run. A memo rendered
    with other templates is then a difference (its text cannot be reproduced from the
    package's), and a named folder must hash, file for file (sub-folders too), to the memo's
    manifest, else each differing file is a difference and the text is not re-rendered. Either
    way the report says that non-package templates were used."""
    recorded = manifest.get("templates")
    if recorded is None:
        if given is not None:
            raise SecuritizeError(
                f"--templates {given}: the memo was rendered with the package's templates "
                "(its manifest records no others); verify it without --templates"
            )
        return None
    files: dict[str, str] = recorded["files"]
    used = (
        f"the memo was rendered with non-package templates ({len(files)} file(s), "
        f"from {recorded['path']})"
    )
    if given is None:
        report.differences.append(
            f"templates: {used}, which were not supplied, so its text could not be reproduced; "
            "pass --templates DIR (a copy of that folder) to check it"
        )
        return None
    seal.check_templates(given)
    now = seal.template_hashes(given)
    differing = []
    for name in sorted(files.keys() | now.keys()):
        if name not in now:
            differing.append(f"templates: {given / name}: missing (the memo's templates had it)")
        elif name not in files:
            differing.append(f"templates: {given / name}: not among the memo's templates")
        elif now[name] != files[name]:
            differing.append(f"templates: {given / name} differs from the memo's")
    report.differences += differing
    if differing:
        report.warnings.append(
            f"{used}; --templates {given} differs from them, so its text was not re-rendered"
        )
        return None
    report.warnings.append(f"{used}; its text is checked against --templates {given}")
    return given


def _field(mapping: dict[str, Any], key: str, kind: type, where: str, source: str) -> Any:
    value = mapping.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise seal.MemoError(
            f"{source}: verification block: field '{where}{key}' is missing or not {kind.__name__}"
        )
    return value


def check_manifest(manifest: Any, source: str) -> None:
    """The manifest fields verify reads, with their types: a damaged block is a one-line error
    before any work, not a traceback after it."""
    manifest = _field({"manifest": manifest}, "manifest", dict, "", source)
    for key in ("seed", "paths", "chunk_size"):
        _field(manifest, key, int, "manifest.", source)
    language = _field(manifest, "language", str, "manifest.", source)
    if language not in LANGUAGES:
        raise seal.MemoError(f"{source}: verification block: unknown language {language!r}")
    inputs = _field(manifest, "inputs", dict, "manifest.", source)
    _field(inputs, "scenario", dict, "manifest.inputs.", source)
    for name in inputs:
        entry = _field(inputs, name, dict, "manifest.inputs.", source)
        where = f"manifest.inputs.{name}."
        _field(entry, "sha256", str, where, source)
        _field(entry, "path" if entry.get("content") is None else "content", str, where, source)
    if manifest.get("templates") is not None:
        templates = _field(manifest, "templates", dict, "manifest.", source)
        _field(templates, "path", str, "manifest.templates.", source)
        files = _field(templates, "files", dict, "manifest.templates.", source)
        for name in files:
            _field(files, name, str, "manifest.templates.files.", source)


def _rerun(manifest: dict[str, Any], folder: Path, source: str, workers: int | None) -> Any:
    from securitize.run import run_scenario, with_overrides
    from securitize.scenario import POOL_FILE_FIELDS, load_scenario, with_fields

    inputs = manifest["inputs"]
    loaded = load_scenario(seal.restore(inputs["scenario"], folder / "scenario", source))
    changes = {
        f"pool.{name}": str(seal.restore(inputs[name], folder / name, source).resolve())
        for name in POOL_FILE_FIELDS
        if name in inputs
    }
    if changes:
        loaded = with_fields(loaded, changes)
    loaded = with_overrides(
        loaded, paths=manifest["paths"], seed=manifest["seed"], chunk_size=manifest["chunk_size"]
    )
    return run_scenario(loaded, workers=workers)


def verify_memo(
    path: Path, *, workers: int | None = None, templates: Path | None = None, exact: bool = False
) -> Report:
    """Check the memo at ``path`` against a rerun of what it embeds."""
    source = str(path)
    text = _read(path)
    report = Report()
    if "\r" in text:
        # A memo passed through Windows tools or a mail client comes back with CRLF line
        # endings; they carry no figure or word, so they are undone (and said) before checking.
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        report.warnings.append("the memo's line endings were CRLF or CR; compared as LF")
    document, before, after = seal.unseal(text, source)
    if not seal.digest_matches(document, before, after):
        report.differences.append(
            "digest: the memo's text or embedded figures changed after it was rendered"
        )
    manifest, figures = document["manifest"], document["results"]
    check_manifest(manifest, source)
    if not isinstance(figures, dict):
        raise seal.MemoError(f"{source}: verification block: field 'results' is not a dict")
    folder_of_templates = _templates(manifest, templates, report)
    with tempfile.TemporaryDirectory(prefix="securitize-verify-") as tmp:
        run = _rerun(manifest, Path(tmp), source, workers)
    rerun = json.loads(json.dumps(json_safe(run.results.to_dict()), allow_nan=False))
    compare(figures, rerun, "", report)
    memo_manifest = figures.get("manifest", {})
    for key in MANIFEST_HASHES:
        if memo_manifest.get(key) != rerun["manifest"].get(key):
            report.differences.append(
                f"manifest.{key}: memo {memo_manifest.get(key)!r}, rerun {rerun['manifest'][key]!r}"
            )
    _software_warnings(memo_manifest, rerun["manifest"], report)
    if exact:
        report.differences += [f"{w}: memo {a!r}, rerun {b!r}" for w, a, b in report.rounding]
    elif report.rounding:
        report.warnings.append(rounding_warning(report))
    if manifest.get("templates") is None or folder_of_templates is not None:
        results = _with_provenance(run.results, figures)
        fresh = seal.render_memo(results, folder_of_templates, manifest["language"])
        fresh_before, _, fresh_after = fresh.partition(seal.MARKER)
        report.differences += text_differences(before + after, fresh_before + fresh_after)
    return report


def rounding_warning(report: Report) -> str:
    """One line for the figures that differ by rounding only: how many, how far, an example."""
    where, memo, rerun = report.rounding[0]
    largest = max(abs(a - b) / max(abs(a), abs(b)) for _, a, b in report.rounding)
    return (
        f"{len(report.rounding)} figure(s) differ by floating-point rounding only (largest "
        f"relative difference {largest:.1e}), e.g. {where}: memo {memo!r}, rerun {rerun!r}; "
        "--exact lists them as differences"
    )


def format_report(report: Report) -> str:
    """The lines ``securitize verify`` prints."""
    lines = [f"warning: {w}" for w in report.warnings]
    if report.verified:
        lines.append(f"verified: {report.figures} figures reproduced")
    else:
        lines += report.differences
        lines.append(
            f"not verified: {len(report.differences)} difference(s) "
            f"({report.figures} figures compared)"
        )
    return "\n".join(lines)
