"""Configuration read from the environment, with safe defaults for a single small server."""
import os

DEV_SECRET_KEY = "dev-only-not-secret"
MIN_SECRET_KEY_LENGTH = 32


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def from_environment(instance_path: str) -> dict:
    """Build the app's config mapping from environment variables."""
    base_url = os.environ.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    return {
        "PAWTAL_ENV": os.environ.get("PAWTAL_ENV", "development"),
        "SECRET_KEY": os.environ.get("SECRET_KEY", DEV_SECRET_KEY),
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL")
        or "sqlite:///" + os.path.join(instance_path, "pawtal.sqlite"),
        "BASE_URL": base_url,
        # First-run defaults of the business's details: once the owner saves them under Site options, the
        # stored values are used (services.settings.business()).
        "BUSINESS_NAME": os.environ.get("PAWTAL_BUSINESS_NAME", "Pawtal Pet Care"),
        "BUSINESS_EMAIL": os.environ.get("PAWTAL_BUSINESS_EMAIL", "hello@example.com"),
        "BUSINESS_PHONE": os.environ.get("PAWTAL_BUSINESS_PHONE", "(555) 010-0100"),
        "BUSINESS_TIMEZONE": os.environ.get("PAWTAL_TIMEZONE", "America/New_York"),
        "BUSINESS_CURRENCY": os.environ.get("PAWTAL_CURRENCY", "USD"),
        # Dates, times and money are written the way this locale writes them (Flask-Babel).
        "BABEL_DEFAULT_LOCALE": os.environ.get("PAWTAL_LOCALE", "en_US"),
        "UPLOAD_FOLDER": os.environ.get("PAWTAL_UPLOAD_FOLDER") or os.path.join(instance_path, "uploads"),
        "PHOTO_MAX_BYTES": int(os.environ.get("PAWTAL_PHOTO_MAX_BYTES", 5 * 1024 * 1024)),
        "PHOTO_MAX_PIXELS": int(os.environ.get("PAWTAL_PHOTO_MAX_PIXELS", 40_000_000)),
        # The business's logo (Site options), re-encoded as a PNG of at most 1000 pixels a side.
        "LOGO_MAX_BYTES": int(os.environ.get("PAWTAL_LOGO_MAX_BYTES", 2 * 1024 * 1024)),
        # Photos from a sitter's phone camera at a visit (re-encoded smaller; see services/reports.py).
        "VISIT_PHOTO_MAX_BYTES": int(os.environ.get("PAWTAL_VISIT_PHOTO_MAX_BYTES", 15 * 1024 * 1024)),
        "VISIT_PHOTOS_PER_VISIT": int(os.environ.get("PAWTAL_VISIT_PHOTOS_PER_VISIT", 12)),
        # A sitter may take back her check-in or check-out this many minutes after the tap.
        "CHECKIN_UNDO_MINUTES": int(os.environ.get("PAWTAL_CHECKIN_UNDO_MINUTES", 5)),
        # Map search for a client's address on the sitter's phone; {query} is the address.
        "MAP_SEARCH_URL": os.environ.get("PAWTAL_MAP_SEARCH_URL",
                                         "https://www.google.com/maps/search/?api=1&query={query}"),
        "DOCUMENT_MAX_BYTES": int(os.environ.get("PAWTAL_DOCUMENT_MAX_BYTES", 10 * 1024 * 1024)),
        "MAX_CONTENT_LENGTH": int(os.environ.get("PAWTAL_MAX_UPLOAD_BYTES", 20 * 1024 * 1024)),
        "MAIL_SERVER": os.environ.get("MAIL_SERVER", "127.0.0.1"),
        "MAIL_PORT": int(os.environ.get("MAIL_PORT", 25)),
        "MAIL_USE_TLS": _bool("MAIL_USE_TLS", False),
        "MAIL_USE_SSL": _bool("MAIL_USE_SSL", False),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME"),
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD"),
        "MAIL_DEFAULT_SENDER": os.environ.get("MAIL_DEFAULT_SENDER", "Pawtal <no-reply@localhost>"),
        "MAIL_SUPPRESS_SEND": _bool("MAIL_SUPPRESS_SEND", False),
        "STRIPE_SECRET_KEY": os.environ.get("STRIPE_SECRET_KEY", ""),
        "STRIPE_PUBLISHABLE_KEY": os.environ.get("STRIPE_PUBLISHABLE_KEY", ""),
        "STRIPE_WEBHOOK_SECRET": os.environ.get("STRIPE_WEBHOOK_SECRET", ""),
        "STRIPE_API_BASE": os.environ.get("STRIPE_API_BASE", ""),
        "STRIPE_JS_URL": os.environ.get("STRIPE_JS_URL", "https://js.stripe.com/v3/"),
        # memory:// counts per process: with several workers use Redis, e.g. redis://127.0.0.1:6379/0.
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        # How many proxies in front of Pawtal add X-Forwarded-* headers (0: none; trust nobody's headers).
        "PROXY_HOPS": int(os.environ.get("PAWTAL_PROXY_HOPS", 0)),
        "RATELIMIT_HEADERS_ENABLED": True,
        # Compress pages, fragments and static files (brotli or gzip); off when a proxy in front compresses.
        "COMPRESS_RESPONSES": _bool("PAWTAL_COMPRESS", True),
        # The app's log lines: "text" for people, "json" for a log collector (one object per line).
        "LOG_FORMAT": os.environ.get("PAWTAL_LOG_FORMAT", "text").strip().lower(),
        "STAFF_LOGIN_LIMIT": os.environ.get("PAWTAL_STAFF_LOGIN_LIMIT", "10 per minute"),
        "CLIENT_LOGIN_LIMIT": os.environ.get("PAWTAL_CLIENT_LOGIN_LIMIT", "10 per minute"),
        "PASSWORD_EMAIL_LIMIT": os.environ.get("PAWTAL_PASSWORD_EMAIL_LIMIT", "5 per 10 minutes"),
        "REGISTER_LIMIT": os.environ.get("PAWTAL_REGISTER_LIMIT", "10 per minute"),
        "INTAKE_LIMIT": os.environ.get("PAWTAL_INTAKE_LIMIT", "5 per 10 minutes"),
        # Newsletter: sign-ups per address, how long a confirmation link works, and how many newsletters the
        # outbox sends a minute (a campaign's messages are spread out at this rate).
        "NEWSLETTER_LIMIT": os.environ.get("PAWTAL_NEWSLETTER_LIMIT", "5 per 10 minutes"),
        "NEWSLETTER_CONFIRM_DAYS": int(os.environ.get("PAWTAL_NEWSLETTER_CONFIRM_DAYS", 7)),
        "NEWSLETTER_PER_MINUTE": int(os.environ.get("PAWTAL_NEWSLETTER_PER_MINUTE", 60)),
        "CONTACT_LIMIT": os.environ.get("PAWTAL_CONTACT_LIMIT", "5 per 10 minutes"),
        # Sites that may show /start in a frame (the business's own website), e.g. "https://www.example.com".
        "FRAME_ANCESTORS": os.environ.get("PAWTAL_FRAME_ANCESTORS", ""),
        # Wrong invitation codes from all addresses together: guessing from many addresses is slowed too.
        "REGISTER_CODE_LIMIT": os.environ.get("PAWTAL_REGISTER_CODE_LIMIT", "100 per hour"),
        "INVITATION_DAYS": int(os.environ.get("PAWTAL_INVITATION_DAYS", 14)),
        "PASSWORD_RESET_MINUTES": int(os.environ.get("PAWTAL_PASSWORD_RESET_MINUTES", 60)),
        "PASSWORD_SET_DAYS": int(os.environ.get("PAWTAL_PASSWORD_SET_DAYS", 7)),
        # Deliver queued email from a background thread of each app process (off in tests).
        "OUTBOX_WORKER": _bool("PAWTAL_OUTBOX_WORKER", True),
        "OUTBOX_POLL_SECONDS": float(os.environ.get("PAWTAL_OUTBOX_POLL_SECONDS", 30)),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": base_url.startswith("https://"),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": base_url.startswith("https://"),
        "SQLALCHEMY_ENGINE_OPTIONS": {},
        # PostgreSQL's planner cost of reading a page out of order, set on each connection; its default (4) is for
        # spinning disks. Pawtal's database fits in memory or on an SSD; empty keeps the server's own setting.
        "PG_RANDOM_PAGE_COST": os.environ.get("PAWTAL_PG_RANDOM_PAGE_COST", "1.1").strip(),
        # `flask db upgrade` copies a SQLite file aside before changing it (see migrations/env.py).
        "BACKUP_BEFORE_UPGRADE": _bool("PAWTAL_BACKUP_BEFORE_UPGRADE", True),
        "CLIENTS_PER_PAGE": 25,
    }
