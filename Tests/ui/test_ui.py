"""The web UI in a real browser, as a new user would use it: the seed's three flows (no trigger,
scheduled, dependency), a refused cycle, toggling and deleting triggers, "Run now" watched from
queued to completed, cancel, executions, the graph, and a narrow screen.

Run through Tests/ui/run.sh, which starts FlowForge and sets FLOWFORGE_UI_URL, FLOWFORGE_UI_TOKEN
and FLOWFORGE_UI_OUTPUT. The tests run in order and build on each other; the first failure stops
them, with a screenshot of the moment. Waiting is Playwright's auto-waiting, never a sleep.
"""

import hashlib
import hmac
import json
import os
import re
import signal
import sys
import threading
import time
import traceback
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from playwright.sync_api import Page, expect, sync_playwright

BASE = os.environ["FLOWFORGE_UI_URL"]
TOKEN = os.environ["FLOWFORGE_UI_TOKEN"]
OUT = os.environ.get("FLOWFORGE_UI_OUTPUT", "test-output/ui")
HEADED = bool(os.environ.get("FLOWFORGE_UI_HEADED"))
ONLY = [name for name in os.environ.get("FLOWFORGE_UI_ONLY", "").split(",") if name]
WAIT = 30_000  # ms; generous for a slow 2-core machine
VIEWER_ZONE = "Europe/Berlin"

expect.set_options(timeout=WAIT)


