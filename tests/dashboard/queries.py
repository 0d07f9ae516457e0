#!/usr/bin/env python3
"""Every query of dashboards/mobasher.json against a real Prometheus (issue 14, point 4).

  queries.py lint DASHBOARD
      static rules: the datasource, job, instance, group and channel variables exist and are used;
      every panel and target uses the ${datasource} variable; every metric selector names job and
      instance, and the unit-level ones (mobasher_unit_*, mobasher_process_*, mobasher:unit_*) also
      group and channel; rates run over $__rate_interval (or a fixed 24h/1m window); every panel
      has a unit and a description; panel ids are unique.
  queries.py run DASHBOARD PROMETHEUS_URL VAR=VALUE...
      substitutes the variables (VAR=VALUE, regexes as Grafana sends them for "All" or one value),
      runs each panel target as Grafana would (a range query over the last minute at a 2 s step,
      or an instant query for `instant` targets) and each variable's label_values() through the
      series API. Every query must be accepted and return at least one series; every variable must
      return values. With group/channel set to one value, every returned series that carries the
      label must carry that value. Annotation queries must be accepted (they may be empty).
Exit status 0 when all hold; each failure is printed with the panel's title and the query.
"""
import json
import re
import sys
import time
import urllib.parse
import urllib.request

UNIT_LEVEL = re.compile(r"^(mobasher_unit_|mobasher_process_|mobasher:unit_)")
SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}")
RANGE = re.compile(r"\[([^\]]+)\]")
FIXED_WINDOWS = {"24h", "1m"}
VARIABLES = ("datasource", "job", "instance", "group", "channel")


def walk_panels(panels):
    for p in panels:
        yield p
        yield from walk_panels(p.get("panels", []))


def targets(dash):
    for p in walk_panels(dash.get("panels", [])):
        for t in p.get("targets", []):
            yield p, t


def lint(dash):
    errors = []
    names = [v.get("name") for v in dash.get("templating", {}).get("list", [])]
    for v in VARIABLES:
        if v not in names:
            errors.append(f"variable ${v} missing (have {names})")
    text = json.dumps(dash.get("panels", []))
    for v in VARIABLES:
        if f"${v}" not in text and f"${{{v}}}" not in text:
            errors.append(f"variable ${v} is used by no panel")
    ids = [p.get("id") for p in walk_panels(dash.get("panels", []))]
    if len(ids) != len(set(ids)):
        errors.append(f"panel ids are not unique: {sorted(ids)}")
    for p in walk_panels(dash.get("panels", [])):
        if p.get("type") == "row":
            continue
        title = p.get("title", "?")
        if p.get("datasource", {}).get("uid") != "${datasource}":
            errors.append(f"panel '{title}': datasource is not ${{datasource}}")
        if not p.get("fieldConfig", {}).get("defaults", {}).get("unit"):
            errors.append(f"panel '{title}': no unit")
        if not p.get("description"):
            errors.append(f"panel '{title}': no description")
        if not p.get("targets"):
            errors.append(f"panel '{title}': no query")
    for p, t in targets(dash):
        title, expr = p.get("title", "?"), t.get("expr", "")
        if t.get("datasource", {}).get("uid") != "${datasource}":
            errors.append(f"panel '{title}' {t.get('refId')}: datasource is not ${{datasource}}")
        selectors = SELECTOR.findall(expr)
        if not selectors:
            errors.append(f"panel '{title}': no label selector in {expr}")
        for metric, matchers in selectors:
            want = ["job", "instance"] + (["group", "channel"] if UNIT_LEVEL.match(metric) else [])
            for label in want:
                if f'{label}=~"${label}"' not in matchers:
                    errors.append(f"panel '{title}': {metric}{{{matchers}}} does not filter by ${label}")
        for window in RANGE.findall(expr):
            if window != "$__rate_interval" and window not in FIXED_WINDOWS:
                errors.append(f"panel '{title}': range [{window}] (use $__rate_interval)")
    return errors


def substitute(expr, values):
    expr = expr.replace("$__rate_interval", "10s").replace("$__interval", "2s").replace("$__range", "5m")
    for name, value in values.items():
        expr = expr.replace("${" + name + "}", value).replace("$" + name, value)
    return expr


def api(base, path, params):
    url = f"{base}{path}?{urllib.parse.urlencode(params, doseq=True)}"
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        return json.load(e)


def run(dash, base, values):
    errors, lines = [], []
    now = time.time()
    for p, t in targets(dash):
        title, expr = p.get("title", "?"), substitute(t["expr"], values)
        if t.get("instant"):
            r = api(base, "/api/v1/query", {"query": expr, "time": now})
        else:
            r = api(base, "/api/v1/query_range", {"query": expr, "start": now - 60, "end": now, "step": 2})
        if r.get("status") != "success":
            errors.append(f"panel '{title}' {t['refId']}: rejected: {r.get('error')}: {expr}")
            continue
        series = r["data"]["result"]
        lines.append(f"  {len(series):3d} series  {title} [{t['refId']}]  {expr}")
        if not series:
            errors.append(f"panel '{title}' {t['refId']}: no data: {expr}")
        for label in ("group", "channel"):
            want = values.get(label, ".*")
            if want == ".*":
                continue
            wrong = {s["metric"][label] for s in series if label in s["metric"] and s["metric"][label] != want}
            if wrong:
                errors.append(f"panel '{title}' {t['refId']}: {label}={want} selected, got {sorted(wrong)}")
    for a in dash.get("annotations", {}).get("list", []):
        target = a.get("target") or {}
        if "expr" not in target:
            continue
        expr = substitute(target["expr"], values)
        r = api(base, "/api/v1/query_range", {"query": expr, "start": now - 60, "end": now, "step": 2})
        if r.get("status") != "success":
            errors.append(f"annotation '{a.get('name')}': rejected: {r.get('error')}: {expr}")
        else:
            lines.append(f"  {len(r['data']['result']):3d} series  annotation {a.get('name')}  {expr}")
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        m = re.fullmatch(r"label_values\((.*),\s*([a-zA-Z_]+)\)", q.strip())
        if not m:
            errors.append(f"variable ${v['name']}: not label_values(SELECTOR, LABEL): {q}")
            continue
        selector = substitute(m.group(1), values)
        r = api(base, "/api/v1/series", {"match[]": selector, "start": now - 60, "end": now})
        got = sorted({s.get(m.group(2)) for s in r.get("data", []) if s.get(m.group(2))})
        lines.append(f"  variable ${v['name']}: {got}  ({selector})")
        if r.get("status") != "success" or not got:
            errors.append(f"variable ${v['name']}: no values from {selector}: {r.get('error', '')}")
    return errors, lines


def main(argv):
    if len(argv) >= 3 and argv[1] == "lint":
        dash = json.load(open(argv[2]))
        errors = lint(dash)
        n = sum(1 for _ in targets(dash))
        for e in errors:
            print(f"FAIL: {argv[2]}: {e}")
        if not errors:
            print(f"lint: {argv[2]}: {n} queries; variables, datasource, filters, units and windows ok")
        return 1 if errors else 0
    if len(argv) >= 4 and argv[1] == "run":
        dash = json.load(open(argv[2]))
        values = dict(a.split("=", 1) for a in argv[4:])
        errors, lines = run(dash, argv[3].rstrip("/"), values)
        print("\n".join(lines))
        for e in errors:
            print(f"FAIL: {e}")
        n = sum(1 for _ in targets(dash))
        if not errors:
            print(f"run: {n} panel queries accepted, each with data ({' '.join(argv[4:])})")
        return 1 if errors else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
