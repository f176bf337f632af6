/// <reference lib="dom" />
// Small DOM helpers: elements from tag, properties and children; no framework, no HTML strings
// (so nothing user-supplied is ever parsed as markup, and the page needs no 'unsafe-inline').

export type Child = Node | string | number | null | undefined | false | readonly Child[];
type Props = Record<string, string | number | boolean | null | undefined | EventListener>;

function append(parent: Node, children: readonly Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

function assign(element: Element, props: Props | undefined): void {
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(name.replace(/^on/, '').toLowerCase(), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
}

/** An HTML element: `h('a', { href: '#/', class: 'x', onClick: go }, 'text', child)`. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props?: Props, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  assign(element, props);
  append(element, children);
  return element;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element, as `h` does HTML ones. */
export function s<K extends keyof SVGElementTagNameMap>(tag: K, props?: Props, ...children: Child[]): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG_NS, tag);
  assign(element, props);
  append(element, children);
  return element;
}

/** Replaces an element's children. */
export function fill(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

/** Briefly marks an element as changed (a CSS animation); restarts if it was already running. */
export function flash(element: Element): void {
  element.classList.remove('flash');
  // Reading layout restarts the animation on the next add.
  void (element as HTMLElement).offsetWidth;
  element.classList.add('flash');
}