def api(method, path, body=None):
    """The public API directly, for setup the test is not about."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{BASE}/api{path}", data=data, method=method, headers={
        "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        text = response.read()
        return json.loads(text) if text else None


def deliver_webhook(trigger_id, secret, body: str):
    """Posts a signed event to a webhook trigger, as an outside sender would; answers its JSON."""
    t = str(int(time.time()))
    signature = hmac.new(secret.encode(), f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
    request = urllib.request.Request(f"{BASE}/api/hooks/{trigger_id}", data=body.encode(), method="POST", headers={
        "X-FlowForge-Signature": f"t={t},v1={signature}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        assert response.status == 202, response.status
        return json.loads(response.read())


def shot(page: Page, name: str, toasts=False):
    if not toasts:  # toasts that stayed from earlier steps would hide the page
        page.evaluate("document.querySelectorAll('.toast').forEach((t) => t.remove())")
    page.screenshot(path=os.path.join(OUT, f"{name}.png"), full_page=True)


def dialog(page: Page):
    return page.locator("dialog[open]")


def workflow_row(page: Page, name: str):
    return page.locator("tbody tr").filter(has=page.get_by_role("link", name=name, exact=True))


# ---------------------------------------------------------------- tests

def test_sign_in(page: Page, context):
    """No token: the prompt; a wrong token comes back with a reason; the right one signs in."""
    page.goto(f"{BASE}/")
    expect(dialog(page).get_by_role("heading", name="Sign in to FlowForge")).to_be_visible()
    shot(page, "01-sign-in")
    page.get_by_label("API token").fill("not-the-token-at-all")
    page.get_by_role("button", name="Sign in").click()
    expect(dialog(page)).to_contain_text("not accepted")
    page.get_by_label("API token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("No workflows yet")).to_be_visible()
    shot(page, "02-workflows-empty")

    # The link `flowforge dev` prints signs a new tab in directly and drops the token from view.
    other = context.new_page()
    other.goto(f"{BASE}/#token={TOKEN}")
    expect(other.get_by_role("heading", name="Workflows")).to_be_visible()
    expect(other).to_have_url(re.compile(r"#/workflows$"))
    assert TOKEN not in other.url
    other.close()


def test_flow_no_trigger(page: Page):
    """Seed flow 1: a workflow without a trigger; the cards toggle on and off; "Manual only"."""
    page.get_by_role("button", name="New workflow").click()
    form = dialog(page)
    expect(form.get_by_role("heading", name="New workflow")).to_be_visible()
    form.get_by_label("Name").fill("extract")
    form.get_by_label("Steps").fill(json.dumps([
        {"name": "pull", "kind": "shell", "command": ["sh", "-c", "echo pulled rows; sleep 1"]}]))
    scheduled = form.locator('[data-trigger-card="scheduled"]')
    expect(form.locator('[data-trigger-card="none"]')).to_have_count(0)  # no "None" option
    scheduled.click()
    expect(scheduled).to_have_attribute("aria-pressed", "true")
    expect(form.get_by_label("Cron expression")).to_be_visible()
    scheduled.click()  # again: deselected, manual only
    expect(scheduled).to_have_attribute("aria-pressed", "false")
    expect(form.get_by_label("Cron expression")).to_have_count(0)

    # Steps the API refuses: its sentence shows under the field and nothing is created.
    form.get_by_label("Steps").fill('[{"name": "s", "kind": "shell", "command": "ls"}]')
    form.get_by_role("button", name="Create workflow").click()
    expect(form.locator("#wf-steps-msg")).to_contain_text("steps[0].command must be a non-empty array")
    form.get_by_label("Steps").fill('[{"name": "s", "kind": "shell", ')
    expect(form.locator("#wf-steps-msg")).to_contain_text("not valid JSON")
    expect(form.get_by_role("button", name="Create workflow")).to_be_disabled()
    form.get_by_label("Steps").fill(json.dumps([
        {"name": "pull", "kind": "shell", "command": ["sh", "-c", "echo pulled rows; sleep 1"]}]))
    form.get_by_role("button", name="Create workflow").click()

    expect(page.get_by_role("heading", name="extract", level=1)).to_be_visible()
    expect(page.get_by_text("No triggers")).to_be_visible()
    page.get_by_role("link", name="Workflows", exact=True).first.click()
    expect(workflow_row(page, "extract").locator(".next-run")).to_have_text("Manual only")


def test_flow_scheduled(page: Page):
    """Seed flow 2: a scheduled initial trigger: presets, zone search, live preview, errors, Next Run."""
    page.get_by_role("button", name="New workflow").click()
    form = dialog(page)
    form.get_by_label("Name").fill("report")
    form.get_by_label("Description").fill("Weekday report for the New York office.")
    form.get_by_label("Steps").fill(json.dumps([{"name": "render", "kind": "noop", "sleep_ms": 200}]))
    form.locator('[data-trigger-card="scheduled"]').click()

    preview = form.get_by_test_id("schedule-preview")
    expect(preview.locator("li")).to_have_count(5)  # the default preset, in the viewer's zone
    expect(form.get_by_label("Time zone")).to_have_value(VIEWER_ZONE)
    form.get_by_role("radio", name="Weekdays at 09:00").click()
    expect(form.get_by_label("Cron expression")).to_have_value("0 9 * * 1-5")
    form.get_by_label("Time zone").fill("America/New_York")
    expect(preview).to_contain_text("At 09:00, Monday through Friday")
    expect(preview).to_contain_text("America/New_York")
    expect(preview.locator("li")).to_have_count(5)
    shot(page, "03-create-workflow-scheduled")

    # As-you-type errors come from the API, and block creating.
    form.get_by_label("Cron expression").fill("0 0 30 2 *")
    expect(form.get_by_role("radio", name="Custom")).to_have_attribute("aria-checked", "true")
    expect(form.locator("#init-cron-msg")).to_contain_text("never fires")
    expect(form.get_by_role("button", name="Create workflow")).to_be_disabled()
    form.get_by_role("radio", name="Weekdays at 09:00").click()
    form.get_by_label("Time zone").fill("Mars/Olympus")
    expect(form.locator("#init-cron-msg")).to_contain_text("Mars/Olympus")
    expect(form.get_by_role("button", name="Create workflow")).to_be_disabled()
    form.get_by_label("Time zone").fill("America/New_York")
    expect(preview.locator("li")).to_have_count(5)
    expect(form.get_by_role("button", name="Create workflow")).to_be_enabled()
    form.get_by_role("button", name="Create workflow").click()

    card = page.locator('.trigger-card[data-trigger-type="scheduled"]')
    expect(card).to_contain_text("0 9 * * 1-5")
    expect(card).to_contain_text("At 09:00, Monday through Friday")
    expect(card.locator(".next-run time")).to_be_visible()
    shot(page, "04-workflow-detail-scheduled")

    page.get_by_role("link", name="Workflows", exact=True).first.click()
    next_run = workflow_row(page, "report").locator(".next-run")
    expect(next_run.locator("time")).to_be_visible()
    expect(next_run.locator("[title]")).to_have_attribute("title", re.compile(r"America/New_York"))
    shot(page, "05-workflows-next-run")


def test_flow_dependency_and_cycle(page: Page):
    """Seed flow 3: a dependency initial trigger; then the reverse edge is refused with its path."""
    page.get_by_role("button", name="New workflow").click()
    form = dialog(page)
    form.get_by_label("Name").fill("load")
    form.get_by_label("Steps").fill(json.dumps([{"name": "copy", "kind": "shell", "command": ["sh", "-c", "echo loaded"]}]))
    form.locator('[data-trigger-card="dependency"]').click()
    form.get_by_label("Runs after").select_option(label="extract")
    form.get_by_role("radio", name="On completion").click()
    expect(form).to_contain_text("whether it succeeded or failed")
    form.get_by_role("radio", name="On success").click()
    expect(form).to_contain_text("Runs each time “extract” completes successfully.")
    form.get_by_label("Delay (minutes, 0–60)").fill("61")
    expect(form.locator("#init-delay-msg")).to_contain_text("0 to 60")
    expect(form.get_by_role("button", name="Create workflow")).to_be_disabled()
    form.get_by_label("Delay (minutes, 0–60)").fill("0")
    shot(page, "06-create-workflow-dependency")
    form.get_by_role("button", name="Create workflow").click()

    card = page.locator('.trigger-card[data-trigger-type="dependency"]')
    expect(card).to_contain_text("After extract")
    expect(card).to_contain_text("on success")

    # extract after load would close a loop: the picker marks it and the dialog refuses it.
    page.get_by_role("link", name="extract").first.click()
    expect(page.get_by_role("heading", name="extract", level=1)).to_be_visible()
    expect(page.locator(".downstream")).to_contain_text("load")
    page.get_by_role("button", name="Add trigger").first.click()
    add = dialog(page)
    expect(add.locator('[data-trigger-card="scheduled"]')).to_have_attribute("aria-checked", "true")
    expect(add.get_by_test_id("schedule-preview").locator("li")).to_have_count(5)
    shot(page, "07-add-trigger-scheduled-preview")
    add.locator('[data-trigger-card="dependency"]').click()
    # The add dialog picks upstreams as checkboxes (a join may have several).
    upstream = add.get_by_role("group", name="Runs after")
    expect(upstream.locator("label", has_text="would create a cycle")).to_have_text("load — would create a cycle")
    upstream.get_by_label("load — would create a cycle").check()
    expect(add.locator("#add-upstream-msg")).to_contain_text("circular dependency: load → extract → load")
    expect(add.get_by_role("button", name="Add trigger")).to_be_disabled()
    shot(page, "08-add-trigger-cycle-refused")
    add.get_by_role("button", name="Cancel").click()
    expect(dialog(page)).to_have_count(0)
    expect(page.get_by_text("No triggers")).to_be_visible()


def test_add_toggle_delete_trigger(page: Page):
    """Add a second schedule in the dialog, toggle one off and on, delete one after confirming."""
    page.get_by_role("link", name="Workflows", exact=True).first.click()
    page.get_by_role("link", name="report", exact=True).click()
    page.get_by_role("button", name="Add trigger").first.click()
    add = dialog(page)
    add.get_by_role("radio", name="Every 15 minutes").click()
    expect(add.get_by_test_id("schedule-preview")).to_contain_text("Every 15 minutes")
    add.get_by_label("Time zone").fill("UTC")
    expect(add.get_by_test_id("schedule-preview")).to_contain_text("(UTC)")
    add.get_by_label("Name").fill("Quarter-hourly check")
    add.get_by_role("button", name="Add trigger").click()
    expect(page.locator(".trigger-card")).to_have_count(2)
    quarter = page.locator(".trigger-card", has_text="Quarter-hourly check")

    # DST markers: the preview asked from a fixed date (the request goes on to the real API),
    # where New York's spring-forward gap moves 02:30 to 03:00.
    page.route(re.compile(r"/api/schedule/preview\?"), lambda route: route.continue_(url=route.request.url + "&after=2026-03-07T12%3A00%3A00Z"))
    page.get_by_role("button", name="Add trigger").first.click()
    add = dialog(page)
    add.get_by_role("radio", name="Custom").click()
    add.get_by_label("Cron expression").fill("30 2 * * *")
    add.get_by_label("Time zone").fill("America/New_York")
    preview = add.get_by_test_id("schedule-preview")
    expect(preview.locator('li[data-dst="true"]')).to_have_count(1)
    expect(preview.locator('li[data-dst="true"]')).to_contain_text("DST: moved past the gap")
    expect(preview.locator("li").first).to_contain_text("03:00 (UTC-04:00)")
    shot(page, "10-add-trigger-dst-preview")
    page.keyboard.press("Escape")
    expect(dialog(page)).to_have_count(0)
    page.unroute(re.compile(r"/api/schedule/preview\?"))
    expect(quarter).to_contain_text("*/15 * * * *")

    weekdays = page.locator(".trigger-card", has_text="0 9 * * 1-5")
    switch = weekdays.get_by_role("switch")
    expect(switch).to_have_attribute("aria-checked", "true")
    switch.click()
    expect(weekdays.get_by_role("switch")).to_have_attribute("aria-checked", "false")
    expect(weekdays).to_have_class(re.compile(r"\bdisabled\b"))
    expect(weekdays).to_contain_text("Paused while disabled")
    expect(page.locator(".toast", has_text="disabled")).to_be_visible()
    shot(page, "09-trigger-disabled", toasts=True)
    weekdays.get_by_role("switch").click()
    expect(weekdays.get_by_role("switch")).to_have_attribute("aria-checked", "true")
    expect(weekdays.locator(".next-run time")).to_be_visible()

    quarter.get_by_role("button", name="Delete trigger Quarter-hourly check").click()
    confirm = dialog(page)
    expect(confirm).to_contain_text("Delete this trigger?")
    shot(page, "11-delete-trigger-confirm")
    confirm.get_by_role("button", name="Delete").click()
    expect(page.locator(".trigger-card")).to_have_count(1)


def test_run_now(page: Page):
    """Run now: the run page shows it queued, then running, then completed, with its trigger icon;
    the dependency run it starts shows in Executions with a link to its upstream."""
    page.get_by_role("link", name="Workflows", exact=True).first.click()
    page.get_by_role("link", name="extract", exact=True).click()
    expect(page.get_by_role("heading", name="extract", level=1)).to_be_visible()
    # Record every status the run page shows, in order, as it changes.
    page.evaluate("""() => {
      window.__seen = [];
      new MutationObserver(() => {
        const el = document.querySelector('[data-testid="run-status"] [data-status]');
        const status = el && el.dataset.status;
        if (status && window.__seen[window.__seen.length - 1] !== status) window.__seen.push(status);
      }).observe(document.getElementById('main'), { childList: true, subtree: true, attributes: true });
    }""")
    page.get_by_role("button", name="Run now").click()
    expect(page.get_by_test_id("run-status")).to_have_text("completed")
    seen = page.evaluate("window.__seen")
    assert seen[0] == "queued" and seen[-1] == "completed", f"statuses seen: {seen}"
    expect(page.locator(".started-by[data-trigger-type=manual]").first).to_contain_text("Run now")
    expect(page.locator('.started-by[data-trigger-type=manual] svg[aria-label="Manual"]').first).to_be_visible()
    expect(page.locator(".output")).to_contain_text("pulled rows")
    expect(page.locator(".timeline")).to_contain_text("Queued")
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    shot(page, "12-run-completed")

    page.get_by_role("link", name="Executions", exact=True).first.click()
    dependency_run = page.locator('tbody tr', has=page.locator('.started-by[data-trigger-type=dependency]')).first
    expect(dependency_run).to_contain_text("load")
    expect(dependency_run).to_contain_text("After extract succeeds")
    expect(dependency_run.get_by_role("link", name=re.compile(r"after #\d+"))).to_be_visible()
    expect(dependency_run.locator("[data-status]")).to_have_text("completed")
    manual_run = page.locator('tbody tr', has=page.locator('.started-by[data-trigger-type=manual]')).first
    expect(manual_run.locator("[data-status]")).to_have_text("completed")

    page.get_by_label("Started by").select_option("dependency")
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"trigger_type=dependency"))
    shot(page, "13-executions-filtered")
    page.get_by_label("Started by").select_option("")
    expect(page.locator("tbody tr")).to_have_count(2)
    shot(page, "14-executions")


def test_cancel(page: Page):
    """A long run is cancelled from its page."""
    api("POST", "/workflows", {"name": "slow", "steps": [{"name": "wait", "kind": "shell", "command": ["sleep", "60"]}]})
    page.get_by_role("link", name="Workflows", exact=True).first.click()
    page.get_by_role("link", name="slow", exact=True).click()
    page.get_by_role("button", name="Run now").click()
    expect(page.get_by_test_id("run-status")).to_have_text("running")
    page.get_by_role("button", name="Cancel").click()
    dialog(page).get_by_role("button", name="Cancel run").click()
    expect(page.get_by_test_id("run-status")).to_have_text("cancelled")
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)


def test_pause_resume(page: Page):
    """Pause from the workflow page: the notice and the list's badge say so, and the list no
    longer promises a next run; Resume takes both away."""
    api("POST", "/workflows", {"name": "hourly-report", "steps": [{"name": "s", "kind": "noop"}],
                               "triggers": [{"trigger_type": "scheduled", "cron_expression": "0 * * * *"}]})
    page.get_by_role("link", name="Workflows", exact=True).first.click()
    page.get_by_role("link", name="hourly-report", exact=True).click()
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_test_id("paused-notice")).to_contain_text("Run now still works")
    expect(page.get_by_role("button", name="Resume")).to_be_visible()
    expect(page.get_by_test_id("detail-next-run")).to_have_text("None while paused")
    shot(page, "19-workflow-paused")
    page.get_by_role("link", name="Workflows", exact=True).first.click()
    row = workflow_row(page, "hourly-report")
    expect(row.get_by_test_id("paused-badge")).to_have_text("Paused")
    expect(row.locator(".next-run")).to_contain_text("Paused: no trigger starts it")
    listed = api("GET", "/workflows?limit=200")["workflows"]
    assert next(w for w in listed if w["name"] == "hourly-report")["paused_at"], "the API does not show it paused"
    row.get_by_role("link", name="hourly-report", exact=True).click()
    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_test_id("paused-notice")).to_have_count(0)
    expect(page.get_by_role("button", name="Pause")).to_be_visible()
    page.get_by_role("link", name="Workflows", exact=True).first.click()
    expect(workflow_row(page, "hourly-report").get_by_test_id("paused-badge")).to_have_count(0)


def test_file_arrival_settings(page: Page):
    """A file arrival's settings: the hint names `directory`, and the dialog will not send empty
    settings or a relative folder, which the API would refuse; a good one is added."""
    page.get_by_role("link", name="Workflows", exact=True).first.click()
    page.get_by_role("link", name="slow", exact=True).click()
    page.get_by_role("button", name="Add trigger").first.click()
    add = dialog(page)
    add.get_by_text("Event", exact=False).first.click()
    add.get_by_role("radio", name="File arrival", exact=True).click()
    settings = add.get_by_label("Settings (JSON)")
    expect(settings).to_have_attribute("placeholder", '{"directory": "/data/incoming", "pattern": "*.csv"}')
    submit = add.get_by_role("button", name="Add trigger")
    expect(submit).to_be_disabled()
    expect(add).to_contain_text("A file arrival needs settings")
    settings.fill('{"directory": "data/incoming"}')
    expect(submit).to_be_disabled()
    expect(add).to_contain_text("event_config.directory is required: the absolute path of the folder to watch")
    settings.fill('{"directory": "/data/incoming", "pattern": "*.csv"}')
    expect(submit).to_be_enabled()
    submit.click()
    expect(page.locator(".trigger-card", has_text="File arrival")).to_have_count(1)


def test_webhook_secret_shown_once(page: Page):
    """A workflow created with a webhook as its initial trigger shows the hook's URL and secret,
    this once; the trigger card shows the URL, never the secret."""
    page.get_by_role("link", name="Workflows", exact=True).first.click()
    page.get_by_role("button", name="New workflow").first.click()
    dialog(page).get_by_label("Name").first.fill("on-release")
    dialog(page).get_by_text("Event", exact=False).first.click()
    dialog(page).get_by_role("button", name="Create workflow").click()
    secret = page.locator("#hook-secret")
    expect(secret).to_have_value(re.compile(r"^whsec_[0-9a-f]{64}$"))
    expect(page.locator("#hook-url")).to_have_value(re.compile(r"/api/hooks/[0-9]+$"))
    shot(page, "20-webhook-secret")
    value = secret.input_value()
    dialog(page).get_by_role("button", name="I copied it").click()
    expect(page.get_by_text("/api/hooks/", exact=False).first).to_be_visible()
    assert value not in page.content(), "the secret is still on the page"


def test_graph(page: Page):
    """The graph: extract → load with its condition, coloured by last status; a disabled trigger is
    dashed; a node opens its workflow."""
    page.get_by_role("link", name="Graph", exact=True).first.click()
    graph = page.locator("svg.graph")
    expect(graph).to_be_visible()
    edge = graph.locator("g.edge")
    expect(edge).to_have_count(1)
    expect(edge).to_contain_text("on success")
    expect(graph.locator("a.node", has_text="extract")).to_have_class(re.compile(r"node-completed"))
    expect(graph.locator("a.node", has_text="slow")).to_have_class(re.compile(r"node-cancelled"))
    expect(graph.locator("a.node", has_text="report")).to_have_class(re.compile(r"node-none"))
    shot(page, "15-graph")

    graph.locator("a.node", has_text="load").click()
    expect(page.get_by_role("heading", name="load", level=1)).to_be_visible()
    page.locator('.trigger-card[data-trigger-type="dependency"]').get_by_role("switch").click()
    expect(page.locator('.trigger-card[data-trigger-type="dependency"]').get_by_role("switch")).to_have_attribute("aria-checked", "false")
    page.get_by_role("link", name="Graph", exact=True).first.click()
    expect(page.locator("svg.graph g.edge")).to_have_class(re.compile(r"\bdisabled\b"))
    shot(page, "16-graph-disabled-edge")


def test_keyboard(page: Page):
    """The main actions work from the keyboard: open and close the create dialog, toggle a card."""
    page.get_by_role("link", name="Workflows", exact=True).first.click()
    expect(workflow_row(page, "extract")).to_be_visible()
    button = page.get_by_role("button", name="New workflow")
    button.focus()
    page.keyboard.press("Enter")
    expect(dialog(page)).to_be_visible()
    expect(page.get_by_label("Name")).to_be_focused()
    card = dialog(page).locator('[data-trigger-card="dependency"]')
    card.focus()
    page.keyboard.press("Space")
    expect(card).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Escape")
    expect(dialog(page)).to_have_count(0)
    expect(button).to_be_focused()


def test_narrow_screen(page: Page):
    """Readable on a phone-sized screen."""
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("link", name="Workflows", exact=True).first.click()
    expect(workflow_row(page, "report")).to_be_visible()
    shot(page, "17-narrow-workflows")
    page.get_by_role("link", name="report", exact=True).click()
    expect(page.locator(".trigger-card")).to_have_count(1)
    shot(page, "18-narrow-workflow-detail")
    page.get_by_role("button", name="Add trigger").first.click()
    expect(dialog(page).get_by_test_id("schedule-preview").locator("li")).to_have_count(5)
    shot(page, "19-narrow-add-trigger")
    page.keyboard.press("Escape")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a narrow screen ({width}px)"
    page.set_viewport_size({"width": 1280, "height": 800})


def test_live_output(page: Page):
    """A running step's output shows on its run page while it runs, and the page follows it: the
    output block stays scrolled to its end as lines arrive."""
    api("POST", "/workflows", {"name": "live-output", "steps": [{"name": "talk", "kind": "shell", "command": [
        "sh", "-c", "i=0; while [ $i -lt 200 ]; do echo line $i; i=$((i+1)); done; echo live-marker-1; sleep 60"]}]})
    page.get_by_role("link", name="Workflows", exact=True).first.click()
    page.get_by_role("link", name="live-output", exact=True).click()
    page.get_by_role("button", name="Run now").click()
    output = page.get_by_test_id("live-output")
    expect(output).to_contain_text("live-marker-1")
    # Seen while the step still runs (it sleeps a minute after printing).
    expect(page.get_by_test_id("run-status")).to_have_text("running")
    expect(page.locator(".step-results [data-status=running]")).to_have_count(1)
    expect(page.get_by_test_id("live-output-bytes")).to_contain_text("bytes so far")
    # Longer than its block: shown from its end.
    assert output.evaluate("(pre) => pre.scrollHeight > pre.clientHeight && pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8")
    shot(page, "live-output")
    page.get_by_role("button", name="Cancel").click()
    dialog(page).get_by_role("button", name="Cancel run").click()
    expect(page.get_by_test_id("run-status")).to_have_text("cancelled")
    expect(page.get_by_test_id("live-output")).to_have_count(0)


def test_edit_workflow(page: Page):
    """Edit a workflow on its page: a step the API refuses shows its sentence next to that step
    and changes nothing; then rename, settings, a command, an HTTP step added and moved up by
    keyboard, a step removed, saved in one PUT."""
    wf = api("POST", "/workflows", {"name": "edit-me", "description": "before", "steps": [
        {"name": "one", "kind": "shell", "command": ["echo", "one"]},
        {"name": "two", "kind": "noop", "sleep_ms": 10},
        {"name": "three", "kind": "shell", "command": ["echo", "three"], "env": {"MODE": "fast"}}]})
    before = api("GET", f"/workflows/{wf['id']}")
    page.goto(f"{BASE}/#/workflows/{wf['id']}")
    expect(page.get_by_role("heading", name="edit-me", level=1)).to_be_visible()
    page.get_by_role("button", name="Edit", exact=True).click()
    form = dialog(page)
    expect(form.get_by_label("Name", exact=True)).to_have_value("edit-me")
    editors = form.locator(".step-editor")
    expect(editors).to_have_count(3)
    expect(editors.nth(2).get_by_label("Command")).to_have_value('["echo","three"]')
    expect(editors.nth(2).get_by_label("Environment (JSON object, optional)")).to_have_value('{ "MODE": "fast" }')
    expect(form.get_by_role("button", name="Move step one up")).to_be_disabled()
    expect(form.get_by_role("button", name="Move step three down")).to_be_disabled()

    # What the browser can judge, it says before sending.
    editors.nth(0).get_by_label("Command").fill('["echo", ')
    form.get_by_role("button", name="Save changes").click()
    expect(editors.nth(0)).to_contain_text("steps[0].command is not valid JSON")
    editors.nth(0).get_by_label("Command").fill('["sh", "-c", "echo edited"]')

    # An HTTP step with a URL the API refuses: its sentence, under that step; nothing saved.
    form.get_by_role("button", name="HTTP step").click()
    expect(editors).to_have_count(4)
    http = editors.nth(3)
    expect(http.get_by_label("Step name")).to_be_focused()
    expect(http.get_by_label("Step name")).to_have_value("http-4")
    http.get_by_label("URL").fill("ftp://127.0.0.1/hook")
    form.get_by_label("Name", exact=True).fill("edited-workflow")
    form.get_by_role("button", name="Save changes").click()
    expect(http.locator(".field-message")).to_have_text("steps[3].url must be an absolute http:// or https:// URL")
    assert api("GET", f"/workflows/{wf['id']}") == before, "a refused edit changed the workflow"
    shot(page, "21-edit-workflow-refused")

    http.get_by_label("URL").fill("http://127.0.0.1:9/hook")
    http.get_by_label("Method").select_option("POST")
    http.get_by_label("Expected statuses").fill("200, 204")
    move_up = form.get_by_role("button", name="Move step http-4 up")
    move_up.focus()
    page.keyboard.press("Enter")
    expect(form.get_by_role("button", name="Move step http-4 up")).to_be_focused()
    expect(editors.nth(2).get_by_label("Step name")).to_have_value("http-4")
    form.get_by_role("button", name="Remove step two").click()
    expect(editors).to_have_count(3)
    form.get_by_label("Description").fill("after")
    form.get_by_label("Attempts", exact=True).fill("3")
    form.get_by_label("When the limit is reached").select_option("skip")
    shot(page, "22-edit-workflow")
    form.get_by_role("button", name="Save changes").click()
    expect(dialog(page)).to_have_count(0)
    expect(page.get_by_role("heading", name="edited-workflow", level=1)).to_be_visible()
    expect(page.locator(".steps li")).to_have_count(3)
    expect(page.locator(".steps li").nth(1)).to_contain_text("POST http://127.0.0.1:9/hook")
    expect(page.locator(".facts")).to_contain_text("skip, at most 1 at once")

    after = api("GET", f"/workflows/{wf['id']}")
    assert (after["name"], after["description"], after["max_attempts"], after["overlap_policy"]) == ("edited-workflow", "after", 3, "skip"), after
    assert [s["name"] for s in after["steps"]] == ["one", "http-4", "three"], after["steps"]
    assert after["steps"][0]["command"] == ["sh", "-c", "echo edited"], after["steps"][0]
    assert (after["steps"][1]["method"], after["steps"][1]["url"], after["steps"][1]["expect_status"]) == ("POST", "http://127.0.0.1:9/hook", [200, 204]), after["steps"][1]
    assert after["steps"][2]["env"] == {"MODE": "fast"}, after["steps"][2]


def test_edit_triggers(page: Page):
    """Edit a schedule and a dependency in the add dialog, filled with their settings: the live
    preview and the API's refusal as you type, the cycle check on the upstream picker, the type fixed."""
    upstream_a = api("POST", "/workflows", {"name": "edit-upstream-a", "steps": [{"name": "s", "kind": "noop"}]})
    upstream_b = api("POST", "/workflows", {"name": "edit-upstream-b", "steps": [{"name": "s", "kind": "noop"}]})
    wf = api("POST", "/workflows", {"name": "edit-triggers", "steps": [{"name": "s", "kind": "noop"}], "triggers": [
        {"trigger_type": "scheduled", "cron_expression": "0 2 * * *", "timezone": "UTC"},
        {"trigger_type": "dependency", "depends_on_workflow_id": upstream_a["id"], "delay_minutes": 2},
        {"trigger_type": "event", "event_type": "webhook"}]})
    api("POST", "/workflows", {"name": "edit-downstream", "steps": [{"name": "s", "kind": "noop"}],
                               "triggers": [{"trigger_type": "dependency", "depends_on_workflow_id": wf["id"]}]})
    scheduled_id, dependency_id, webhook_id = (t["id"] for t in wf["triggers"])
    page.goto(f"{BASE}/#/workflows/{wf['id']}")

    card = page.locator(f'.trigger-card[data-trigger-id="{scheduled_id}"]')
    card.get_by_role("button", name="Edit trigger At 02:00").click()
    form = dialog(page)
    expect(form.get_by_role("heading", name="Edit trigger “At 02:00”")).to_be_visible()
    expect(form.get_by_label("Cron expression")).to_have_value("0 2 * * *")
    expect(form.get_by_label("Time zone")).to_have_value("UTC")
    expect(form.get_by_role("radio", name="Daily at 02:00")).to_have_attribute("aria-checked", "true")
    expect(form.locator('[data-trigger-card="scheduled"]')).to_have_attribute("aria-checked", "true")
    expect(form.locator('[data-trigger-card="dependency"]')).to_be_disabled()
    expect(form.get_by_test_id("schedule-preview").locator("li")).to_have_count(5)
    form.get_by_label("Cron expression").fill("0 0 30 2 *")
    expect(form.locator("#edit-cron-msg")).to_contain_text("never fires")
    expect(form.get_by_role("button", name="Save changes")).to_be_disabled()
    form.get_by_role("radio", name="Weekdays at 09:00").click()
    form.get_by_label("Time zone").fill("Asia/Tokyo")
    expect(form.get_by_test_id("schedule-preview")).to_contain_text("At 09:00, Monday through Friday")
    expect(form.get_by_test_id("schedule-preview")).to_contain_text("Asia/Tokyo")
    form.get_by_text("If the scheduler was down").click()
    form.get_by_label("Missed runs").select_option("skip")
    shot(page, "23-edit-trigger-schedule")
    form.get_by_role("button", name="Save changes").click()
    expect(dialog(page)).to_have_count(0)
    expect(card).to_contain_text("0 9 * * 1-5")
    expect(card).to_contain_text("Asia/Tokyo")
    saved = api("GET", f"/workflows/{wf['id']}/triggers/{scheduled_id}")
    assert (saved["cron_expression"], saved["timezone"], saved["misfire_policy"], saved["trigger_name"]) == (
        "0 9 * * 1-5", "Asia/Tokyo", "skip", "At 09:00, Monday through Friday"), saved

    card = page.locator(f'.trigger-card[data-trigger-id="{dependency_id}"]')
    card.get_by_role("button", name=re.compile(r"^Edit trigger")).click()
    form = dialog(page)
    upstream = form.get_by_role("group", name="Runs after")
    expect(upstream.get_by_label("edit-upstream-a", exact=True)).to_be_checked()
    expect(upstream.get_by_label("edit-upstream-b", exact=True)).not_to_be_checked()
    expect(form.get_by_label("Delay (minutes, 0–60)")).to_have_value("2")
    upstream.get_by_label("edit-downstream — would create a cycle").check()
    expect(form.locator("#edit-upstream-msg")).to_contain_text("circular dependency: edit-downstream → edit-triggers → edit-downstream")
    expect(form.get_by_role("button", name="Save changes")).to_be_disabled()
    upstream.get_by_label("edit-downstream — would create a cycle").uncheck()
    upstream.get_by_label("edit-upstream-a", exact=True).uncheck()
    upstream.get_by_label("edit-upstream-b", exact=True).check()
    form.get_by_role("radio", name="On failure").click()
    form.get_by_label("Delay (minutes, 0–60)").fill("5")
    expect(form).to_contain_text("Runs when “edit-upstream-b” fails after its last attempt — for alerts and clean-up, 5 minutes later.")
    form.get_by_label("Name").fill("Clean up after b")
    form.get_by_role("button", name="Save changes").click()
    expect(dialog(page)).to_have_count(0)
    expect(card).to_contain_text("After edit-upstream-b")
    expect(card).to_contain_text("Clean up after b")
    saved = api("GET", f"/workflows/{wf['id']}/triggers/{dependency_id}")
    assert (saved["depends_on_workflow_id"], saved["dependency_condition"], saved["delay_minutes"], saved["trigger_name"]) == (
        upstream_b["id"], "on_failure", 5, "Clean up after b"), saved

    # A webhook's settings; its event type stays.
    card = page.locator(f'.trigger-card[data-trigger-id="{webhook_id}"]')
    card.get_by_role("button", name=re.compile(r"^Edit trigger")).click()
    form = dialog(page)
    expect(form.get_by_role("radio", name="File arrival", exact=True)).to_be_disabled()
    form.get_by_label("Settings (JSON, optional)").fill('{"filter": [{"pointer": "/action", "equals": "published"}]}')
    form.get_by_role("button", name="Save changes").click()
    expect(dialog(page)).to_have_count(0)
    expect(card).to_contain_text("/api/hooks/")
    saved = api("GET", f"/workflows/{wf['id']}/triggers/{webhook_id}")
    assert saved["event_config"] == {"filter": [{"pointer": "/action", "equals": "published"}]}, saved


