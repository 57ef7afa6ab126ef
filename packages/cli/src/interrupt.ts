/**
 * Signals while an output is being written: Node's default would end the process at once and leave
 * the hidden staging folder (or temporary file) behind. While any exists, every terminating signal a
 * process can handle removes them all and exits with 128 + the signal number, as a shell expects.
 *
 * Not handled: SIGKILL and SIGSTOP (no process can), SIGUSR1 (Node's debugger signal, which does not
 * end it), SIGPIPE (Node ignores it), and SIGSEGV/SIGBUS/SIGFPE/SIGILL (raised by a crash, after which
 * running JavaScript is unsafe). What those leave behind carries our marker, and the next run that
 * writes to the same place removes it (output-dir.ts).
 */
import { rmSync } from 'node:fs';
import { constants } from 'node:os';

/** Signals whose default action ends the process and that Node lets JavaScript handle. */
const TERMINATING = [
  'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGUSR2', 'SIGALRM', 'SIGVTALRM', 'SIGPROF', 'SIGXCPU', 'SIGXFSZ',
  'SIGIO', 'SIGPOLL', 'SIGPWR', 'SIGSTKFLT', 'SIGSYS', 'SIGTRAP', 'SIGABRT', 'SIGBREAK', 'SIGLOST', 'SIGINFO',
] as const;

const numberOf = (name: string): number | undefined => (constants.signals as Record<string, number | undefined>)[name];

/** The signals of TERMINATING this platform has, one name per number (SIGIO and SIGPOLL are one signal). */
export const HANDLED_SIGNALS: NodeJS.Signals[] = TERMINATING.filter(
  (name, i) => numberOf(name) !== undefined && TERMINATING.findIndex((other) => numberOf(other) === numberOf(name)) === i,
);

const staging = new Set<string>();

function onSignal(signal: NodeJS.Signals): void {
  for (const path of staging) rmSync(path, { recursive: true, force: true });
  process.stderr.write(`\nwebchuan: interrupted by ${signal}; the unfinished output was removed\n`);
  process.exit(128 + (numberOf(signal) ?? 0));
}

/** Removes `path` (a folder or a file) if the process is interrupted before the returned function is called. */
export function removeIfInterrupted(path: string): () => void {
  if (staging.size === 0) for (const signal of HANDLED_SIGNALS) process.on(signal, onSignal);
  staging.add(path);
  return () => {
    if (!staging.delete(path) || staging.size > 0) return;
    for (const signal of HANDLED_SIGNALS) process.off(signal, onSignal);
  };
}
