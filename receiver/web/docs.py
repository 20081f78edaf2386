"""``/openapi.json`` and ``/docs``: the API contract, as data and as a page to read.

The page is rendered on the server from the same document, as one self-contained HTML
file (inline CSS, no scripts, nothing fetched from elsewhere), so it works offline.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from receiver.web.openapi import openapi_document
from receiver.web.operations import JSON, Reply, operation, string
from receiver.web.responses import JSONResponse


def document(request: Request) -> JSON:
    """The app's OpenAPI document, built once per app from its routes."""
    state = request.app.state
    built: JSON | None = getattr(state, "openapi_document", None)
    if built is None:
        built = openapi_document(request.app.routes)
        state.openapi_document = built
    return built


@operation(
    "getOpenApi",
    "This OpenAPI document",
    tag="meta",
    access="public",
    replies={200: Reply("The OpenAPI 3.1 document.", {"type": "object"})},
)
async def get_openapi(request: Request) -> Response:
    """``GET /openapi.json``: the OpenAPI 3.1 document of every endpoint."""
    return JSONResponse(document(request))


@operation(
    "getDocs",
    "The API documentation as a web page",
    tag="meta",
    access="public",
    replies={200: Reply("A self-contained HTML page.", string(), media_type="text/html")},
)
async def get_docs(request: Request) -> Response:
    """``GET /docs``: the OpenAPI document as one self-contained HTML page."""
    return HTMLResponse(render(document(request)))


_METHODS = ("get", "post", "put", "patch", "delete")
_REF = re.compile(r"&quot;#/components/schemas/([A-Za-z0-9_]+)&quot;")

