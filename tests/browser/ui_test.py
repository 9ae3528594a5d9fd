"""BitAgent's web UI in a real browser (Debian's Chromium, driven by Playwright).

Run by crates/web/tests/browser.rs against a test server whose store holds torrents with
hostile names (markup, quotes, `]]>`, U+202E). It checks what only a browser can:

- the flow: search, open a detail page, log in, delete a torrent, see it gone;
- no hostile name ever runs or injects anything on any page: no dialog opens, no <img>,
  <script>, foreign <svg> or <details ontoggle> appears, no element carries an `on...`
  attribute, no Content-Security-Policy violation is reported, and each name's text
  content is exactly the stored name;
- the CSP header is sent;
- search and detail work with JavaScript disabled;
- at a 390x844 phone viewport no page is wider than the screen.

Usage: ui_test.py URL API_KEY CORPUS_JSON  (CORPUS_JSON: [{"hash": ..., "name": ...}])
Environment: BITAGENT_CHROMIUM (default /usr/bin/chromium); BITAGENT_SCREENSHOTS=DIR also
saves a full-page PNG of each page (desktop and phone) there, for review.
Exits 0 when every check passes, 1 with the failures listed otherwise. Every wait has a
timeout, and an alarm bounds the whole run.
"""

import json
import os
import re
import signal
import sys
import urllib.parse

TOTAL_SECONDS = 240
STEP_TIMEOUT_MS = 15_000
LAUNCH_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
HOSTILE_CHARS = set('<>"\'&\u202e')


def on_alarm(_signum, _frame):
    print(f"FAIL: the browser test took longer than {TOTAL_SECONDS} s", flush=True)
    os._exit(2)


signal.signal(signal.SIGALRM, on_alarm)
signal.alarm(TOTAL_SECONDS)

from playwright.sync_api import sync_playwright  # noqa: E402  (after the alarm is armed)

base, key, corpus_path = sys.argv[1], sys.argv[2], sys.argv[3]
with open(corpus_path, encoding="utf-8") as f:
    corpus = json.load(f)
names = {t["hash"]: t["name"] for t in corpus}
hostile = [t for t in corpus if HOSTILE_CHARS & set(t["name"])]
chromium = os.environ.get("BITAGENT_CHROMIUM", "/usr/bin/chromium")
shots = os.environ.get("BITAGENT_SCREENSHOTS")

failures = []
dialogs = []
csp_reports = []


def log(msg):
    print(msg, flush=True)


def check(ok, what):
    if ok:
        log(f"ok   {what}")
    else:
        log(f"FAIL {what}")
        failures.append(what)


def q(s):
    return urllib.parse.quote(s, safe="")


def watch(page):
    """Records every dialog (and dismisses it) and every CSP violation the page reports."""
    page.set_default_timeout(STEP_TIMEOUT_MS)
    page.set_default_navigation_timeout(STEP_TIMEOUT_MS)

    def on_dialog(d):
        dialogs.append(f"{d.type}: {d.message} on {page.url}")
        d.dismiss()

    def on_console(m):
        if "Content Security Policy" in m.text or "Refused to" in m.text:
            csp_reports.append(f"{page.url}: {m.text}")

    page.on("dialog", on_dialog)
    page.on("console", on_console)
    return page


# Runs in the page: what an injection would leave behind.
INSPECT = """() => {
  const handlers = [];
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) {
      if (a.name.toLowerCase().startsWith('on')) handlers.push(el.tagName + ' ' + a.name);
    }
  }
  return {
    img: document.querySelectorAll('img').length,
    script: document.querySelectorAll('script').length,
    iframe: document.querySelectorAll('iframe, object, embed').length,
    foreign_svg: [...document.querySelectorAll('svg')].filter(s => !s.classList.contains('chart')).length,
    details_ontoggle: document.querySelectorAll('details[ontoggle]').length,
    handlers,
  };
}"""

