"""Dates, times and money as people read them, in the business's time zone, locale and currency.

The one place that formats and translates: Babel does the work in the locale Flask-Babel chose, so
names of days and months, digit grouping and currency symbols follow the locale. Templates use these
as filters; Python code (emails, messages) calls the same functions, and translates with this module's
gettext. Machine values (ISO dates in URLs) are not formatted here.

Flask-Babel's own functions look the locale, the time zone and the catalogue up again on every call,
which cost more than half of a calendar's rendering (hundreds of words and times per page); here they
are looked up once per request and Babel is called directly.
"""
from __future__ import annotations

import functools

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import flask_babel
from babel import Locale, dates, numbers
from flask import Flask, current_app
from flask.globals import _cv_app
from flask_babel.speaklater import LazyString

# Babel patterns (CLDR) for the ways Pawtal shows a date.
DATE_PATTERNS = {
    "date": "d MMM y",  # 25 Nov 2026
    "day": "EEE d MMM y",  # Wed 25 Nov 2026
    "day_short": "EEE d MMM",  # Wed 25 Nov
    "day_month": "d MMM",  # 25 Nov
    "full_day": "EEEE d MMMM y",  # Wednesday 25 November 2026
    "month_year": "MMMM y",  # November 2026
    "month_abbr": "MMM",  # Nov
    "month": "MMMM",  # November
    "short_month_year": "MMM y",  # Nov 2026
    "weekday": "EEEE",  # Wednesday
    "weekday_abbr": "EEE",  # Wed
}


def _once(key: str, make):
    """`make()` once per request (per app context), kept on g as Flask-Babel keeps its own state.

    Read through the app context's ContextVar (what `flask.g` itself reads) rather than the `g` proxy: a page of
    calendars calls this for every word and time, and the proxy's lookups were most of a call's cost."""
    context = _cv_app.get(None)
    if context is None:
        return make()
    found = context.g.__dict__.get(key)
    if found is None:
        found = make()
        setattr(context.g, key, found)
    return found


once_per_request = _once


def locale() -> Locale:
    """The locale Flask-Babel chose for this request."""
    return _once("_pawtal_locale", flask_babel.get_locale)


def translations():
    """The catalogue for this request's locale."""
    return _once("_pawtal_translations", flask_babel.get_translations)


def gettext(string: str, **variables) -> str:
    """The translation of `string`, with %(name)s variables filled in (as Flask-Babel's gettext)."""
    text = translations().ugettext(string)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, **variables) -> str:
    """The singular or plural translation for `num`, which fills %(num)d (as Flask-Babel's ngettext)."""
    variables.setdefault("num", num)
    return translations().ungettext(singular, plural, num) % variables


def lazy_gettext(string: str, **variables) -> LazyString:
    """gettext when the text is shown, for labels defined at import time (form fields, choices)."""
    return LazyString(gettext, string, **variables)


def lazy_ngettext(singular: str, plural: str, num: int, **variables) -> LazyString:
    return LazyString(ngettext, singular, plural, num, **variables)


def local_zone() -> ZoneInfo:
    """The business's time zone."""
    return ZoneInfo(current_app.config["BUSINESS_TIMEZONE"])


def business_today() -> date:
    """Today's date where the business is."""
    return datetime.now(local_zone()).date()


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value  # SQLite hands back naive UTC


def money(cents: int | None) -> str:
    """Cents in the business's currency: $1,234.50."""
    if cents is None:
        return ""
    return _money(cents, current_app.config["BUSINESS_CURRENCY"], locale())


@functools.lru_cache(maxsize=8192)
def _money(cents: int, currency: str, where: Locale) -> str:
    """Babel parses the locale's pattern on every call; a report of thousands of amounts repeats few of them."""
    return numbers.format_currency(Decimal(cents) / 100, currency, locale=where)


def local_datetime(value: datetime | None) -> str:
    """A moment in the business's time zone: 25 Nov 2026, 4:02 PM."""
    if value is None:
        return ""
    pattern = "d MMM y, h:mm a" if _twelve_hour() else "d MMM y, HH:mm"
    return dates.format_datetime(_aware(value), pattern, tzinfo=local_zone(), locale=locale())


def time_of_day(value: datetime | None) -> str:
    """A moment's time in the business's time zone: 9:05 AM (09:05 on a 24-hour clock)."""
    if value is None:
        return ""
    return clock(_aware(value).astimezone(local_zone()))


def duration(value: timedelta | None) -> str:
    """A length of time in whole minutes: "42 min", "1 h 5 min"."""
    if value is None:
        return ""
    minutes = max(0, int(value.total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    if hours:
        return gettext("%(hours)d h %(minutes)d min", hours=hours, minutes=minutes) if minutes \
            else gettext("%(hours)d h", hours=hours)
    return gettext("%(minutes)d min", minutes=minutes)


def formatted(value: date | datetime | None, style: str = "date") -> str:
    """A date (a moment: its local date) in one of DATE_PATTERNS."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = _aware(value).astimezone(local_zone()).date()
    done = _once("_pawtal_dates", dict)  # a calendar shows each day many times
    key = (value, style)
    if key not in done:
        done[key] = dates.format_date(value, DATE_PATTERNS[style], locale=locale())
    return done[key]


def _twelve_hour() -> bool:
    """Whether the locale tells the time on a 12-hour clock (en_US: 2:30 PM; fr_FR: 14:30)."""
    return "a" in locale().time_formats["short"].pattern


def clock(moment: datetime | time) -> str:
    """A time of day as people say it (already local): 8 AM, 2:30 PM; 08:00, 14:30 on a 24-hour clock."""
    at = moment.time() if isinstance(moment, datetime) else moment
    done = _once("_pawtal_times", dict)  # visits start and end at a few times of day
    if at not in done:
        pattern = ("h:mm a" if at.minute else "h a") if _twelve_hour() else "HH:mm"
        done[at] = dates.format_time(at, pattern, locale=locale())
    return done[at]


def month_param(value: date) -> str:
    """The month of a date as a URL takes it: 2026-11."""
    return value.isoformat()[:7]


def tel(number: str | None) -> str:
    """A phone number for a tel: link: digits and a leading +, no spaces or brackets."""
    text = (number or "").strip()
    return ("+" if text.startswith("+") else "") + "".join(ch for ch in text if ch.isdigit())


def init_app(app: Flask) -> None:
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
        newstyle=True,
    )
    app.add_template_filter(money)
    app.add_template_filter(local_datetime, "datetime")
    app.add_template_filter(month_param)
    app.add_template_filter(tel)
    app.add_template_filter(clock)
    app.jinja_env.globals["business_today"] = business_today
    app.add_template_filter(time_of_day)
    app.add_template_filter(duration)
    for style in DATE_PATTERNS:
        app.add_template_filter(lambda value, style=style: formatted(value, style), style)