_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d2327;background:#fafafa}
main{max-width:60rem;margin:0 auto;padding:1rem 1.5rem 4rem}
nav{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.5rem 1rem}
nav ul{margin:.2rem 0;padding-left:1.2rem}
h2{margin-top:2.5rem;border-bottom:2px solid #ddd}
section.op{background:#fff;border:1px solid #ddd;border-radius:6px;margin:1rem 0;
padding:0 1rem 1rem}
.method{display:inline-block;min-width:4rem;text-align:center;border-radius:4px;color:#fff;
font-weight:600;padding:0 .4rem;margin-right:.5rem;text-transform:uppercase}
.get{background:#2271b1}.post{background:#008a20}.delete{background:#b32d2e}
.put,.patch{background:#996800}
code,pre{font:13px/1.4 ui-monospace,monospace}
pre{background:#f3f4f5;border-radius:4px;padding:.6rem;overflow-x:auto}
table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #eee;padding:.25rem .5rem;text-align:left;vertical-align:top}
.status{font-weight:600}
"""


def render(spec: JSON) -> str:
    """The whole document as HTML."""
    info = spec["info"]
    tags = [tag["name"] for tag in spec.get("tags", [])]
    by_tag: dict[str, list[tuple[str, str, JSON]]] = {name: [] for name in tags}
    for path, item in spec["paths"].items():
        for method in _METHODS:
            if method in item:
                op = item[method]
                by_tag.setdefault((op.get("tags") or ["other"])[0], []).append((method, path, op))
    descriptions = {tag["name"]: tag.get("description", "") for tag in spec.get("tags", [])}
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>{_e(info['title'])} API</title><style>{_STYLE}</style></head><body><main>",
        f"<h1>{_e(info['title'])} API <small>{_e(info['version'])}</small></h1>",
        _text(info.get("description", "")),
        "<p>Machine-readable: <a href=/openapi.json><code>/openapi.json</code></a> "
        f"(OpenAPI {_e(spec['openapi'])}).</p>",
        "<nav><strong>Endpoints</strong><ul>",
    ]
    for operations in by_tag.values():
        for method, path, op in operations:
            parts.append(
                f"<li><a href=#{_e(op['operationId'])}><span class='method {method}'>{method}"
                f"</span><code>{_e(path)}</code></a> {_e(op.get('summary', ''))}</li>"
            )
    parts.append("<li><a href=#schemas>Schemas</a></li></ul></nav>")
    for tag, operations in by_tag.items():
        if not operations:
            continue
        parts.append(f"<h2>{_e(tag)}</h2>{_text(descriptions.get(tag, ''))}")
        parts.extend(_operation(method, path, op) for method, path, op in operations)
    parts.append("<h2 id=schemas>Schemas</h2>")
    for name, schema in spec.get("components", {}).get("schemas", {}).items():
        parts.append(f"<h3 id='schema-{_e(name)}'>{_e(name)}</h3>{_schema(schema)}")
    schemes = spec.get("components", {}).get("securitySchemes", {})
    if schemes:
        parts.append("<h2 id=security>Authentication</h2><table>")
        parts.extend(
            f"<tr><th id='security-{_e(name)}'><code>{_e(name)}</code></th>"
            f"<td>{_text(scheme.get('description', ''))}</td></tr>"
            for name, scheme in schemes.items()
        )
        parts.append("</table>")
    parts.append("</main></body></html>")
    return "".join(parts)


def _operation(method: str, path: str, op: JSON) -> str:
    parts = [
        f"<section class=op id='{_e(op['operationId'])}'>",
        f"<h3><span class='method {method}'>{method}</span><code>{_e(path)}</code></h3>",
        f"<p><strong>{_e(op.get('summary', ''))}</strong></p>",
        _text(op.get("description", "")),
    ]
    security = op.get("security") or []
    if security:
        options = [
            " + ".join(f"<a href='#security-{_e(n)}'><code>{_e(n)}</code></a>" for n in option)
            for option in security
        ]
        parts.append(f"<p>Authentication: {' or '.join(options)}</p>")
    if op.get("parameters"):
        parts.append("<h4>Parameters</h4><table><tr><th>Name</th><th>In</th><th>Schema</th>")
        parts.append("<th>Description</th></tr>")
        for param in op["parameters"]:
            required = " (required)" if param.get("required") else ""
            parts.append(
                f"<tr><td><code>{_e(param['name'])}</code>{required}</td>"
                f"<td>{_e(param['in'])}</td><td><code>{_e(_compact(param['schema']))}</code></td>"
                f"<td>{_text(param.get('description', ''))}</td></tr>"
            )
        parts.append("</table>")
    body = op.get("requestBody")
    if body:
        parts.append("<h4>Request body</h4>")
        parts.append(_text(body.get("description", "")))
        for media_type, content in body["content"].items():
            parts.append(f"<p><code>{_e(media_type)}</code></p>{_schema(content['schema'])}")
    parts.append("<h4>Responses</h4><table>")
    for status, response in op["responses"].items():
        cell = [_text(response.get("description", ""))]
        for name, header in response.get("headers", {}).items():
            cell.append(f"<p>Header <code>{_e(name)}</code>:</p>{_text(header['description'])}")
        for media_type, content in response.get("content", {}).items():
            cell.append(f"<p><code>{_e(media_type)}</code></p>{_schema(content['schema'])}")
        parts.append(f"<tr><td class=status>{_e(status)}</td><td>{''.join(cell)}</td></tr>")
    parts.append("</table></section>")
    return "".join(parts)


def _schema(schema: Any) -> str:
    text = html.escape(json.dumps(schema, indent=2, ensure_ascii=False))
    return "<pre>" + _REF.sub(r"<a href='#schema-\1'>\1</a>", text) + "</pre>"


def _compact(schema: Any) -> str:
    return json.dumps(schema, ensure_ascii=False, separators=(", ", ": "))


def _text(text: str) -> str:
    """Plain text with `code` spans and paragraphs, escaped."""
    if not text:
        return ""
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    rendered = []
    for paragraph in paragraphs:
        escaped = _e(" ".join(paragraph.split()))
        rendered.append("<p>" + re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped) + "</p>")
    return "".join(rendered)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)
