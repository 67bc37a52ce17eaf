"""The client scenarios' checks: `@check("name")` runs a function at once, prints `ok name` or
`FAILED name: error` and keeps going; `results` holds (name, error or None) for the summary."""

results = []


def check(name):
    def wrap(f):
        try:
            f()
            results.append((name, None))
            print(f"ok {name}", flush=True)
        except Exception as e:  # noqa: BLE001 - report every failure, keep going
            results.append((name, e))
            print(f"FAILED {name}: {e!r}", flush=True)
        return f

    return wrap
