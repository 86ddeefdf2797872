"""Drive headless Chromium through chromedriver (WebDriver over loopback)
to click an action form of the sitq dashboard, as an operator would.

    dashboard_webdriver.py DRIVER_URL PAGE_URL ACTION TOKEN EXPECTED OUT_PNG

Opens PAGE_URL, types TOKEN into the ACTION form's token field, clicks its
button, waits (30 s at most) until the page the redirect leads to shows the
task status EXPECTED (the element with id "status"), saves a screenshot to
OUT_PNG and prints the status. Exits 1 when the status was not reached. Chromium resolves no
host name but 127.0.0.1 and uses no proxy, so it talks to nothing else.
"""
import base64
import json
import sys
import time
import urllib.request

driver, page, action, token, expected, out_png = sys.argv[1:7]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-extensions", "--disable-default-apps",
        "--no-proxy-server", "--window-size=1200,900",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]


def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(driver + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)["value"]


def find(sid, css):
    el = call("POST", "/session/%s/element" % sid, {"using": "css selector", "value": css})
    return next(iter(el.values()))


caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
    "binary": "/usr/bin/chromium", "args": ARGS}}}}
sid = call("POST", "/session", caps)["sessionId"]
try:
    call("POST", "/session/%s/url" % sid, {"url": page})
    form = 'form[action="/actions/%s"] ' % action
    field = find(sid, form + 'input[name="token"]')
    call("POST", "/session/%s/element/%s/value" % (sid, field), {"text": token})
    call("POST", "/session/%s/element/%s/click" % (sid, find(sid, form + "button")), {})
    deadline = time.monotonic() + 30
    status = None
    while status != expected and time.monotonic() < deadline:
        time.sleep(0.1)
        try:
            el = find(sid, "#status")
            status = call("GET", "/session/%s/element/%s/text" % (sid, el))
        except OSError:  # the page is loading: no element yet
            status = None
    png = call("GET", "/session/%s/screenshot" % sid)
    with open(out_png, "wb") as f:
        f.write(base64.b64decode(png))
    print(status)
    if status != expected:
        sys.exit("the page shows status %r, not %r" % (status, expected))
finally:
    call("DELETE", "/session/%s" % sid)