# Lets queued tasks (a `toggle` event, an image error) run before we look.
SETTLE = "() => new Promise(r => requestAnimationFrame(() => setTimeout(r, 50)))"


def inspect(page, where):
    page.evaluate(SETTLE)
    found = page.evaluate(INSPECT)
    check(found["img"] == 0, f"{where}: no <img> ({found['img']})")
    check(found["script"] == 0, f"{where}: no <script> ({found['script']})")
    check(found["iframe"] == 0, f"{where}: no frames or objects")
    check(found["foreign_svg"] == 0, f"{where}: no <svg> but the charts ({found['foreign_svg']})")
    check(found["details_ontoggle"] == 0, f"{where}: no <details ontoggle>")
    check(not found["handlers"], f"{where}: no event-handler attributes {found['handlers']}")


def texts(page, selector):
    return page.eval_on_selector_all(selector, "els => els.map(e => e.textContent)")


def shot(page, name):
    if shots:
        os.makedirs(shots, exist_ok=True)
        page.screenshot(path=os.path.join(shots, name + ".png"), full_page=True, timeout=STEP_TIMEOUT_MS)


def goto(page, path):
    return page.goto(base + path, wait_until="load")


def no_overflow(page, where):
    w = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth, document.body.scrollWidth]"
    )
    check(w[1] == 390 and w[0] <= w[1] and w[2] <= w[1], f"{where}: fits 390 px (scrollWidth {w[0]}, body {w[2]}, innerWidth {w[1]})")


