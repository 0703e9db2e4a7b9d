import cliProgress from "cli-progress";

/** Library functions report progress through this callback; they never print. */
export type ProgressFn = (done: number, total: number, label?: string) => void;

export const noProgress: ProgressFn = () => {};

/**
 * A CLI progress reporter on stderr: a live bar (done/total, rate, ETA) on a terminal, and a
 * line every few seconds otherwise (CI logs, pipes), so long jobs are never silent.
 */
export function progressReporter(title: string, opts: { quiet?: boolean } = {}): { update: ProgressFn; stop: () => void } {
  if (opts.quiet) return { update: noProgress, stop: () => {} };
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${title} [{bar}] {value}/{total} {percentage}% | {rate}/s | ETA {eta_formatted} {label}`,
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    const start = Date.now();
    let started = false;
    return {
      update(done, total, label = "") {
        const rate = (done / Math.max((Date.now() - start) / 1000, 1e-3)).toFixed(1);
        if (!started) {
          bar.start(total, done, { rate, label });
          started = true;
        } else {
          bar.setTotal(total);
          bar.update(done, { rate, label });
        }
      },
      stop: () => {
        if (started) bar.stop();
      },
    };
  }
  const start = Date.now();
  let last = 0;
  let lastDone = -1;
  let lastTotal = 0;
  return {
    update(done, total, label = "") {
      const now = Date.now();
      lastDone = done;
      lastTotal = total;
      if (now - last < 5000 && done < total) return;
      last = now;
      const secs = (now - start) / 1000;
      const rate = done / Math.max(secs, 1e-3);
      const eta = rate > 0 ? (total - done) / rate : 0;
      process.stderr.write(`${title}: ${done}/${total} (${rate.toFixed(1)}/s, ETA ${eta.toFixed(0)}s) ${label}\n`);
    },
    stop() {
      if (lastDone >= 0 && lastDone < lastTotal) process.stderr.write(`${title}: stopped at ${lastDone}/${lastTotal}\n`);
    },
  };
}
