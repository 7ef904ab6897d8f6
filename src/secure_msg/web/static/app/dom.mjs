/**
 * Building DOM without markup strings: every piece of user content goes in as a text node
 * (textContent), never through innerHTML, so decrypted text can never become code.
 */

/**
 * h('button', {class: 'primary', onclick: fn, 'aria-label': '…'}, 'text', childNode)
 * @param {string} tag
 * @param {Record<string, any> | null} [attrs]
 * @param {...(Node | string | number | null | undefined | false | Array<any>)} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (name === 'class') el.className = value;
    else if (name === 'for') el.htmlFor = value;
    else if (name === 'value') el.value = value;
    else if (name === 'checked' || name === 'disabled' || name === 'hidden' || name === 'required') el[name] = Boolean(value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

/** @param {Node} parent @param {any[]} children */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace all children of `el`. @param {Element} el @param {...any} children */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

let ids = 0;
/** A unique id for label/input pairs. @param {string} prefix */
export const uid = (prefix = 'f') => `${prefix}-${++ids}`;

/**
 * A labelled form field. @param {string} label @param {Record<string, any>} attrs for the input
 * @param {{hint?: string, tag?: string, options?: [string, string][]}} [more]
 */
export function field(label, attrs, more = {}) {
  const id = uid();
  const hintId = more.hint ? `${id}-hint` : undefined;
  const tag = more.tag ?? 'input';
  const control = h(tag, { id, 'aria-describedby': hintId, ...attrs },
    (more.options ?? []).map(([value, text]) => h('option', { value }, text)));
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    more.hint ? h('p', { id: hintId, class: 'hint' }, more.hint) : null,
    control);
}

/** A checkbox with its label after it. @param {string} label @param {Record<string, any>} attrs */
export function checkbox(label, attrs) {
  const id = uid('c');
  return h('div', { class: 'check' }, h('input', { id, type: 'checkbox', ...attrs }), h('label', { for: id }, label));
}

/** Say something to screen readers through the page's polite live region. @param {string} text */
export function announce(text) {
  const region = document.getElementById('announcer');
  if (!region) return;
  region.textContent = '';
  setTimeout(() => { region.textContent = text; }, 50);
}
