"""The short terminal summary of a run (rendered from the results object, like the memo)."""

from __future__ import annotations

from securitize.results import Results
from securitize.rules import failed_lines
from securitize.stats import Estimate


def _pct(estimate: Estimate, digits: int = 3) -> str:
    return f"{100 * estimate.value:.{digits}f}% ± {100 * estimate.se:.{digits}f}"


def _cny(estimate: Estimate) -> str:
    return f"CNY {estimate.value / 1e6:,.2f}m ± {estimate.se / 1e6:,.2f}m"


def domestic_text(found: dict) -> str:
    """``AA+sf (cash flow AAAsf, large obligor AA+sf; not robust)``."""
    robust = "" if found["robust"] else "; not robust"
    cap = found.get("pool_enhancer_cap")
    capped = (
        f"; capped at {cap['rating']} by {', '.join(cap['enhancers'])}"
        if found.get("binding") == "pool_enhancer"
        else ""
    )
    return (
        f"{found['rating']} (cash flow {found['cash_flow_rating']}, large obligor "
        f"{found['large_obligor_rating']}{capped}{robust})"
    )


def format_summary(results: Results) -> str:
    """A dozen lines: pool loss, each tranche stand-alone and wrapped, each enhancer."""
    deal, sim, pool, clock = results.deal, results.simulation, results.pool, results.timings
    loss = results.pool_loss
    lines = [
        f"{deal['name']}: {pool['loans']} loans, CNY {pool['balance'] / 1e6:,.1f}m; "
        f"{sim['paths']:,} paths, seed {sim['seed']}; run {clock['run_seconds']:.1f} s "
        f"(simulation {clock['simulation_seconds']:.1f} s)",
        f"pool loss: mean {_pct(loss['expected_loss'])}, "
        f"95% {_pct(loss['quantile_0.95'], 2)}, 99% {_pct(loss['quantile_0.99'], 2)}, "
        f"99.9% {_pct(loss['quantile_0.999'], 2)}",
    ]
    for t in results.tranches:
        for view, metrics in (("stand-alone", t.standalone), ("wrapped", t.wrapped)):
            if view == "wrapped" and t.guaranteed_by is None:
                continue
            key = "standalone" if view == "stand-alone" else "wrapped"
            rating = results.ratings.get(t.name, {}).get(key, {}).get("text", "")
            if key == "standalone" and rating:
                rating = f"loss table {rating}"
            domestic = results.domestic_ratings.get("tranches", {}).get(t.name)
            if key == "standalone" and domestic is not None:
                rating += f"; domestic {domestic_text(domestic)}"
            lines.append(
                f"{t.name:>14} {view:<11} EL {_pct(metrics['expected_loss'], 4)}  "
                f"P(loss) {_pct(metrics['probability_of_loss'], 4)}  "
                f"WAL {metrics['wal_years'].value:.2f} y  {rating}".rstrip()
            )
    for e in results.enhancers:
        m = e.metrics
        lines.append(
            f"{e.name}: P(claim) {_pct(m['probability_of_claim'], 2)}, "
            f"E[claim] {_cny(m['expected_claim'])}, "
            f"99.9% claim {_cny(m['claim_quantile_0.999'])}, "
            f"break-even fee {m['break_even_net_fee_bp'].value:.1f} bp "
            f"(net fee {e.terms['net_fee_bp']:g} bp)"
        )
    lines.extend(f"warning: {w}" for w in sim.get("warnings", []))
    lines.extend(f"exchange rule failed: {m}" for m in failed_lines(results.exchange_rules))
    lines.append("(± one standard error)")
    return "\n".join(lines)
