"""The dashboard: failed sends (filters, counts, the 30-day trend, the list with retry, CSV export)
and activity (received and sent per day and per application, median upload-to-delivery time, the
queue waiting now).

``GET /dashboard`` shows one of the two views (``?view=activity``), ``POST /dashboard/retry`` sends
the selected failures (or all matching the filters) again and wakes this process's worker,
``GET /dashboard/failures.csv`` streams the export. Charts are inline SVG drawn here: no script.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from admin.flash import flash
from admin.keys import ACTOR, HUB, TRANSLATOR
from admin.render import render, url
from hub.dashboards import (
    CSV_COLUMNS,
    Activity,
    CsvLabels,
    DayCount,
    FailureFilters,
    activity,
    failure_counts,
    failure_trend,
    failures,
    failures_csv,
    filter_choices,
    parse_failure_filters,
    retry_matching,
)
from hub.errors import InvalidInput, NotFound, PermissionDenied
from hub.history import MAX_RETRY, retry_deliveries
from hub.i18n import Translator
from hub.notices import CHOICES, failure_notices_of, set_failure_notices
from hub.settings import Settings

routes = web.RouteTableDef()

# The notices form's own message is about it: shown beside the form (the page opens at it).
NOTICES = "notices"
VIEWS = ("failures", "activity")
# Series colours of the activity chart (the panel's accent first), and the chart's geometry.
PALETTE = ("#1d4ed8", "#0f766e", "#b45309", "#7c3aed", "#be185d", "#475569")
CHART_W, CHART_H, CHART_PAD = 720, 160, 28


# --------------------------------------------------------------------------- page


@routes.get("/dashboard", name="dashboard")
async def dashboard(request: web.Request) -> web.Response:
    hub, actor = request.config_dict[HUB], request[ACTOR]
    t: Translator = request[TRANSLATOR]
    view = request.query.get("view", "failures")
    view = view if view in VIEWS else "failures"
    context: dict[str, Any] = {
        "view": view,
        "when": lambda at: _when(t, at),
        "reason_label": lambda reason: _reason(t, reason),
        "reason_fix": lambda reason: _fix(t, reason),
    }
    if view == "activity":
        figures = await activity(hub, actor)
        context |= {
            "activity": figures,
            "activity_chart": _activity_chart(t, figures),
            "median": _duration(t, figures.median_seconds),
        }
        return await render(request, "dashboard_activity.html", context)

    filter_error = ""
    try:
        filters = parse_failure_filters(request.query)
        after = request.query.get("after") or None
        page = await failures(hub, actor, filters, after=after)
    except (InvalidInput, NotFound) as error:
        filter_error = t(error.key, **error.params)
        filters, after = FailureFilters(), None
        page = await failures(hub, actor, filters)
    counts = await failure_counts(hub, actor, filters)
    trend = await failure_trend(hub, actor, filters=filters)
    choices = await filter_choices(hub, actor)
    base = _url(request, filters)
    context |= {
        "filters": filters,
        "filter_error": filter_error,
        "page": page,
        "counts": counts,
        "trend": _trend_chart(t, trend),
        "trend_total": sum(d.count for d in trend),
        "choices": choices,
        "next_url": _url(request, filters, after=page.next_after) if page.next_after else "",
        "first_url": base if after else "",
        "csv_url": url(request, "dashboard_csv", query=filters.query()),
        "filter_query": filters.query(),
        "can_retry": actor.is_staff and any(row.may_retry for row in page.items),
        "max_retry": MAX_RETRY,
        "reason_url": lambda reason: _url(request, _with(filters, reason=reason)),
        "application_url": lambda app_id: _url(request, _with(filters, application=app_id)),
        "notice_choices": CHOICES,
        "notice_choice": await failure_notices_of(hub, actor) if actor.is_staff else "",
        "notices_about": NOTICES,
        "digest_at": _digest_at(hub.settings),
    }
    return await render(request, "dashboard.html", context)


def _with(filters: FailureFilters, **changes: Any) -> FailureFilters:
    values = {
        "application": filters.application,
        "dossier": filters.dossier,
        "reason": filters.reason,
        "since": filters.since,
        "until": filters.until,
        **changes,
    }
    return FailureFilters(**values)


def _url(request: web.Request, filters: FailureFilters, **extra: str | None) -> str:
    values = {**filters.query(), **{k: v for k, v in extra.items() if v}}
    return url(request, "dashboard", query=values)


# --------------------------------------------------------------------------- retry


@routes.post("/dashboard/retry", name="dashboard_retry")
async def retry_failures(request: web.Request) -> web.Response:
    hub, actor = request.config_dict[HUB], request[ACTOR]
    form = await request.post()
    raw = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        filters = parse_failure_filters(raw)
    except InvalidInput:
        filters = FailureFilters()
    try:
        if form.get("scope") == "matching":
            result = await retry_matching(hub, actor, filters)
        else:
            ids = [
                int(v) for v in form.getall("delivery", []) if isinstance(v, str) and v.isdigit()
            ]
            if not ids:
                raise InvalidInput("nothing selected", key="dashboard.retry.none_selected")
            result = await retry_deliveries(hub, actor, ids)
    except (InvalidInput, PermissionDenied, NotFound) as error:
        await flash(request, "error", error.key, **error.params)
    else:
        await _retried(request, result.retried, result.remaining, result.refused)
    raise web.HTTPSeeOther(_url(request, filters))


async def _retried(request: web.Request, retried: int, remaining: int, refused: int) -> None:
    if not retried:
        await flash(request, "error", "dashboard.retry.nothing")
        return
    more: list[tuple[str, dict[str, Any]]] = []
    if remaining:
        more.append(("dashboard.retry.remaining", {"count": remaining, "max": retried}))
    if refused:
        more.append(("dashboard.retry.refused", {"count": refused}))
    await flash(request, "ok", "dashboard.retry.done", *more, count=retried)


# --------------------------------------------------------------------------- notices in Teams


@routes.post("/dashboard/notices", name="dashboard_notices")
async def save_notices(request: web.Request) -> web.Response:
    """The signed-in person's own choice: failed sends told at once, once a day, or never."""
    hub, actor = request.config_dict[HUB], request[ACTOR]
    form = await request.post()
    choice = form.get("failure_notices")
    try:
        saved = await set_failure_notices(hub, actor, choice if isinstance(choice, str) else "")
    except (InvalidInput, PermissionDenied) as error:
        await flash(request, "error", error.key, about=NOTICES, **error.params)
    else:
        key = f"dashboard.notices.saved.{saved}"
        await flash(request, "ok", key, about=NOTICES, **_digest_at(hub.settings))
    raise web.HTTPSeeOther(url(request, "dashboard", fragment=NOTICES))


