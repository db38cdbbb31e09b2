"""HTML pages from the Jinja2 templates shipped in this package (`templates/`).

Every value a template shows is escaped (autoescaping is on for every template, and undefined
names fail instead of rendering empty), so a slug, a description or a query typed by anyone
reaches the page as text. The pages hold no script; their Content-Security-Policy allows only
their own inline style and their own images, so a page that somehow carried markup still could
not run or load anything.
"""

from typing import Any, Final

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

_ENVIRONMENT: Final = Environment(
    loader=PackageLoader("shortlink_redirector", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    # The templates are package data and never change while the process runs: no stat of the
    # file on every render (a third of a page's cost).
    auto_reload=False,
)
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS: Final = {
    "cache-control": "no-store",
    "x-robots-tag": "noindex",
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
}


def render(template: str, **context: Any) -> str:
    """The text of `template` (a file in `templates/`) with `context`, every value escaped."""
    return _ENVIRONMENT.get_template(template).render(**context)


def page(template: str, status: int, **context: Any) -> HTMLResponse:
    """An HTML answer from `template`; never cached, never indexed."""
    return HTMLResponse(render(template, **context), status_code=status, headers=PAGE_HEADERS)
