"""Jinja filters and globals: money and dates in the business's currency and time zone."""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

from flask import Flask, current_app

CURRENCY_SYMBOLS = {"USD": "$", "CAD": "$", "AUD": "$", "NZD": "$", "EUR": "€", "GBP": "£"}


def money(cents: int | None) -> str:
    """Format cents in the business's currency: $1,234.50."""
    if cents is None:
        return ""
    code = current_app.config["BUSINESS_CURRENCY"]
    symbol = CURRENCY_SYMBOLS.get(code)
    sign = "-" if cents < 0 else ""
    amount = f"{abs(cents) / 100:,.2f}"
    return f"{sign}{symbol}{amount}" if symbol else f"{sign}{amount} {code}"


def local_datetime(value: datetime | None, fmt: str = "%-d %b %Y, %-I:%M %p") -> str:
    if value is None:
        return ""
    if value.tzinfo is None:  # SQLite hands back naive UTC
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(ZoneInfo(current_app.config["BUSINESS_TIMEZONE"])).strftime(fmt)


def local_date(value: date | datetime | None, fmt: str = "%-d %b %Y") -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return local_datetime(value, fmt)
    return value.strftime(fmt)


def local_zone() -> ZoneInfo:
    """The business's time zone."""
    return ZoneInfo(current_app.config["BUSINESS_TIMEZONE"])


def clock(moment: datetime | time) -> str:
    """ "8 AM", "2:30 PM": a time of day as people say it."""
    return moment.strftime("%-I:%M %p") if moment.minute else moment.strftime("%-I %p")


def business_today() -> date:
    """Today's date where the business is."""
    return datetime.now(ZoneInfo(current_app.config["BUSINESS_TIMEZONE"])).date()


def init_app(app: Flask) -> None:
    app.add_template_filter(money)
    app.add_template_filter(local_datetime, "datetime")
    app.add_template_filter(local_date, "date")

    @app.context_processor
    def business():
        return {
            "business": {
                "name": app.config["BUSINESS_NAME"],
                "email": app.config["BUSINESS_EMAIL"],
                "phone": app.config["BUSINESS_PHONE"],
            }
        }
