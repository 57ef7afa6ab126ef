/**
 * Ctrl-C (SIGINT), SIGTERM and SIGHUP while an artifact is being written: Node's default would end the
 * process at once and leave the hidden staging folder behind. While any staging folder exists, these
 * signals remove them all and exit with 128 + the signal number, as a shell expects.
 */
import { rmSync } from 'node:fs';

const EXIT_CODES = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
type HandledSignal = keyof typeof EXIT_CODES;

const staging = new Set<string>();

function onSignal(signal: HandledSignal): void {
  for (const folder of staging) rmSync(folder, { recursive: true, force: true });
  process.stderr.write(`\nwebchuan: interrupted by ${signal}; the unfinished output was removed\n`);
  process.exit(EXIT_CODES[signal]);
}

/** Removes `folder` if the process is interrupted before the returned function is called. */
export function removeIfInterrupted(folder: string): () => void {
  if (staging.size === 0) for (const signal of Object.keys(EXIT_CODES) as HandledSignal[]) process.on(signal, onSignal);
  staging.add(folder);
  return () => {
    if (!staging.delete(folder) || staging.size > 0) return;
    for (const signal of Object.keys(EXIT_CODES) as HandledSignal[]) process.off(signal, onSignal);
  };
}
