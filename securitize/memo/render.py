"""Render a run's ``Results`` as the issuance memo: one self-contained HTML document.

The template only lays figures out; formatting lives in the filters registered here (``formats``)
and any figure not in ``Results`` comes from a pure function in ``derive``. Autoescaping is on
because enterprise names and notes come from a loan tape someone else wrote.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from securitize.memo import charts, derive, formats
from securitize.results import Results

TEMPLATES = Path(__file__).parent / "templates"


@cache
def environment(templates: Path | None = None) -> jinja2.Environment:
    """The memo's jinja2 environment: package templates (a file in ``templates``, a folder the
    user named explicitly, takes the place of the package's), autoescape, undefined names are
    errors."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES if templates is None else [templates, TEMPLATES]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        cny=formats.cny,
        pct=formats.pct,
        bp=formats.bp,
        estimate=formats.estimate,
        cell=formats.cell,
        label=formats.label,
    )
    env.tests["numeric_field"] = formats.is_numeric
    return env


def _charts(results: Results) -> dict[str, str]:
    figures = {
        "pool_loss": charts.pool_loss_chart(results.pool_loss, results.loss_distribution),
        "cash_flows": charts.cash_flow_chart(
            results.cash_flows,
            [t.name for t in results.tranches],
            list(results.deal["payment_months"]),
        ),
    }
    if not results.loss_tranches.empty:
        figures["loss_tranches"] = charts.loss_tranche_chart(
            results.loss_tranches, results.validation.get("loss_tranche_curves")
        )
    if "industry" in results.stratification:
        figures["industry"] = charts.stratification_chart(
            results.stratification["industry"], "industry"
        )
    return figures


def render_html(results: Results, *, templates: Path | None = None) -> str:
    """The memo for ``results`` as an HTML string (inline CSS, charts as data URIs)."""
    context: dict[str, Any] = {
        "results": results,
        "deal": results.deal,
        "manifest": results.manifest,
        "simulation": results.simulation,
        "assumptions": results.assumptions,
        "stratification": {
            key: table.to_dict(orient="records") for key, table in results.stratification.items()
        },
        "obligor_columns": list(results.largest_obligors.columns),
        "obligors": results.largest_obligors.to_dict(orient="records"),
        "charts": _charts(results),
        "subordination": derive.subordination(results),
        "schedule": derive.payment_schedule(results),
        "command": derive.reproduce_command(results),
        "model_description": derive.model_description(results),
        "sampling_description": derive.sampling_description(results),
        "loss_tranches": derive.loss_tranche_rows(results),
        "validation": results.validation,
        "stresses": derive.stress_rows(results),
        "coverage": derive.coverage_rows(results),
        "break_even": results.break_even,
    }
    return environment(templates).get_template("memo.html.j2").render(context)
