"""investigate_logs: a service's log lines from Loki in the window, grouped into templates.

Without ``query`` the service's stream selector is filtered to error lines (or to ``contains``
/ ``pattern`` when given). ``template`` (a mined template such as correlation reports) keeps
only the lines that template describes.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from correlation.logs.templates import group
from investigation.actions.base import (
    ActionContext,
    ActionResult,
    ParameterError,
    clean_common,
    clean_query,
    clip,
)

SOURCE_KIND = "loki"
KEYS = frozenset({"query", "contains", "pattern", "template", "limit"})
DEFAULT_LIMIT = 200
MAX_LIMIT = 1000
MAX_LINES_IN_FINDINGS = 20
MAX_TEMPLATES_IN_FINDINGS = 5
ERROR_PATTERN = "(?i)(error|exception|panic|fatal|critical|traceback|failed)"
# Drain's placeholders: <*> for what it learned varies, <NUM>, <IP>, ... for what was masked.
_PLACEHOLDER = re.compile(r"<\*>|<[A-Z]+>")


def clean(raw: Any) -> dict[str, Any]:
    params = clean_common(raw, allowed=KEYS)
    for key in ("query", "contains", "template"):
        if key in params:
            params[key] = clean_query(params[key], key)
    if "pattern" in params:
        params["pattern"] = clean_query(params["pattern"], "pattern")
        try:
            re.compile(params["pattern"])
        except re.error as exc:
            raise ParameterError("pattern", f"pattern is not a valid regular expression: {exc}.") from None
    if "query" in params and ({"contains", "pattern"} & set(params)):
        raise ParameterError("query", "Give a full LogQL query, or contains/pattern for the service's lines.")
    if "limit" in params:
        limit = params["limit"]
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise ParameterError("limit", f"limit is a whole number of lines from 1 to {MAX_LIMIT}.")
    return params


def log_query(context: ActionContext) -> str:
    params = context.parameters
    if params.get("query"):
        return str(params["query"])
    selector = context.require_service().log_selector()
    if params.get("contains"):
        return f"{selector} |= {_logql_string(params['contains'])}"
    if params.get("pattern"):
        return f"{selector} |~ {_logql_string(params['pattern'])}"
    return f"{selector} |~ {_logql_string(ERROR_PATTERN)}"


def template_regex(template: str) -> re.Pattern[str]:
    """A template's literal parts in order, anything between them, whitespace loosely."""
    parts = _PLACEHOLDER.split(template.strip())
    literal = [re.sub(r"(\\ )+", r"\\s+", re.escape(part)) for part in parts]
    return re.compile(".*?".join(literal))


def run(context: ActionContext) -> ActionResult:
    params = context.parameters
    query = log_query(context)
    limit = int(params.get("limit") or DEFAULT_LIMIT)
    lines = context.client().logs(query, context.window.start, context.window.end, limit=limit, direction="backward")
    read = len(lines)
    template = params.get("template")
    if template:
        matcher = template_regex(template)
        lines = [line for line in lines if matcher.search(line.line)]
    templates = group((line.line for line in lines), max_examples=2)
    data: dict[str, Any] = {
        "window": context.window.as_dict(),
        "source": context.source_name,
        "query": query,
        "lines_read": read,
        "lines_matched": len(lines),
        "truncated": read >= limit,
        "templates": [
            {"template": clip(t.template, 300), "count": t.count, "examples": [clip(e, 300) for e in t.examples]}
            for t in templates[:MAX_TEMPLATES_IN_FINDINGS]
        ],
        "lines": [
            {
                "at": datetime.fromtimestamp(line.timestamp, tz=UTC).isoformat(),
                "labels": {k: v for k, v in line.labels.items() if k in ("pod", "container", "level", "namespace")},
                "line": clip(line.line, 500),
            }
            for line in lines[:MAX_LINES_IN_FINDINGS]
        ],
    }
    if template:
        data["template"] = template
    subject = context.service.slug if context.service and not params.get("query") else "the query"
    if not lines:
        what = "lines of the template" if template else "log lines"
        return ActionResult(summary=f"No matching {what} for {subject} in the window.", data=data)
    newest = " (newest only: the limit was reached)" if data["truncated"] else ""
    top = templates[0]
    summary = (
        f"{len(lines)} matching log lines for {subject}{newest}; {len(templates)} template"
        f"{'s' if len(templates) != 1 else ''}, most frequent ×{top.count}: {clip(top.template, 120)}"
    )
    return ActionResult(summary=summary, data=data)


def _logql_string(text: str) -> str:
    # Backticks take the text raw (no escapes), which is what a regular expression wants.
    if "`" not in text:
        return f"`{text}`"
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
