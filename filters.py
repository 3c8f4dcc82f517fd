"""Dates, times and money as people read them, in the business's time zone, locale and currency.

The one place that formats: Babel (through Flask-Babel) does the work, so names of days and months,
digit grouping and currency symbols follow the locale. Templates use these as filters; Python code
(emails, messages) calls the same functions. Machine values (ISO dates in URLs) are not formatted here.
"""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from flask_babel import format_currency, format_date, format_datetime, format_time

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
    return format_currency(Decimal(cents) / 100, current_app.config["BUSINESS_CURRENCY"])


def local_datetime(value: datetime | None) -> str:
    """A moment in the business's time zone: 25 Nov 2026, 4:02 PM."""
    if value is None:
        return ""
    return format_datetime(_aware(value), "d MMM y, h:mm a")  # Flask-Babel rebases to the business's zone


def formatted(value: date | datetime | None, style: str = "date") -> str:
    """A date (a moment: its local date) in one of DATE_PATTERNS."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = _aware(value).astimezone(local_zone()).date()
    return format_date(value, DATE_PATTERNS[style], rebase=False)


def clock(moment: datetime | time) -> str:
    """A time of day as people say it: 8 AM, 2:30 PM (already local)."""
    at = moment.time() if isinstance(moment, datetime) else moment
    return format_time(at, "h:mm a" if at.minute else "h a", rebase=False)


def month_param(value: date) -> str:
    """The month of a date as a URL takes it: 2026-11."""
    return value.isoformat()[:7]


def tel(number: str | None) -> str:
    """A phone number for a tel: link: digits and a leading +, no spaces or brackets."""
    text = (number or "").strip()
    return ("+" if text.startswith("+") else "") + "".join(ch for ch in text if ch.isdigit())


def init_app(app: Flask) -> None:
    app.add_template_filter(money)
    app.add_template_filter(local_datetime, "datetime")
    app.add_template_filter(month_param)
    app.add_template_filter(tel)
    app.add_template_filter(clock)
    for style in DATE_PATTERNS:
        app.add_template_filter(lambda value, style=style: formatted(value, style), style)

    @app.context_processor
    def business():
        return {
            "business": {
                "name": app.config["BUSINESS_NAME"],
                "email": app.config["BUSINESS_EMAIL"],
                "phone": app.config["BUSINESS_PHONE"],
            }
        }
