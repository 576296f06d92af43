"""The memo's verification block: what a reader needs to rerun the memo and notice an edit.

A rendered memo carries, in ``<script type="application/json" id="securitize-verification">`` in
its head, the run's manifest (the scenario file and the files it names — their bytes when small
enough, else their hashes and paths —, software versions, seed, path count, workers, language),
the full results document, and a SHA-256 digest of the memo with the digest itself left out.
``securitize verify`` (``securitize.verify``) reads it back, reruns and compares.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from securitize.errors import SecuritizeError
from securitize.jsonsafe import json_safe
from securitize.scenario import POOL_FILE_FIELDS

FORMAT = "securitize.memo-verification"
VERSION = 1
MARKER = "<!--securitize-verification-->"
BLOCK_ID = "securitize-verification"
OPEN = f'<script type="application/json" id="{BLOCK_ID}">'
CLOSE = "</script>"
BLOCK = re.compile(re.escape(OPEN) + r"(.*?)" + re.escape(CLOSE), re.DOTALL)
# Inputs whose gzip-compressed bytes fit under this are embedded, so a memo verifies on its own.
EMBED_LIMIT = 1_000_000


class MemoError(SecuritizeError):
    """A file that is not a readable securitize memo (no or broken verification block)."""


def canonical_json(document: dict[str, Any]) -> str:
    """JSON that is safe inside ``<script>``: ``<``, ``>`` and ``&`` are written as ``\\u003c``
    etc., so no text from a tape can close the element or open a comment."""
    text = json.dumps(document, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _input_file(reference: str, path: Path, expected_sha256: str | None) -> dict[str, Any]:
    from securitize.run import portable

    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if expected_sha256 is not None and digest != expected_sha256:
        raise SecuritizeError(f"{path}: changed while the memo was being rendered; run again")
    packed = gzip.compress(raw, mtime=0)
    return {
        "reference": reference,
        "path": portable(path),
        "sha256": digest,
        "size": len(raw),
        "content": base64.b64encode(packed).decode("ascii") if len(packed) <= EMBED_LIMIT else None,
    }


def template_hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under a user's template folder, in sub-folders too, keyed by its
    path relative to the folder in POSIX form (``memo.css``, ``sections/credit.j2``): any file
    the renderer could load from the folder is covered. Folder links are followed, as the
    renderer follows them, each real folder once."""
    hashes: dict[str, str] = {}
    seen: set[str] = set()
    for root, folders, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:  # a link back up the tree: its files are hashed under their first path
            folders[:] = []
            continue
        seen.add(real)
        folders.sort()
        for name in files:
            path = Path(root, name)
            try:
                raw = path.read_bytes()
            except OSError as exc:
                raise SecuritizeError(f"templates: {path}: cannot read ({exc.strerror})") from None
            hashes[path.relative_to(folder).as_posix()] = hashlib.sha256(raw).hexdigest()
    return dict(sorted(hashes.items()))


def manifest(run: Any, language: str, templates: Path | None) -> dict[str, Any]:
    """The inputs and settings that reproduce ``run`` (a ``securitize.run.Run``)."""
    from securitize.run import portable

    loaded, results = run.loaded, run.results
    simulation = results.simulation
    inputs: dict[str, Any] = {
        "scenario": {
            "name": loaded.path.name,
            "path": portable(loaded.path),
            "sha256": hashlib.sha256(loaded.raw).hexdigest(),
            "size": len(loaded.raw),
            "content": base64.b64encode(gzip.compress(loaded.raw, mtime=0)).decode("ascii"),
        }
    }
    spec = loaded.scenario.pool
    for field in POOL_FILE_FIELDS:
        reference = getattr(spec, field)
        if reference is not None:
            # The file as the run read it (the run's manifest hashed it then).
            expected = results.manifest.get(f"{field}_sha256")
            inputs[field] = _input_file(reference, loaded.resolve(reference), expected)
    return {
        "language": language,
        "seed": simulation["seed"],
        "paths": simulation["paths"],
        "chunk_size": simulation["chunk_size"],
        "workers": simulation["workers"],
        "templates": None
        if templates is None
        else {"path": portable(templates), "files": template_hashes(templates)},
        "software": {
            key: results.manifest[key]
            for key in ("package", "package_version", "python", "platform", "libraries")
        },
        "inputs": inputs,
    }


def _digest(before: str, document: dict[str, Any], after: str) -> str:
    body = {k: v for k, v in document.items() if k != "digest"}
    text = before + OPEN + canonical_json(body) + CLOSE + after
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def seal(html: str, document: dict[str, Any]) -> str:
    """``html`` with its verification marker replaced by ``document`` and the memo's digest."""
    if html.count(MARKER) != 1:
        raise SecuritizeError(
            f"memo template: must contain the marker {MARKER} once in its <head> "
            "(where the verification block goes)"
        )
    before, after = html.split(MARKER)
    document = {**document, "digest": _digest(before, document, after)}
    return before + OPEN + canonical_json(document) + CLOSE + after