def test_rotate_secret(page: Page):
    """Rotate a webhook's secret: the new one is shown once with a copy button, the old one
    keeps working for the grace period, and the new one signs events the API accepts."""
    wf = api("POST", "/workflows", {"name": "rotate-me", "steps": [{"name": "s", "kind": "noop"}],
                                    "triggers": [{"trigger_type": "event", "event_type": "webhook"}]})
    trigger = wf["triggers"][0]
    old = trigger["secret"]
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=BASE)
    page.goto(f"{BASE}/#/workflows/{wf['id']}")
    page.locator(".trigger-card").get_by_role("button", name="Rotate secret").click()
    confirm = dialog(page)
    expect(confirm).to_contain_text("keeps working for 24 hours")
    confirm.get_by_role("button", name="Rotate secret").click()
    secret = page.locator("#hook-secret")
    expect(secret).to_have_value(re.compile(r"^whsec_[0-9a-f]{64}$"))
    new = secret.input_value()
    assert new != old
    expect(dialog(page)).to_contain_text("The previous secret keeps working until")
    dialog(page).get_by_role("button", name="Copy secret").click()
    expect(dialog(page).get_by_role("status")).to_have_text("Secret copied.")
    assert page.evaluate("navigator.clipboard.readText()") == new
    shot(page, "24-rotated-secret")
    dialog(page).get_by_role("button", name="I copied it").click()
    expect(dialog(page)).to_have_count(0)
    assert new not in page.content(), "the secret is still on the page"
    assert deliver_webhook(trigger["id"], new, "{}")["workflow_id"] == wf["id"]
    assert deliver_webhook(trigger["id"], old, '{"old": true}')["workflow_id"] == wf["id"]


