// A one-line progress bar on a terminal's standard error: bytes read, incidents found, speed.
// It appears only when a scan lasts (small inputs finish before it would), and is redrawn at most
// ten times a second so that drawing costs nothing next to scanning.
import type { Progress } from './run.js';

const SHOW_AFTER_MS = 400;
const REDRAW_MS = 100;
const WIDTH = 24;

const size = (n: number) =>
  n >= 1 << 30
    ? `${(n / (1 << 30)).toFixed(2)} GB`
    : n >= 1 << 20
      ? `${(n / (1 << 20)).toFixed(1)} MB`
      : `${(n / 1024).toFixed(0)} kB`;

export class ProgressBar {
  private readonly started = performance.now();
  private drawn = 0;
  private visible = false;

  constructor(private readonly out: NodeJS.WriteStream) {}

  update(p: Progress): void {
    const now = performance.now();
    if (now - this.started < SHOW_AFTER_MS || now - this.drawn < REDRAW_MS) return;
    this.drawn = now;
    const speed = p.bytes / (1 << 20) / ((now - this.started) / 1000);
    const done = p.total ? Math.min(1, p.bytes / p.total) : undefined;
    const bar =
      done === undefined
        ? ''
        : `${'█'.repeat(Math.round(done * WIDTH)).padEnd(WIDTH, '░')} ${Math.floor(done * 100)}% `;
    const file = p.file.length > 30 ? `…${p.file.slice(-29)}` : p.file;
    const line = `${bar}${size(p.bytes)}${p.total ? ` / ${size(p.total)}` : ''} · ${p.incidents.toLocaleString('en-US')} incidents · ${speed.toFixed(0)} MB/s · ${file}`;
    this.out.write(`\r${line.slice(0, (this.out.columns || 100) - 1)}\x1b[K`);
    this.visible = true;
  }

  /** Clears the line, before anything else is written to the terminal. */
  clear(): void {
    if (!this.visible) return;
    this.out.write('\r\x1b[K');
    this.visible = false;
  }
}
