/**
 * The demo's steps: each one runs once, prints one line (✔/✘, name, a short detail) and is
 * skipped (and counted as failed) when a step it needs did not pass.
 */
import { BackendError } from '../../client/miniprogram';

/** A check of a step did not hold; the message is what the user sees. */
export class StepFailure extends Error {}

export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new StepFailure(message);
}

export interface StepResult {
  name: string;
  status: 'passed' | 'failed' | 'skipped';
  detail: string;
  ms: number;
}

const color = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: number, s: string) => (color ? `\u001b[${code}m${s}\u001b[0m` : s);
export const green = (s: string) => paint(32, s);
export const red = (s: string) => paint(31, s);
export const dim = (s: string) => paint(2, s);

const NAME_WIDTH = 34;

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function line(mark: string, name: string, detail: string): string {
  return `${mark} ${name.padEnd(NAME_WIDTH)} ${detail}`;
}

export class Report {
  readonly results: StepResult[] = [];
  private readonly started = Date.now();
  private aborted = false;

  /** Interrupted: steps not yet started are not run, and not printed. */
  abort(): void {
    this.aborted = true;
  }

  private find(name: string): StepResult | undefined {
    return this.results.find(r => r.name === name);
  }

  /**
   * Runs `fn` unless a step of `needs` did not pass. `fn` returns the detail to print, or throws
   * (a StepFailure for a check that did not hold, anything else for an unexpected error).
   */
  async step(name: string, needs: string[], fn: () => Promise<string>): Promise<boolean> {
    if (this.aborted) return false;
    const missing = needs.filter(n => this.find(n)?.status !== 'passed');
    if (missing.length > 0) {
      const result: StepResult = { name, status: 'skipped', detail: `not run: needs "${missing.join('", "')}"`, ms: 0 };
      this.results.push(result);
      console.log(line(red('✘'), name, result.detail));
      return false;
    }
    const t0 = Date.now();
    try {
      const detail = await fn();
      if (this.aborted) return false;
      const ms = Date.now() - t0;
      this.results.push({ name, status: 'passed', detail, ms });
      console.log(line(green('✔'), name, `${detail} ${dim(`· ${formatMs(ms)}`)}`));
      return true;
    } catch (err) {
      if (this.aborted) return false;
      const ms = Date.now() - t0;
      const e = err as Error;
      const detail = e instanceof StepFailure ? e.message
        : e instanceof BackendError ? `the client's ${e.reason}: ${e.message}`
          : `unexpected ${e?.name ?? 'error'}: ${e?.message ?? e}`;
      this.results.push({ name, status: 'failed', detail, ms });
      console.log(line(red('✘'), name, `${detail} ${dim(`· ${formatMs(ms)}`)}`));
      return false;
    }
  }

  /** Marks steps that could not run at all (e.g. the stack did not start). */
  notRun(names: string[], why: string): void {
    for (const name of names) {
      this.results.push({ name, status: 'skipped', detail: why, ms: 0 });
      console.log(line(red('✘'), name, `not run: ${why}`));
    }
  }

  get passed(): number {
    return this.results.filter(r => r.status === 'passed').length;
  }

  get failed(): number {
    return this.results.length - this.passed;
  }

  summary(): string {
    const skipped = this.results.filter(r => r.status === 'skipped').length;
    const notRun = skipped > 0 ? ` (${skipped} of them not run)` : '';
    return `${this.passed} passed, ${this.failed} failed${notRun} · total ${formatMs(Date.now() - this.started)}`;
  }
}