def _digest_at(settings: Settings) -> dict[str, str]:
    return {"hour": f"{settings.notice_digest_hour:02d}:00", "zone": settings.notice_timezone}


# --------------------------------------------------------------------------- CSV


@routes.get("/dashboard/failures.csv", name="dashboard_csv")
async def export_csv(request: web.Request) -> web.StreamResponse:
    hub, actor = request.config_dict[HUB], request[ACTOR]
    t: Translator = request[TRANSLATOR]
    filters = parse_failure_filters(request.query)
    labels = CsvLabels(
        header=[t(f"dashboard.csv.{column}") for column in CSV_COLUMNS],
        reason=lambda reason: _reason(t, reason),
        when=lambda at: _when(t, at),
    )
    chunks = failures_csv(hub, actor, filters, labels)
    # The first chunk (the header) is read before answering, so an unknown dossier filter
    # still becomes an error page rather than a broken download.
    first = await anext(chunks)
    stamp = datetime.now().strftime("%Y%m%d-%H%M")
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="relais-failures-{stamp}.csv"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        }
    )
    await response.prepare(request)
    await response.write(first)
    async for chunk in chunks:
        await response.write(chunk)
    await response.write_eof()
    return response


# --------------------------------------------------------------------------- words


def _when(t: Translator, at: datetime | None) -> str:
    return "" if at is None else t.datetime(at)


def _reason(t: Translator, reason: str) -> str:
    key = f"dashboard.reason.{reason}"
    text = t(key)
    return reason if text == key else text


def _fix(t: Translator, reason: str) -> str:
    key = f"dashboard.fix.{reason}"
    text = t(key)
    return "" if text == key else text


def _duration(t: Translator, seconds: float | None) -> str:
    if seconds is None:
        return t("dashboard.activity.no_median")
    if seconds < 60:
        return t("dashboard.duration.seconds", n=max(0, round(seconds)))
    minutes = round(seconds / 60)
    if minutes < 60:
        return t("dashboard.duration.minutes", n=minutes)
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return t("dashboard.duration.hours", h=hours, m=f"{rest:02d}")
    return t("dashboard.duration.days", n=round(hours / 24))


