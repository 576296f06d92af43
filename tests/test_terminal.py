"""What the command prints cannot act on the terminal, and it starts up inside its own error
handling."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from pathlib import Path

from securitize.cli import main
from securitize.terminal import PrintableStream, printable


def test_control_and_bidi_characters_are_shown_as_escapes() -> None:
    text = "deal\x1b[2J\r\u202eevil\x07\tok\n"
    assert printable(text) == "deal\\x1b[2J\\x0d\\u202eevil\\x07\tok\n"


def test_ordinary_chinese_text_is_unchanged() -> None:
    assert printable("温州科技 优先级资产支持证券 — 1.5%") == "温州科技 优先级资产支持证券 — 1.5%"


def test_a_wrapped_stream_escapes_what_is_written() -> None:
    target = io.StringIO()
    PrintableStream(target).write("a\x1b]0;title\x07b")
    assert target.getvalue() == "a\\x1b]0;title\\x07b"


def test_an_error_naming_a_hostile_file_name_is_escaped(tmp_path: Path, capsys) -> None:
    code = main(["run", str(tmp_path / "deal\x1b[2J.toml")])
    err = capsys.readouterr().err
    assert code == 2
    assert "\x1b" not in err and "deal\\x1b[2J.toml" in err


def test_standard_output_is_restored_after_a_command(write_scenario, capsys) -> None:
    before = sys.stdout
    main(["run", str(write_scenario('[deal]\nname = "x"\n'))])  # a bad scenario: fails fast
    assert sys.stdout is before


def test_the_command_module_loads_without_numpy_or_pandas() -> None:
    # An interrupt while numpy, scipy and pandas load would come before main() could catch it;
    # they load inside main() instead, where Ctrl-C is one line.
    probe = "import sys, securitize.cli; print(sorted({'numpy', 'pandas'} & set(sys.modules)))"
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert shown.stdout.strip() == "[]", shown.stderr


def test_a_local_cluster_of_no_workers_is_refused_at_once(tmp_path: Path, capsys) -> None:
    started = time.perf_counter()
    code = main(["run", "--scheduler", "local:0", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "--scheduler local:0" in err and "at least 1" in err
    assert not (tmp_path / "o").exists()
    assert time.perf_counter() - started < 5