def test_backfill(page: Page):
    """Backfill a schedule from its card: the range in the trigger's zone (and its UTC instants),
    the dry run's count and first times before confirming, then the created count; a second time
    finds them all there."""
    wf = api("POST", "/workflows", {"name": "backfill-me", "steps": [{"name": "s", "kind": "noop"}], "triggers": [
        {"trigger_type": "scheduled", "cron_expression": "0 2 * * *", "timezone": "America/New_York"}]})
    page.goto(f"{BASE}/#/workflows/{wf['id']}")
    page.locator(".trigger-card").get_by_role("button", name="Backfill…").click()
    form = dialog(page)
    expect(form.get_by_role("heading", name="Backfill “At 02:00”")).to_be_visible()
    form.get_by_label("From (America/New_York)").fill("2024-03-01T00:00")
    form.get_by_label("To (America/New_York)").fill("2024-03-11T00:00")
    expect(form.locator("#bf-from-utc")).to_have_text("= 2024-03-01T05:00:00Z")
    expect(form.locator("#bf-to-utc")).to_have_text("= 2024-03-11T04:00:00Z (not included)")  # daylight time by then
    preview = form.get_by_test_id("backfill-preview")
    expect(preview.get_by_test_id("backfill-count")).to_have_text("10 times in this range; none has a run yet, so 10 runs would be created.")
    expect(preview.locator("li time").first).to_have_attribute("datetime", "2024-03-01T07:00:00Z")
    expect(preview.locator("li time").nth(9)).to_have_attribute("datetime", "2024-03-10T07:00:00Z")  # 02:00 does not exist: 03:00 EDT
    assert api("GET", f"/executions?workflow_id={wf['id']}")["executions"] == [], "the dry run created runs"
    shot(page, "25-backfill-dry-run")
    form.get_by_role("button", name="Create 10 runs").click()
    expect(form.get_by_test_id("backfill-created")).to_have_text("Created 10 runs.")
    runs = api("GET", f"/executions?workflow_id={wf['id']}")["executions"]
    assert len(runs) == 10 and all(r["backfill"] and r["trigger_type"] == "scheduled" for r in runs), runs
    assert min(r["scheduled_for"] for r in runs) == "2024-03-01T07:00:00Z", runs
    form.get_by_role("button", name="Close", exact=True).last.click()
    expect(dialog(page)).to_have_count(0)

    page.locator(".trigger-card").get_by_role("button", name="Backfill…").click()
    form = dialog(page)
    form.get_by_label("From (America/New_York)").fill("2024-03-01T00:00")
    form.get_by_label("To (America/New_York)").fill("2024-03-11T00:00")
    expect(form.get_by_test_id("backfill-count")).to_have_text("10 times in this range; 10 already have a run, so 0 runs would be created.")
    expect(form.get_by_role("button", name="Nothing to create")).to_be_disabled()
    form.get_by_label("To (America/New_York)").fill("2099-01-01T00:00")
    expect(form.locator("#bf-msg")).to_contain_text("must not be in the future")
    expect(form.get_by_role("button", name="Create runs")).to_be_disabled()
    page.keyboard.press("Escape")
    expect(dialog(page)).to_have_count(0)