def verification_document(run: Any, language: str, templates: Path | None) -> dict[str, Any]:
    """The block's content before its digest: format, manifest and the results document."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "manifest": manifest(run, language, templates),
        "results": json.loads(json.dumps(json_safe(run.results.to_dict()), allow_nan=False)),
    }


def _template_place(exc: BaseException, templates: Path) -> str:
    """Where in the templates a rendering error happened: ``name, line N`` from the error (a
    syntax error) or from the innermost template frame of its traceback (a runtime error)."""
    from securitize.memo.render import TEMPLATES

    name, line = getattr(exc, "name", None), getattr(exc, "lineno", None)
    if name is None:
        frame = exc.__traceback__
        while frame is not None:
            path = Path(frame.tb_frame.f_code.co_filename)
            for folder in (templates, TEMPLATES):
                if path.is_relative_to(folder):
                    name, line = path.relative_to(folder).as_posix(), frame.tb_lineno
                    break
            frame = frame.tb_next
    return (name or "template") + (f", line {line}" if line else "")


def render_memo(results: Any, templates: Path | None, language: str) -> str:
    """The memo's HTML (unsealed); an error in a user's templates (a syntax error, an undefined
    figure, something the sandbox refuses) is a one-line ``SecuritizeError`` naming the file."""
    import jinja2

    from securitize.memo import render_html

    try:
        return render_html(results, templates=templates, lang=language)
    except SecuritizeError:
        raise
    except Exception as exc:
        if templates is None:
            raise  # the package's own templates: a bug, not a user error
        first = str(exc).splitlines()[0] if str(exc) else ""
        if isinstance(exc, jinja2.exceptions.SecurityError):
            what = f"{first} (refused by the template sandbox)"
        elif isinstance(exc, jinja2.TemplateError):
            what = first or type(exc).__name__
        else:  # a filter or function given a value it does not take
            what = f"{type(exc).__name__}: {first}"
        raise SecuritizeError(
            f"--templates {templates}: {_template_place(exc, templates)}: {what}"
        ) from None


def memo_html(run: Any, *, language: str = "en", templates: Path | None = None) -> str:
    """The sealed memo of ``run``: rendered from the package templates (or ``templates``, a
    folder the user named), with its verification block."""
    check_templates(templates)
    before = None if templates is None else template_hashes(templates)
    html = render_memo(run.results, templates, language)
    document = verification_document(run, language, templates)
    recorded = document["manifest"]["templates"]
    if recorded is not None and recorded["files"] != before:
        raise SecuritizeError(
            f"--templates {templates}: changed while the memo was being rendered; run again"
        )
    return seal(html, document)


def check_templates(templates: Path | None) -> None:
    """A template folder the user named must exist (else the package's would be used silently)."""
    if templates is not None and not templates.is_dir():
        raise SecuritizeError(f"--templates {templates}: not a folder")


def unseal(html: str, source: str) -> tuple[dict[str, Any], str, str]:
    """The verification document of a memo and the HTML before and after its block; a
    ``MemoError`` naming ``source`` when there is no single, well-formed block."""
    blocks = BLOCK.findall(html)
    if len(blocks) != 1:
        found = "no" if not blocks else f"{len(blocks)}"
        raise MemoError(f"{source}: not a securitize memo ({found} verification block(s) found)")
    before, _, rest = html.partition(OPEN)
    after = rest.partition(CLOSE)[2]
    try:
        document = json.loads(blocks[0])
    except json.JSONDecodeError as exc:
        raise MemoError(f"{source}: verification block is not valid JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise MemoError(f"{source}: verification block: 'format' must be {FORMAT!r}")
    if document.get("version") != VERSION:
        raise MemoError(
            f"{source}: verification block: version {document.get('version')!r} "
            f"is not one this securitize reads ({VERSION})"
        )
    for key in ("manifest", "results", "digest"):
        if key not in document:
            raise MemoError(f"{source}: verification block: field {key!r} is missing")
    return document, before, after


def digest_matches(document: dict[str, Any], before: str, after: str) -> bool:
    """Whether the memo is as rendered: its text and block hash to the digest it carries."""
    return _digest(before, document, after) == document["digest"]


def restore(entry: dict[str, Any], folder: Path, source: str) -> Path:
    """Write an embedded input file into ``folder`` (or find it at its recorded path when it was
    too large to embed), checking its hash; return where it is."""
    name = Path(entry.get("reference") or entry.get("name") or "input").name
    if entry.get("content") is not None:
        try:
            raw = gzip.decompress(base64.b64decode(entry["content"], validate=True))
        except (ValueError, OSError, EOFError) as exc:
            raise MemoError(f"{source}: embedded {name}: cannot be decoded ({exc})") from None
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / name
        target.write_bytes(raw)
    else:
        target = Path(entry["path"])
        if not target.is_file():
            raise MemoError(
                f"{source}: {entry['path']}: not embedded in the memo ({entry.get('size')} bytes) "
                "and not found; run verify from the folder the memo was rendered in"
            )
        raw = target.read_bytes()
    if hashlib.sha256(raw).hexdigest() != entry["sha256"]:
        raise MemoError(
            f"{source}: {name}: SHA-256 {hashlib.sha256(raw).hexdigest()} differs from the "
            f"memo's manifest ({entry['sha256']})"
        )
    return target
