/** The usage: asked for (`--help`, `-h`, `help`, or a command's `--help`), it is the answer on stdout; an unknown command is an error. */
import { describe, expect, it } from 'vitest';
import { runCli } from './cli-run.js';

describe('webchuan usage', () => {
  it.each(['--help', '-h', 'help', 'generate --help'])('`webchuan %s` prints the usage on stdout and exits 0, running nothing', async (args) => {
    const r = await runCli(...args.split(' '));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^webchuan <command>/);
    expect(r.stderr).toBe('');
  });

  it('an unknown command exits 2, naming it, with the usage on stderr', async () => {
    const r = await runCli('frob');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('unknown command "frob"');
  });
});