with sync_playwright() as p:
    browser = p.chromium.launch(
        executable_path=chromium, headless=True, args=LAUNCH_FLAGS, timeout=60_000
    )
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = watch(ctx.new_page())

    # --- The CSP header, and the search page.
    resp = goto(page, "/")
    csp = resp.headers.get("content-security-policy", "")
    check("default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp,
          f"CSP header sent: {csp!r}")
    listed = texts(page, "a.name bdi")
    check(sorted(listed) == sorted(names.values()),
          "the listing shows every stored name exactly as stored")
    inspect(page, "search listing")
    shot(page, "search")

    # --- Search by typing in the box; the search is a URL.
    page.fill("input[name=q]", "bunny")
    page.click("form.search button[type=submit]")
    page.wait_for_url(re.compile(r"/\?q=bunny"))
    found = texts(page, "a.name bdi")
    check("Big Buck Bunny 1080p" in found and all("Bunny" in n for n in found),
          f"searching 'bunny' finds the bunnies {found}")

    # --- Open a detail page from the results.
    page.click("a.name:has-text('Big Buck Bunny 1080p')")
    page.wait_for_url(re.compile(r"/torrents/[0-9a-f]{40}$"))
    check(page.text_content("h1.torrent-name bdi") == "Big Buck Bunny 1080p", "detail page title")
    check(page.is_visible("text=file 1.bin"), "the file tree shows the file")
    shot(page, "detail")
    magnet = page.get_attribute("p.lead a", "href") or ""
    check(magnet.startswith("magnet:?xt=urn:btih:"), f"magnet link {magnet[:40]}")

    # --- Every hostile name, on every page that shows it.
    for t in hostile:
        goto(page, "/?q=" + q(t["name"]))
        inspect(page, f"search for {t['name']!r}")
        goto(page, f"/torrents/{t['hash']}")
        title = page.text_content("h1.torrent-name bdi")
        check(title == t["name"], f"detail title is the stored name {t['name']!r} (got {title!r})")
        tree = texts(page, "ul.tree bdi.fname")
        check(any(t["name"] in (x or "") or (x or "") in t["name"] for x in tree), f"file tree of {t['name']!r}")
        inspect(page, f"detail of {t['name']!r}")

    goto(page, "/dashboard")
    check(page.locator("svg.chart").count() >= 1, "the dashboard draws its chart")
    inspect(page, "dashboard")
    shot(page, "dashboard")

    # --- Save a search with a hostile name (reads are open: no login needed).
    evil_name = hostile[0]["name"] + " \u202e saved"
    goto(page, "/?q=" + q(hostile[1]["name"]))
    page.fill("form.save input[name=name]", evil_name)
    page.click("form.save button[type=submit]")
    page.wait_for_url(re.compile(r"/saved\?notice=saved$"))
    check(evil_name in texts(page, "a.saved-name bdi"), "the saved search's name is shown as typed")
    inspect(page, "saved searches")
    shot(page, "saved")

    resp = goto(page, "/?min_size=lots")
    check(resp.status == 400 and page.is_visible("p.error"), f"a bad parameter is a 400 page ({resp.status})")
    shot(page, "bad-parameter")

    # --- Log in, delete a torrent, see it gone.
    victim = next(h for h, n in names.items() if n == "Big Buck Bunny 720p trailer")
    goto(page, f"/login?next={q('/torrents/' + victim)}")
    shot(page, "login")
    page.fill("input[name=key]", key)
    page.click("form.login button[type=submit]")
    page.wait_for_url(re.compile(f"/torrents/{victim}$"))
    check(page.is_visible("text=Log out"), "logged in")
    shot(page, "detail-logged-in")
    page.click("form.delete button[type=submit]")
    page.wait_for_url(re.compile(r"/\?notice=deleted$"))
    check(page.is_visible("p.notice"), "the deletion is confirmed")
    shot(page, "deleted")
    goto(page, "/?q=trailer")
    check("Big Buck Bunny 720p trailer" not in texts(page, "a.name bdi"), "search no longer finds it")
    resp = goto(page, f"/torrents/{victim}")
    check(resp.status == 404 and page.is_visible("text=No torrent"), f"its page is a 404 ({resp.status})")
    inspect(page, "404 page")
    ctx.close()

    # --- Without JavaScript: search and detail still work.
    ctx = browser.new_context(java_script_enabled=False, viewport={"width": 1024, "height": 768})
    page = watch(ctx.new_page())
    goto(page, "/")
    page.fill("input[name=q]", "ubuntu")
    page.press("input[name=q]", "Enter")
    page.wait_for_url(re.compile(r"/\?q=ubuntu"))
    check(texts(page, "a.name bdi") == ["Ubuntu 24.04 desktop amd64"], "no-JS search")
    page.click("a.name")
    page.wait_for_url(re.compile(r"/torrents/[0-9a-f]{40}$"))
    check(page.text_content("h1.torrent-name bdi") == "Ubuntu 24.04 desktop amd64", "no-JS detail")
    page.click("ul.tree summary")
    check(not page.is_visible("text=file 4.bin"), "no-JS: a directory collapses")
    page.click("ul.tree summary")
    check(page.is_visible("text=file 4.bin"), "no-JS: and opens again")
    goto(page, "/?type=movie&sort=size")
    check(len(texts(page, "a.name bdi")) >= 2, "no-JS filters and sort")
    ctx.close()

    # --- A phone: nothing wider than the screen.
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=3,
                              is_mobile=True, has_touch=True)
    page = watch(ctx.new_page())
    longest = max(corpus, key=lambda t: len(t["name"]))
    phone_pages = ["/", "/?q=bunny&min_size=1M", f"/torrents/{longest['hash']}",
                   f"/torrents/{hostile[0]['hash']}", "/dashboard", "/saved", "/login"]
    for i, path in enumerate(phone_pages):
        goto(page, path)
        no_overflow(page, f"phone {path}")
        shot(page, f"phone-{i}")
    ctx.close()
    browser.close()

check(not dialogs, f"no dialog ever opened {dialogs}")
check(not csp_reports, f"no CSP violation reported {csp_reports}")
if failures:
    log(f"\n{len(failures)} check(s) failed:")
    for f in failures:
        log(f"  - {f}")
    sys.exit(1)
log("\nall browser checks passed")
