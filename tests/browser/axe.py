"""axe-core in the page: the vendored axe.min.js (vendor/axe-core/, MPL-2.0) is run through
Playwright's `evaluate`, so no `<script>` tag is added and the app's strict CSP stays as it is."""

from __future__ import annotations

import functools
import hashlib
import re
from pathlib import Path

from playwright.sync_api import Page

VENDOR = Path(__file__).parent / "vendor" / "axe-core"
AXE_JS = VENDOR / "axe.min.js"
# WCAG 2.0/2.1 A and AA (colour contrast included) and axe's best practices.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
RUN_JS = """async (tags) => {
  const result = await axe.run(document, { runOnly: { type: 'tag', values: tags },
                                           resultTypes: ['violations', 'incomplete'] });
  const line = (v) => v.id + ': ' + v.nodes.map((n) => n.target.join(' ')
    + (n.failureSummary ? ' (' + n.failureSummary.replace(/\\s+/g, ' ').slice(0, 200) + ')' : ''))
    .join('; ');
  const violations = result.violations.map(line);
  const contrastUnsure = [];
  const reason = (n) => ((n.any[0] || {}).data || {}).messageKey || 'unknown';
  for (const node of result.incomplete.filter((v) => v.id === 'color-contrast')
    .flatMap((v) => v.nodes)) {
    // Text scrolled under the sticky write box or header: axe cannot see its background there.
    // Bring it to the middle of the screen and ask again about that node alone.
    const target = node.target.join(' ');
    // An empty text field has no text whose contrast could fail (its placeholder, if any, is
    // checked when shown); axe reports it as undecided only while it is empty.
    if (reason(node) === 'emptyValue') continue;
    const el = document.querySelector(target);
    if (reason(node) === 'bgOverlap' && el) {
      el.scrollIntoView({ block: 'center' });
      const again = await axe.run({ include: [node.target] },
        { runOnly: { type: 'rule', values: ['color-contrast'] },
          resultTypes: ['violations', 'incomplete'] });
      violations.push(...again.violations.map(line));
      contrastUnsure.push(...again.incomplete.flatMap((v) => v.nodes)
        .map((n) => n.target.join(' ') + ' [' + reason(n) + ']'));
    } else {
      contrastUnsure.push(target + ' [' + reason(node) + ']');
    }
  }
  window.scrollTo(0, 0);
  return { violations, contrastUnsure };
}"""


@functools.cache
def axe_source() -> str:
    """axe.min.js, checked against the SHA-256 recorded in SOURCES.md."""
    data = AXE_JS.read_bytes()
    recorded = re.search(r"axe\.min\.js.*?SHA-256 ([0-9a-f]{64})",
                         (VENDOR / "SOURCES.md").read_text(encoding="utf-8"), re.S)
    assert recorded, "SOURCES.md names no SHA-256 for axe.min.js"
    assert hashlib.sha256(data).hexdigest() == recorded.group(1), "axe.min.js is not the one named"
    return data.decode("utf-8")


def axe(page: Page, screen: str, unsure: list[str] | None = None) -> list[str]:
    """axe's violations on the current screen, each prefixed with the screen's name. Nodes whose
    contrast axe could not decide (text over an image or a gradient) go to `unsure`."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source() + "\n;undefined")
    found = page.evaluate(RUN_JS, TAGS)
    if unsure is not None:
        unsure += [f"{screen}: {n}" for n in found["contrastUnsure"]]
    return [f"{screen}: axe {v}" for v in found["violations"]]