def test_event_payload(page: Page):
    """A webhook run's page shows the event's JSON body."""
    wf = api("POST", "/workflows", {"name": "on-event", "steps": [{"name": "s", "kind": "noop"}],
                                    "triggers": [{"trigger_type": "event", "event_type": "webhook"}]})
    trigger = wf["triggers"][0]
    run = deliver_webhook(trigger["id"], trigger["secret"], json.dumps({"action": "published", "release": {"tag": "v1.2.3"}}))
    page.goto(f"{BASE}/#/executions/{run['id']}")
    expect(page.get_by_role("heading", name="Event", exact=True)).to_be_visible()
    payload = page.get_by_test_id("event-payload")
    expect(payload).to_contain_text('"tag": "v1.2.3"')
    assert json.loads(payload.inner_text()) == {"action": "published", "release": {"tag": "v1.2.3"}}
    shot(page, "26-event-payload")


def test_load_older(page: Page):
    """The executions list shows the newest 50 and follows next_before_id with "Load older";
    the page it loaded stays through the live refresh."""
    wf = api("POST", "/workflows", {"name": "many-runs", "steps": [{"name": "s", "kind": "noop"}], "triggers": [
        {"trigger_type": "scheduled", "cron_expression": "0 * * * *", "timezone": "UTC"}]})
    backfill = api("POST", f"/workflows/{wf['id']}/triggers/{wf['triggers'][0]['id']}/backfill",
                   {"from": "2024-01-01T00:00:00Z", "to": "2024-01-03T12:00:00Z"})
    assert backfill["created"] == 60, backfill
    page.goto(f"{BASE}/#/executions?workflow_id={wf['id']}")
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(50)
    older = page.get_by_role("button", name="Load older")
    older.focus()
    page.keyboard.press("Enter")
    expect(rows).to_have_count(60)
    expect(older).to_have_count(0)
    expect(rows.nth(50).get_by_role("link").first).to_be_focused()
    # The next live refresh keeps the older page.
    with page.expect_response(lambda r: "/api/executions?" in r.url):
        pass
    with page.expect_response(lambda r: "/api/executions?" in r.url):
        pass
    expect(rows).to_have_count(60)
    ids = [int(i) for i in rows.evaluate_all("rows => rows.map((r) => r.dataset.executionId)")]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 60, ids


def test_workflow_list_paging(page: Page):
    """More workflows than one API page (200): the list shows 100, then more on request, to the last."""
    made = []
    try:
        for n in range(205):
            made.append(api("POST", "/workflows", {"name": f"zz-page-{n:03d}", "steps": [{"name": "s", "kind": "noop"}]})["id"])
        total = api("GET", "/workflows?limit=1")["total"]
        page.goto(f"{BASE}/#/workflows")
        rows = page.locator("tbody tr")
        expect(rows).to_have_count(100)
        more = page.get_by_role("button", name=re.compile(r"^Show more"))
        expect(more).to_have_text(f"Show more ({total - 100} left)")
        more.click()
        expect(rows).to_have_count(200)
        expect(more).to_be_focused()
        more.click()
        expect(rows).to_have_count(total)
        expect(more).to_have_count(0)
        expect(workflow_row(page, "zz-page-204")).to_be_visible()
        page.get_by_role("link", name="Executions", exact=True).first.click()
        expect(page.get_by_label("Workflow").locator("option", has_text="zz-page-204")).to_have_count(1)
    finally:
        for workflow_id in made:
            api("DELETE", f"/workflows/{workflow_id}")


def test_narrow_editing(page: Page):
    """The editing dialogs fit a phone-sized screen."""
    wf = api("POST", "/workflows", {"name": "narrow-edit", "steps": [{"name": "s", "kind": "http", "url": "http://127.0.0.1:9/x"}], "triggers": [
        {"trigger_type": "scheduled", "cron_expression": "0 2 * * *", "timezone": "UTC"}]})
    page.set_viewport_size({"width": 390, "height": 844})
    try:
        page.goto(f"{BASE}/#/workflows/{wf['id']}")
        page.get_by_role("button", name="Edit", exact=True).click()
        expect(dialog(page).locator(".step-editor")).to_have_count(1)
        shot(page, "27-narrow-edit-workflow")
        assert dialog(page).evaluate("d => d.scrollWidth <= d.clientWidth"), "the edit dialog scrolls sideways"
        page.keyboard.press("Escape")
        page.get_by_role("button", name="Backfill…").click()
        expect(dialog(page).get_by_test_id("backfill-preview")).not_to_be_empty()
        shot(page, "28-narrow-backfill")
        assert dialog(page).evaluate("d => d.scrollWidth <= d.clientWidth"), "the backfill dialog scrolls sideways"
        page.keyboard.press("Escape")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a narrow screen ({width}px)"
    finally:
        page.set_viewport_size({"width": 1280, "height": 800})