# --------------------------------------------------------------------------- charts


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    colour: str
    title: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    ticks: list[tuple[float, str]]  # (x, label) under the axis
    grid: list[tuple[float, str]]  # (y, value) horizontal lines
    baseline: float
    line: str  # an SVG polyline's points ("" for none)
    dots: list[tuple[float, float, str]]  # (x, y, title) on the line
    legend: list[tuple[str, str]]  # (colour, label)


def _scale(top: int) -> int:
    """A round maximum for the axis: 1, 2, 5, 10, 20, 50…"""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if top <= step * factor:
                return step * factor
        step *= 10


def _frame(days: int) -> tuple[float, float, float]:
    plot_w = CHART_W - CHART_PAD * 2
    slot = plot_w / max(1, days)
    return plot_w, slot, CHART_H - CHART_PAD


def _axis(t: Translator, dates: list[Any], slot: float, top: int) -> tuple[list[Any], list[Any]]:
    fmt = "%d/%m" if t.lang == "fr" else "%m-%d"
    ticks = [
        (CHART_PAD + slot * i + slot / 2, d.strftime(fmt))
        for i, d in enumerate(dates)
        if i % 5 == (len(dates) - 1) % 5
    ]
    plot_h = CHART_H - CHART_PAD * 2
    # Grid lines only at whole numbers: a scale of 5 gets no line at 2.5.
    shares = (0.5, 1.0) if top % 2 == 0 else (1.0,)
    grid = [(CHART_H - CHART_PAD - plot_h * f, str(top * f).removesuffix(".0")) for f in shares]
    return ticks, grid


def _trend_chart(t: Translator, trend: list[DayCount]) -> Chart:
    _, slot, baseline = _frame(len(trend))
    top = _scale(max([d.count for d in trend] + [1]))
    plot_h = CHART_H - CHART_PAD * 2
    bars = []
    for i, d in enumerate(trend):
        h = plot_h * d.count / top
        bars.append(
            Bar(
                x=round(CHART_PAD + slot * i + slot * 0.15, 1),
                y=round(baseline - h, 1),
                w=round(slot * 0.7, 1),
                h=round(h, 1),
                colour="#b42318",
                title=t("dashboard.chart.day_failures", day=_day(t, d.day), n=d.count),
            )
        )
    ticks, grid = _axis(t, [d.day for d in trend], slot, top)
    return Chart(CHART_W, CHART_H, bars, ticks, grid, baseline, "", [], [])


def _day(t: Translator, day: Any) -> str:
    return t.date(day)


def _activity_chart(t: Translator, figures: Activity) -> Chart:
    days = figures.days
    _, slot, baseline = _frame(len(days))
    top = _scale(max([max(d.sent, d.received) for d in days] + [1]))
    plot_h = CHART_H - CHART_PAD * 2
    colours = {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(figures.applications)}
    bars: list[Bar] = []
    points: list[str] = []
    dots: list[tuple[float, float, str]] = []
    for i, d in enumerate(days):
        x = CHART_PAD + slot * i + slot * 0.15
        y = baseline
        for label in figures.applications:
            n = d.by_application.get(label, 0)
            if not n:
                continue
            h = plot_h * n / top
            y -= h
            bars.append(
                Bar(
                    round(x, 1),
                    round(y, 1),
                    round(slot * 0.7, 1),
                    round(h, 1),
                    colours[label],
                    t("dashboard.chart.day_sent", day=_day(t, d.day), n=n, application=label),
                )
            )
        cx = round(CHART_PAD + slot * i + slot / 2, 1)
        cy = round(baseline - plot_h * d.received / top, 1)
        points.append(f"{cx},{cy}")
        dots.append((cx, cy, t("dashboard.chart.day_received", day=_day(t, d.day), n=d.received)))
    ticks, grid = _axis(t, [d.day for d in days], slot, top)
    legend = [(colours[label], label) for label in figures.applications]
    return Chart(CHART_W, CHART_H, bars, ticks, grid, baseline, " ".join(points), dots, legend)


def setup(app: web.Application) -> None:
    """Register this area's routes (named after the navigation item for its main page)."""
    app.router.add_routes(routes)
