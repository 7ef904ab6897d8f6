"""A DOM audit run in the page: labels, accessible names, alt text, and nothing inline."""

from __future__ import annotations

from playwright.sync_api import Page

AUDIT_JS = """() => {
  const problems = [];
  const describe = (el) => el.outerHTML.slice(0, 120);
  const named = (el) => (el.textContent ?? '').trim() || el.getAttribute('aria-label')
    || el.getAttribute('aria-labelledby');
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden') continue;
    const labelled = el.labels?.length || el.getAttribute('aria-label')
      || el.getAttribute('aria-labelledby');
    if (!labelled) {
      problems.push('unlabelled control: ' + describe(el));
    }
  }
  for (const el of document.querySelectorAll('button, a[href], summary')) {
    if (!named(el)) problems.push('no accessible name: ' + describe(el));
  }
  for (const el of document.querySelectorAll('img')) {
    if (!el.hasAttribute('alt')) problems.push('image without alt: ' + describe(el));
  }
  for (const el of document.querySelectorAll('*')) {
    if (el.hasAttribute('style')) problems.push('style attribute: ' + describe(el));
    for (const a of el.attributes) {
      if (/^on/i.test(a.name)) problems.push('inline handler: ' + describe(el));
    }
  }
  for (const el of document.querySelectorAll('script')) {
    if (!el.src) problems.push('inline script');
  }
  if (document.querySelector('style')) problems.push('inline style element');
  if (!document.documentElement.lang) problems.push('no lang on html');
  if (!document.querySelector('h1')) problems.push('no h1');
  return problems;
}"""


def audit(page: Page, screen: str) -> list[str]:
    """Problems found on the current screen, each prefixed with the screen's name."""
    return [f"{screen}: {p}" for p in page.evaluate(AUDIT_JS)]