def test_join_upstreams(page: Page):
    """A dependency trigger over several upstreams, picked as checkboxes (a cycle refused); its
    run's page links each upstream run that counted; edited back to one upstream."""
    noop = [{"name": "s", "kind": "noop"}]
    a = api("POST", "/workflows", {"name": "join-a", "steps": noop})
    b = api("POST", "/workflows", {"name": "join-b", "steps": noop})
    target = api("POST", "/workflows", {"name": "join-target", "steps": noop})
    api("POST", "/workflows", {"name": "join-downstream", "steps": noop,
                               "triggers": [{"trigger_type": "dependency", "depends_on_workflow_id": target["id"]}]})
    page.goto(f"{BASE}/#/workflows/{target['id']}")
    page.get_by_role("button", name="Add trigger").first.click()
    add = dialog(page)
    add.locator('[data-trigger-card="dependency"]').click()
    upstreams = add.get_by_role("group", name="Runs after")
    upstreams.get_by_label("join-downstream — would create a cycle", exact=True).check()
    expect(add.locator("#add-upstream-msg")).to_contain_text("circular dependency: join-downstream → join-target → join-downstream")
    expect(add.get_by_role("button", name="Add trigger")).to_be_disabled()
    upstreams.get_by_label("join-downstream — would create a cycle", exact=True).uncheck()
    upstreams.get_by_label("join-a", exact=True).check()
    upstreams.get_by_label("join-b", exact=True).check()
    expect(add.locator("#add-condition-explain")).to_have_text(
        "Runs once each of “join-a”, “join-b” has completed successfully since this trigger last fired.")
    shot(page, "29-add-join")
    add.get_by_role("button", name="Add trigger").click()
    expect(dialog(page)).to_have_count(0)
    card = page.locator('.trigger-card[data-trigger-type="dependency"]')
    expect(card.get_by_test_id("join-upstreams")).to_contain_text("After each of join-a, join-b")
    trigger = api("GET", f"/workflows/{target['id']}/triggers")["triggers"][0]
    assert trigger["depends_on_workflow_ids"] == [a["id"], b["id"]], trigger

    run_a = api("POST", f"/workflows/{a['id']}/run")
    run_b = api("POST", f"/workflows/{b['id']}/run")
    page.goto(f"{BASE}/#/executions?workflow_id={target['id']}")
    page.locator("tbody tr").first.get_by_role("link", name=re.compile(r"^#\d+$")).click()
    origin = page.get_by_test_id("run-origin")
    expect(origin).to_contain_text("Upstream runs")
    expect(origin.get_by_role("link", name=f"#{run_a['id']}")).to_be_visible()
    expect(origin.get_by_role("link", name=f"#{run_b['id']}")).to_be_visible()
    shot(page, "30-join-run")

    page.goto(f"{BASE}/#/workflows/{target['id']}")
    card.get_by_role("button", name=re.compile(r"^Edit trigger")).click()
    edit = dialog(page)
    upstreams = edit.get_by_role("group", name="Runs after")
    expect(upstreams.get_by_label("join-a", exact=True)).to_be_checked()
    expect(upstreams.get_by_label("join-b", exact=True)).to_be_checked()
    upstreams.get_by_label("join-b", exact=True).uncheck()
    edit.get_by_role("button", name="Save changes").click()
    expect(dialog(page)).to_have_count(0)
    expect(card).to_contain_text("After join-a")
    saved = api("GET", f"/workflows/{target['id']}/triggers/{trigger['id']}")
    assert (saved["depends_on_workflow_id"], saved["depends_on_workflow_ids"]) == (a["id"], [a["id"]]), saved


def test_run_params(page: Page):
    """Run with params… checks the object as the API does, the run's page shows its params (and the
    step read them); Rerun… starts a new run with them prefilled and changed, marked as a rerun."""
    wf = api("POST", "/workflows", {"name": "with-params", "steps": [
        {"name": "show", "kind": "shell", "command": ["sh", "-c", 'echo "region=$FLOWFORGE_PARAM_REGION"']}]})
    page.goto(f"{BASE}/#/workflows/{wf['id']}")
    page.get_by_role("button", name="Run with params…").click()
    form = dialog(page)
    field = form.get_by_label("Parameters")
    expect(field).to_be_focused()
    field.fill('{"1region": "eu"}')
    expect(form.locator("#run-params-msg")).to_contain_text("params.1region")
    expect(form.get_by_role("button", name="Run now")).to_be_disabled()
    field.fill('{"region": "eu", "limit": 100}')
    form.get_by_role("button", name="Run now").click()
    expect(page.get_by_test_id("run-status")).to_have_text("completed")
    params = page.get_by_test_id("run-params")
    assert json.loads(params.inner_text()) == {"region": "eu", "limit": 100}
    expect(page.locator(".output")).to_contain_text("region=eu")
    first = int(re.search(r"#/executions/(\d+)$", page.url).group(1))
    shot(page, "31-run-params")

    page.get_by_role("button", name="Rerun…").click()
    form = dialog(page)
    expect(form.get_by_role("heading", name=f"Rerun #{first}")).to_be_visible()
    assert json.loads(form.get_by_label("Parameters").input_value()) == {"region": "eu", "limit": 100}
    form.get_by_label("Parameters").fill('{"region": "us", "limit": 100}')
    form.get_by_role("button", name="Rerun").click()
    expect(page.get_by_test_id("run-status")).to_have_text("completed")
    expect(page.get_by_test_id("run-origin").get_by_role("link", name=f"#{first}")).to_be_visible()
    expect(page.locator(".output")).to_contain_text("region=us")
    rerun_id = int(re.search(r"#/executions/(\d+)$", page.url).group(1))
    rerun = api("GET", f"/executions/{rerun_id}")
    assert (rerun["rerun_of"], rerun["params"]) == (first, {"region": "us", "limit": 100}), rerun


def test_trigger_params(page: Page):
    """A trigger's default params: added in the dialog, shown on its card, edited."""
    wf = api("POST", "/workflows", {"name": "trigger-params", "steps": [{"name": "s", "kind": "noop"}]})
    page.goto(f"{BASE}/#/workflows/{wf['id']}")
    page.get_by_role("button", name="Add trigger").first.click()
    add = dialog(page)
    add.get_by_text("Default parameters", exact=True).click()
    add.get_by_label("Default parameters (optional)").fill('{"region": "eu", "Region": "us"}')
    expect(add.locator("#add-params-msg")).to_contain_text("differ only in case")
    expect(add.get_by_role("button", name="Add trigger")).to_be_disabled()
    add.get_by_label("Default parameters (optional)").fill('{"region": "eu"}')
    add.get_by_role("button", name="Add trigger").click()
    expect(dialog(page)).to_have_count(0)
    card = page.locator(".trigger-card")
    expect(card.get_by_test_id("trigger-params")).to_have_text('{"region":"eu"}')
    card.get_by_role("button", name=re.compile(r"^Edit trigger")).click()
    edit = dialog(page)
    field = edit.get_by_label("Default parameters (optional)")
    expect(field).to_be_visible()  # open: the trigger has some
    assert json.loads(field.input_value()) == {"region": "eu"}
    field.fill('{"region": "ap", "limit": 5}')
    edit.get_by_role("button", name="Save changes").click()
    expect(card.get_by_test_id("trigger-params")).to_contain_text('"region":"ap"')
    assert json.loads(card.get_by_test_id("trigger-params").inner_text()) == {"region": "ap", "limit": 5}
    trigger = api("GET", f"/workflows/{wf['id']}/triggers")["triggers"][0]
    assert trigger["params"] == {"region": "ap", "limit": 5}, trigger


