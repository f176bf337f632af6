import { h } from './dom.ts';

export interface VirtualListOptions {
  rowHeight: number;
  /** Rows drawn beyond each edge of the view, so fast scrolling shows no gaps. */
  overscan: number;
  /** Fills a row element for the item at `index` (called again whenever the row must be redrawn). */
  render(index: number, row: HTMLElement): void;
  /** The rows on screen changed: [first, last] inclusive, or null when there are none. */
  onRange(range: [number, number] | null): void;
}

/**
 * A list that keeps only the rows on screen in the DOM: a spacer as tall as every row together,
 * and a small pool of absolutely positioned row elements moved and refilled as it scrolls.
 */
export class VirtualList {
  readonly element: HTMLDivElement;
  private readonly spacer: HTMLDivElement;
  private readonly rows = new Map<number, HTMLElement>();
  private count = 0;
  private range: [number, number] | null = null;
  private frame = 0;
  private readonly resize: ResizeObserver;

  constructor(private readonly options: VirtualListOptions) {
    this.spacer = h('div', { class: 'vlist-spacer' });
    this.element = h('div', { class: 'vlist', role: 'list', tabindex: 0 }, this.spacer);
    this.element.addEventListener('scroll', () => this.schedule(), { passive: true });
    this.resize = new ResizeObserver(() => this.schedule());
    this.resize.observe(this.element);
  }

  setCount(count: number): void {
    this.count = count;
    this.spacer.style.height = `${count * this.options.rowHeight}px`;
    this.schedule();
  }

  /** Redraws the row at `index` if it is on screen, or every row on screen. */
  refresh(index?: number): void {
    if (index === undefined) for (const [at, row] of this.rows) this.options.render(at, row);
    else {
      const row = this.rows.get(index);
      if (row) this.options.render(index, row);
    }
  }

  scrollToTop(): void {
    this.element.scrollTop = 0;
    this.schedule();
  }

  dispose(): void {
    cancelAnimationFrame(this.frame);
    this.resize.disconnect();
  }

  private schedule(): void {
    cancelAnimationFrame(this.frame);
    this.frame = requestAnimationFrame(() => this.draw());
  }

  private draw(): void {
    const { rowHeight, overscan } = this.options;
    const top = this.element.scrollTop;
    const height = this.element.clientHeight;
    const first = Math.max(0, Math.floor(top / rowHeight) - overscan);
    const last = Math.min(this.count - 1, Math.ceil((top + height) / rowHeight) + overscan);
    for (const [index, row] of this.rows) {
      if (index < first || index > last) {
        row.remove();
        this.rows.delete(index);
      }
    }
    for (let index = first; index <= last; index++) {
      if (this.rows.has(index)) continue;
      const row = h('div', { class: 'vrow', role: 'listitem' });
      row.style.transform = `translateY(${index * rowHeight}px)`;
      row.style.height = `${rowHeight}px`;
      this.options.render(index, row);
      this.spacer.appendChild(row);
      this.rows.set(index, row);
    }
    const visibleFirst = Math.floor(top / rowHeight);
    const visibleLast = Math.min(this.count - 1, Math.ceil((top + height) / rowHeight) - 1);
    const range: [number, number] | null = this.count === 0 || visibleLast < visibleFirst ? null : [visibleFirst, visibleLast];
    if (range?.[0] !== this.range?.[0] || range?.[1] !== this.range?.[1]) {
      this.range = range;
      this.options.onRange(range);
    }
  }
}
