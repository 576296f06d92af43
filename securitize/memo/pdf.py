"""The memo as PDF, printed from its HTML by WeasyPrint (the optional ``pdf`` extra).

WeasyPrint is imported only when a PDF is asked for: it needs the Pango system library, which
a machine with only Python and pip may lack. The memo embeds its charts as ``data:`` URIs, so
the fetcher refuses every other scheme: printing a memo never reads a file or the network.
"""

from __future__ import annotations

import logging
from typing import Any

from securitize.errors import SecuritizeError

INSTALL = "pip install 'securitize[pdf]'"
ALLOWED_SCHEMES = ("data",)


class PdfUnavailableError(SecuritizeError):
    """WeasyPrint, or the system libraries it loads, is not installed."""


def load_weasyprint() -> Any:
    """The ``weasyprint`` module, or a one-line error saying what to install."""
    try:
        import weasyprint
    except ImportError:
        raise PdfUnavailableError(f"--pdf: needs WeasyPrint ({INSTALL})") from None
    except OSError as exc:
        # WeasyPrint loads Pango with ctypes when imported; the error names the missing library.
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PdfUnavailableError(
            f"--pdf: WeasyPrint is installed but cannot load its system libraries ({first}); "
            "install Pango (Debian: apt-get install libpango-1.0-0 libpangoft2-1.0-0)"
        ) from None
    return weasyprint


def html_to_pdf(html: str) -> bytes:
    """Print a memo's HTML to PDF bytes (A4, the memo's print stylesheet)."""
    weasyprint = load_weasyprint()
    # CSS WeasyPrint does not support (screen-only rules) is reported at WARNING; not our user's
    # concern, and it would clutter the command's output.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    fetcher = weasyprint.URLFetcher(allowed_protocols=ALLOWED_SCHEMES)
    return weasyprint.HTML(string=html, url_fetcher=fetcher).write_pdf()