def test_schedule_options(page: Page):
    """Jitter, an active window in the trigger's zone and a DST policy, in the edit dialog; the
    preview applies them (New York's spring-forward gap, asked from a fixed date)."""
    wf = api("POST", "/workflows", {"name": "schedule-options", "steps": [{"name": "s", "kind": "noop"}], "triggers": [
        {"trigger_type": "scheduled", "cron_expression": "30 2 * * *", "timezone": "America/New_York"}]})
    trigger_id = wf["triggers"][0]["id"]
    page.goto(f"{BASE}/#/workflows/{wf['id']}")
    page.route(re.compile(r"/api/schedule/preview\?"), lambda route: route.continue_(url=route.request.url + "&after=2026-03-07T12%3A00%3A00Z"))
    try:
        page.locator(".trigger-card").get_by_role("button", name=re.compile(r"^Edit trigger")).click()
        form = dialog(page)
        preview = form.get_by_test_id("schedule-preview")
        expect(preview.locator('li[data-dst="true"]')).to_have_count(1)  # the default: moved past the gap
        form.get_by_text("Schedule options: jitter, active window, daylight saving").click()
        form.get_by_label("Clocks go forward (a time that does not exist)").select_option("skip")
        expect(preview.locator('li[data-dst="true"]')).to_have_count(0)
        expect(preview.locator("li time").first).to_have_attribute("datetime", "2026-03-09T06:30:00Z")  # 8 March skipped
        form.get_by_label("Jitter (seconds, 0–3600)").fill("4000")
        expect(form.locator("#edit-options-msg")).to_contain_text("jitter_seconds must be a whole number from 0 to 3600")
        expect(form.get_by_role("button", name="Save changes")).to_be_disabled()
        form.get_by_label("Jitter (seconds, 0–3600)").fill("120")
        form.get_by_label("Active until (optional)").fill("2026-03-12T00:00")
        expect(form.locator("#edit-active-until-utc")).to_have_text("= 2026-03-12T04:00:00Z")
        expect(preview.locator("li")).to_have_count(3)  # 9, 10 and 11 March, then the window ends
        shot(page, "32-schedule-options")
        form.get_by_label("Active until (optional)").fill("")
        form.get_by_label("Active from (optional)").fill("2030-01-01T00:00")
        expect(form.locator("#edit-active-from-utc")).to_have_text("= 2030-01-01T05:00:00Z")
        form.get_by_role("button", name="Save changes").click()
        expect(dialog(page)).to_have_count(0)
    finally:
        page.unroute(re.compile(r"/api/schedule/preview\?"))
    saved = api("GET", f"/workflows/{wf['id']}/triggers/{trigger_id}")
    assert (saved["jitter_seconds"], saved["active_from"], saved["active_until"], saved["dst_policy"]["gap"]) == (
        120, "2030-01-01T05:00:00Z", None, "skip"), saved
    expect(page.locator(".trigger-card").get_by_test_id("schedule-options")).to_contain_text("jitter up to 120 s")
    expect(page.locator(".trigger-card").get_by_test_id("schedule-options")).to_contain_text("DST gap: skip")


# ---------------------------------------------------------------- alerts

class Receiver:
    """A local webhook receiver for alert channels: answers 200 and keeps what it was sent."""

    def __init__(self):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append({"headers": dict(self.headers), "body": body})
                answer = b'{"ok": true, "receiver": "ui-test"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def alerts(self):
        """The real alerts received (not the Test button's), as JSON."""
        return [m for m in (json.loads(r["body"]) for r in self.received) if not m.get("test")]


RECEIVER = None


def receiver():
    global RECEIVER
    if RECEIVER is None:
        RECEIVER = Receiver()
    return RECEIVER


def open_alerts(page: Page, tab: str):
    page.get_by_role("link", name="Alerts", exact=True).first.click()
    expect(page.get_by_role("heading", name="Alerts", level=1)).to_be_visible()
    page.get_by_role("navigation", name="Alerts").get_by_role("link", name=tab, exact=True).click()
    expect(page.get_by_role("heading", name=tab, level=2)).to_be_visible()


def test_alert_channel_and_rule(page: Page):
    """A webhook channel: its secret shown once; the Test button reaches a local receiver and shows
    "delivered" and 200. A rule for one workflow (failed, 3 failures in a row) to that channel is
    listed with its events as chips, and shows on the workflow's page."""
    hook = receiver()
    api("POST", "/workflows", {"name": "alert-target", "steps": [{"name": "fail", "kind": "shell", "command": ["sh", "-c", "echo failing; exit 1"]}]})
    open_alerts(page, "Channels")
    expect(page.get_by_text("No channels yet")).to_be_visible()
    page.get_by_role("button", name="New channel").click()
    form = dialog(page)
    expect(form.locator('[data-channel-kind="webhook"]')).to_have_attribute("aria-checked", "true")
    form.get_by_label("Name", exact=True).fill("ops-hook")
    form.get_by_label("URL", exact=True).fill(hook.url)
    shot(page, "40-alert-channel-create")
    form.get_by_role("button", name="Create channel").click()
    secret = page.locator("#channel-secret")
    expect(secret).to_have_value(re.compile(r"^whsec_[0-9a-f]{64}$"))  # as a webhook trigger's
    shot(page, "41-alert-channel-secret")
    value = secret.input_value()
    dialog(page).get_by_role("button", name="I copied it").click()
    expect(dialog(page)).to_have_count(0)
    row = page.locator("tr[data-channel-id]", has_text="ops-hook")
    expect(row).to_contain_text(hook.url)
    expect(row).to_contain_text("No rule")
    assert value not in page.content(), "the secret is still on the page"

    before = len(hook.received)
    row.get_by_role("button", name="Test channel ops-hook").click()
    result = dialog(page).get_by_test_id("channel-test-result")
    expect(result.get_by_test_id("test-outcome")).to_have_text("delivered")  # not "not delivered"
    expect(result.get_by_test_id("test-status-code")).to_have_text("200")
    expect(result.get_by_test_id("test-response")).to_contain_text('"receiver": "ui-test"')
    shot(page, "42-alert-channel-test")
    dialog(page).get_by_role("button", name="Close").click()
    assert len(hook.received) == before + 1, f"the receiver got {len(hook.received) - before} requests"
    test_message = json.loads(hook.received[-1]["body"])
    assert test_message.get("test") is True, test_message

    page.get_by_role("navigation", name="Alerts").get_by_role("link", name="Rules", exact=True).click()
    expect(page.get_by_text("No alert rules yet")).to_be_visible()
    page.get_by_role("button", name="New rule").click()
    form = dialog(page)
    form.get_by_label("Name", exact=True).fill("alert-target failures")
    form.get_by_label("Only these workflows:").check()
    form.get_by_role("group", name="Workflows").get_by_label("alert-target", exact=True).check()
    expect(form.get_by_label("Failed", exact=True)).to_be_checked()  # the default
    form.get_by_label("Failures in a row", exact=True).check()
    expect(form.get_by_label("Failures in a row: count")).to_have_value("3")
    form.get_by_role("group", name="Channels").get_by_label("ops-hook").check()
    shot(page, "43-alert-rule-create")
    form.get_by_role("button", name="Create rule").click()
    expect(dialog(page)).to_have_count(0)
    rule_row = page.locator("tr[data-rule-id]", has_text="alert-target failures")
    expect(rule_row.locator(".event-chip")).to_have_text(["failed", "3 failures in a row"])
    expect(rule_row).to_contain_text("ops-hook")
    expect(rule_row.get_by_role("link", name="alert-target")).to_be_visible()
    expect(rule_row.get_by_role("switch")).to_have_attribute("aria-checked", "true")
    shot(page, "44-alert-rules")
    rule = next(r for r in api("GET", "/alert-rules")["alert_rules"] if r["name"] == "alert-target failures")
    assert rule["events"] == [{"type": "failed"}, {"type": "consecutive_failures", "count": 3}], rule

    # Disabled and enabled again with its switch.
    rule_row.get_by_role("switch").click()
    expect(rule_row.get_by_role("switch")).to_have_attribute("aria-checked", "false")
    rule_row.get_by_role("switch").click()
    expect(rule_row.get_by_role("switch")).to_have_attribute("aria-checked", "true")

    # The channel lists the rule that uses it.
    page.get_by_role("navigation", name="Alerts").get_by_role("link", name="Channels", exact=True).click()
    expect(page.locator("tr[data-channel-id]", has_text="ops-hook")).to_contain_text("alert-target failures")

    # The workflow's page: the rules that cover it.
    page.get_by_role("link", name="Workflows", exact=True).first.click()
    page.get_by_role("link", name="alert-target", exact=True).click()
    rules = page.get_by_test_id("workflow-alert-rules")
    expect(rules).to_contain_text("alert-target failures")
    expect(rules.locator(".event-chip")).to_have_text(["failed", "3 failures in a row"])
    expect(page.get_by_test_id("workflow-alerts")).to_contain_text("No alerts yet")
    expect(page.get_by_role("link", name="Alerts page →")).to_have_attribute("href", re.compile(r"#/alerts/history\?workflow_id=\d+$"))


