"""The issuance memo (计划说明书-style disclosure): one self-contained HTML document per run, in
English or Chinese (``render_html(results, lang="zh")``).

Everything in the memo is rendered from a ``Results`` object, so the memo, ``results.json`` and the
terminal summary never disagree.
"""

from securitize.memo.render import render_html

__all__ = ["render_html"]