def test_alert_errors(page: Page):
    """The API's 400 shows under the field it names (a Slack URL that is not https); a channel that
    a rule uses is not deleted, and the 409's sentence names the rule."""
    open_alerts(page, "Channels")
    page.get_by_role("button", name="New channel").click()
    form = dialog(page)
    form.locator('[data-channel-kind="slack"]').click()
    form.get_by_label("Name", exact=True).fill("team-slack")
    form.get_by_label("Incoming-webhook URL (https)").fill("http://hooks.slack.com/services/T000/B000/XXXX")
    form.get_by_role("button", name="Create channel").click()
    expect(form.locator("#ch-url-msg")).to_contain_text("https")
    expect(form.locator("#ch-url-msg")).to_have_class(re.compile(r"\berror\b"))
    expect(form.locator("#ch-form-msg")).to_be_empty()
    shot(page, "45-alert-channel-400")

    # Email: the fields of its kind; a port out of range is named too.
    form.locator('[data-channel-kind="email"]').click()
    expect(form.get_by_label("Port")).to_have_attribute("placeholder", "587")
    form.get_by_label("Security").select_option("tls")
    expect(form.get_by_label("Port")).to_have_attribute("placeholder", "465")
    form.get_by_label("SMTP host").fill("smtp.example.com")
    form.get_by_label("Port").fill("70000")
    form.get_by_label("From").fill("flowforge@example.com")
    form.get_by_label("To", exact=True).fill("a@example.com,\nb@example.com")
    form.get_by_role("button", name="Create channel").click()
    expect(form.locator("#ch-port-msg")).to_contain_text("port")
    shot(page, "46-alert-channel-email-400")
    form.get_by_role("button", name="Cancel").click()
    expect(page.locator("tr[data-channel-id]", has_text="team-slack")).to_have_count(0)

    row = page.locator("tr[data-channel-id]", has_text="ops-hook")
    row.get_by_role("button", name="Delete channel ops-hook").click()
    dialog(page).get_by_role("button", name="Delete").click()
    problem = page.get_by_test_id("channels-error")
    expect(problem).to_contain_text("alert-target failures")
    expect(problem).to_contain_text("ops-hook")
    expect(row).to_be_visible()
    shot(page, "47-alert-channel-in-use")


def test_alert_history(page: Page):
    """A failing run raises an alert that is delivered to the receiver; history shows it with its
    delivery, opens its attempts, filters, and pages back with Load older; the workflow's page
    lists it. Three failures in a row raise that event too."""
    hook = receiver()
    page.get_by_role("link", name="Workflows", exact=True).first.click()
    page.get_by_role("link", name="alert-target", exact=True).click()
    page.get_by_role("button", name="Run now").click()
    expect(page.get_by_test_id("run-status")).to_have_text("failed")
    run_id = int(re.search(r"#/executions/(\d+)$", page.url).group(1))

    open_alerts(page, "History")
    row = page.locator("tr[data-alert-id]", has=page.get_by_role("link", name=f"#{run_id}", exact=True))
    expect(row).to_contain_text("alert-target failures")
    expect(row.get_by_role("link", name="alert-target", exact=True)).to_have_attribute("href", re.compile(r"#/workflows/\d+$"))
    expect(row.locator(".event-chip")).to_have_text("failed")
    delivery = row.locator(".deliveries li", has_text="ops-hook")
    expect(delivery.locator("[data-status]")).to_have_text("delivered")
    expect(delivery).to_contain_text("1 attempt")
    shot(page, "48-alert-history")
    received = [m for m in hook.alerts() if m["execution"]["id"] == run_id]
    assert len(received) == 1 and received[0]["event"] == "failed", received

    row.locator("button.alert-open").click()
    details = dialog(page).get_by_test_id("alert-details")
    expect(details.locator(".delivery-detail")).to_contain_text("ops-hook")
    attempt = details.locator(".attempts-table tbody tr")
    expect(attempt).to_have_count(1)
    expect(attempt).to_contain_text("delivered")
    expect(attempt).to_contain_text("200")
    expect(details).to_contain_text(received[0]["idempotency_key"])
    shot(page, "49-alert-attempts")
    dialog(page).get_by_role("button", name="Done").click()

    # Two more failures: the third in a row raises "3 failures in a row" as well.
    workflow_id = received[0]["workflow"]["id"]
    for _ in range(2):
        run = api("POST", f"/workflows/{workflow_id}/run")
        for _ in range(300):
            if api("GET", f"/executions/{run['id']}")["status"] == "failed":
                break
            time.sleep(0.1)
    streak = page.locator("tr[data-alert-id]", has=page.locator(".event-chip", has_text="3 failures in a row"))
    expect(streak).to_have_count(1)
    expect(streak.locator(".deliveries [data-status]")).to_have_text("delivered")
    expect(page.locator("tr[data-alert-id]")).to_have_count(4)

    # Filters: by outcome and by rule, kept in the address.
    page.get_by_label("Outcome").select_option("failed")
    expect(page.get_by_text("No alerts match these filters")).to_be_visible()
    expect(page).to_have_url(re.compile(r"#/alerts/history\?outcome=failed$"))
    page.get_by_label("Outcome").select_option("delivered")
    expect(page.locator("tr[data-alert-id]")).to_have_count(4)
    page.get_by_label("Rule").select_option(label="alert-target failures")
    expect(page.locator("tr[data-alert-id]")).to_have_count(4)
    page.get_by_label("Outcome").select_option("")
    page.get_by_label("Rule").select_option("")

    # Load older, with pages of 3 (the request goes on to the real API).
    page.route(re.compile(r"/api/alerts\?.*limit=50"), lambda route: route.continue_(url=route.request.url.replace("limit=50", "limit=3")))
    try:
        page.reload()
        rows = page.locator("tr[data-alert-id]")
        expect(rows).to_have_count(3)
        older = page.get_by_role("button", name="Load older")
        older.click()
        expect(rows).to_have_count(4)
        expect(older).to_have_count(0)
    finally:
        page.unroute(re.compile(r"/api/alerts\?.*limit=50"))

    # The workflow's page: its last alerts, newest first.
    page.goto(f"{BASE}/#/workflows/{workflow_id}")
    last = page.get_by_test_id("workflow-alerts").locator("tr[data-alert-id]")
    expect(last).to_have_count(4)
    expect(last.first.locator(".event-chip")).to_have_text(re.compile(r"failed|3 failures in a row"))
    shot(page, "50-workflow-alerts")


def test_alert_narrow(page: Page):
    """The Alerts page and the rule dialog fit a phone-sized screen."""
    page.set_viewport_size({"width": 390, "height": 844})
    try:
        open_alerts(page, "Rules")
        expect(page.locator("tr[data-rule-id]")).to_have_count(1)
        shot(page, "51-narrow-alert-rules")
        page.locator("tr[data-rule-id]").get_by_role("button", name=re.compile(r"^Edit rule")).click()
        expect(dialog(page).get_by_role("group", name="Workflows").get_by_label("alert-target", exact=True)).to_be_checked()
        shot(page, "52-narrow-alert-rule-edit")
        assert dialog(page).evaluate("d => d.scrollWidth <= d.clientWidth"), "the rule dialog scrolls sideways"
        page.keyboard.press("Escape")
        page.get_by_role("navigation", name="Alerts").get_by_role("link", name="History", exact=True).click()
        expect(page.locator("tr[data-alert-id]").first).to_be_visible()
        shot(page, "53-narrow-alert-history")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a narrow screen ({width}px)"
    finally:
        page.set_viewport_size({"width": 1280, "height": 800})


TESTS = [test_sign_in, test_flow_no_trigger, test_flow_scheduled, test_flow_dependency_and_cycle,
         test_add_toggle_delete_trigger, test_run_now, test_cancel, test_graph, test_keyboard, test_narrow_screen,
         test_webhook_secret_shown_once, test_pause_resume, test_file_arrival_settings, test_live_output,
         test_edit_workflow, test_edit_triggers, test_rotate_secret, test_backfill, test_event_payload, test_load_older,
         test_workflow_list_paging, test_narrow_editing, test_join_upstreams, test_run_params, test_trigger_params,
         test_schedule_options, test_alert_channel_and_rule, test_alert_errors, test_alert_history, test_alert_narrow]


def main():
    # run.sh stops the tests with SIGTERM; leaving through SystemExit closes the browser on the way.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.makedirs(OUT, exist_ok=True)
    problems = []
    started = time.monotonic()
    tests = [t for t in TESTS if t is test_sign_in or not ONLY or any(name in t.__name__ for name in ONLY)]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=not HEADED,
                                    args=["--no-sandbox", "--disable-dev-shm-usage"])
        context = browser.new_context(viewport={"width": 1280, "height": 800}, timezone_id=VIEWER_ZONE, locale="en-GB")
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("console", lambda message: problems.append(f"console: {message.text}")
                if message.type == "error" and "Content Security Policy" in message.text else None)
        failed = None
        for test in tests:
            t0 = time.monotonic()
            try:
                test(page, context) if test is test_sign_in else test(page)
                print(f"ok    {test.__name__} ({time.monotonic() - t0:.1f} s)", flush=True)
            except Exception:
                failed = test.__name__
                print(f"FAIL  {test.__name__} ({time.monotonic() - t0:.1f} s)", flush=True)
                traceback.print_exc()
                try:
                    shot(page, f"FAILED-{test.__name__}")
                except Exception:
                    pass
                break
        browser.close()
    for problem in problems:
        print(f"FAIL  {problem}")
    total = time.monotonic() - started
    if failed or problems:
        print(f"web UI tests failed after {total:.0f} s; screenshots in {OUT}")
        sys.exit(1)
    print(f"web UI: {len(tests)} tests passed in {total:.0f} s; screenshots in {OUT}")


if __name__ == "__main__":
    main()
