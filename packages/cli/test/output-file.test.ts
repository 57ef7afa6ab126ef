/**
 * Files a command writes besides artifacts (`eval --out`): never over or inside the model or the
 * dataset it reads, never into a model artifact's folder, never through a symlink or over anything
 * but a regular file, over a file that is not ours only with --force, and atomically. The refusals
 * run through the real CLI (they come before the evaluation, so no GPU is needed); the writer
 * itself is checked directly. And scratch files live in private temporary folders: a symlink planted
 * where an older version put its temporary file is never written through.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutputPathError } from '../../sdk/src/errors.js';
import { REPO_ROOT, tempDir } from '../../sdk/test/helpers.js';
import { jsonObjectWith, writeOutputFile, type OutputFileOptions } from '../src/output-file.js';
import { tinyBaichuanConfig, writeRandomModel } from '../src/random-model.js';
import { tinyTokenizerPieces } from '../src/tiny-tokenizer.js';
import { BIN, runCli, snapshot } from './cli-run.js';

const dir = tempDir();
const model = join(dir.path, 'model');
const other = join(dir.path, 'other-model');
const data = join(REPO_ROOT, 'models/poetry/data/quiz');

beforeAll(async () => {
  const config = tinyBaichuanConfig({ vocabSize: tinyTokenizerPieces().length });
  await writeRandomModel(model, config, 'q0f32', 3, 'tiny');
  await writeRandomModel(other, config, 'q0f32', 4, 'tiny');
});
afterAll(() => dir.remove());

/** `eval --out out` must be refused: exit 1, the message, and nothing changed where it looked. */
async function expectRefused(out: string, message: RegExp, watch: string[], ...extra: string[]): Promise<void> {
  const before = watch.map(snapshot);
  const result = await runCli('eval', '--model', model, '--data', data, '--limit', '1', '--out', out, ...extra);
  expect(result.code, result.stderr).toBe(1);
  expect(result.stderr).toMatch(message);
  expect(result.stderr).not.toMatch(/evaluating/); // refused before the evaluation started
  expect(watch.map(snapshot)).toEqual(before);
}

describe('eval --out', () => {
  it('refuses a file of the model it evaluates, and any path inside the model or the dataset', async () => {
    await expectRefused(join(model, 'tensor-cache.json'), /tensor-cache\.json: is inside .*model, which this command reads/, [model]);
    await expectRefused(join(model, 'summary.json'), /is inside .*model, which this command reads/, [model]);
    await expectRefused(join(data, 'val', 'summary.json'), /is inside .*quiz, which this command reads/, [data]);
    await expectRefused(model, /is .*model, which this command reads/, [model]);
  });

  it('refuses a path inside another model artifact: writing there would change that model', async () => {
    await expectRefused(join(other, 'mlc-chat-config.json'), /inside the model artifact .*other-model/, [other], '--force');
    await expectRefused(join(other, 'results.json'), /inside the model artifact/, [other], '--force');
  });

  it("refuses a user's file unless --force; a symlink, a folder and a FIFO even with --force", async () => {
    const mine = join(dir.path, 'report.txt');
    writeFileSync(mine, 'my report');
    await expectRefused(mine, /report\.txt: exists and is not a webchuan eval summary: .*pass --force/, [mine]);
    const link = join(dir.path, 'link.json');
    symlinkSync(mine, link);
    await expectRefused(link, /is a symbolic link/, [mine, link], '--force');
    const folder = join(dir.path, 'a-folder');
    mkdirSync(folder);
    await expectRefused(folder, /not a regular file/, [folder], '--force');
    const fifo = join(dir.path, 'pipe');
    execFileSync('mkfifo', [fifo]);
    await expectRefused(fifo, /not a regular file/, [], '--force'); // (a snapshot would read the FIFO: it is checked by type)
    expect(lstatSync(fifo).isFIFO()).toBe(true);
  });
});

describe('gguf --out', () => {
  it("writes GGUF files staged beside --out; replaces its own GGUF, refuses a user's file (unless --force) and a symlink", async () => {
    const out = join(dir.path, 'gguf-out');
    const first = await runCli('gguf', model, '--out', out);
    expect(first.code, first.stderr).toBe(0);
    expect(readFileSync(join(out, 'model.gguf')).subarray(0, 4).toString('latin1')).toBe('GGUF');
    const again = await runCli('gguf', model, '--out', out); // ours: replaced without --force
    expect(again.code, again.stderr).toBe(0);
    expect(readdirSync(dir.path).filter((f) => f.startsWith('.'))).toEqual([]); // no staging folder left beside it

    const mine = join(dir.path, 'gguf-mine');
    mkdirSync(mine);
    writeFileSync(join(mine, 'model.gguf'), 'my own notes, not a GGUF');
    const refused = await runCli('gguf', model, '--out', mine);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/model\.gguf: exists and is not a GGUF file: refusing to replace it; .*--force/);
    expect(readFileSync(join(mine, 'model.gguf'), 'utf8')).toBe('my own notes, not a GGUF');
    const forced = await runCli('gguf', model, '--out', mine, '--force');
    expect(forced.code, forced.stderr).toBe(0);
    expect(readFileSync(join(mine, 'model.gguf')).subarray(0, 4).toString('latin1')).toBe('GGUF');

    const linked = join(dir.path, 'gguf-link');
    mkdirSync(linked);
    const victim = join(dir.path, 'victim.gguf');
    writeFileSync(victim, 'GGUF but not ours to follow');
    symlinkSync(victim, join(linked, 'model.gguf'));
    const link = await runCli('gguf', model, '--out', linked, '--force');
    expect(link.code).toBe(1);
    expect(link.stderr).toMatch(/model\.gguf: is a symbolic link/);
    expect(readFileSync(victim, 'utf8')).toBe('GGUF but not ours to follow');
  });
});

describe('writeOutputFile', () => {
  const options = (force = false): OutputFileOptions => ({ inputs: [model, data], isOurs: (t) => jsonObjectWith(t, ['protocol', 'subjects']), ours: 'a webchuan eval summary', force });

  it('writes a new file, replaces one of ours, and refuses a foreign one unless forced — leaving no hidden file behind', () => {
    const home = join(dir.path, 'results');
    mkdirSync(home);
    const out = join(home, 'summary.json');
    writeOutputFile(out, '{"protocol":"ceval","subjects":[]}\n', options());
    expect(readFileSync(out, 'utf8')).toBe('{"protocol":"ceval","subjects":[]}\n');
    writeOutputFile(out, '{"protocol":"mmlu","subjects":[1]}\n', options()); // ours: replaced
    expect(readFileSync(out, 'utf8')).toBe('{"protocol":"mmlu","subjects":[1]}\n');
    const foreign = join(home, 'notes.json');
    writeFileSync(foreign, '{"mine": true}');
    expect(() => writeOutputFile(foreign, '{}', options())).toThrow(OutputPathError);
    expect(readFileSync(foreign, 'utf8')).toBe('{"mine": true}');
    writeOutputFile(foreign, '{"replaced":1}', options(true));
    expect(readFileSync(foreign, 'utf8')).toBe('{"replaced":1}');
    expect(readdirSync(home).sort()).toEqual(['notes.json', 'summary.json']);
  });

  it('creates missing folders, and a refused write leaves nothing at all', () => {
    const out = join(dir.path, 'new', 'deeper', 'summary.json');
    writeOutputFile(out, '{}', options());
    expect(readFileSync(out, 'utf8')).toBe('{}');
    expect(() => writeOutputFile(join(model, 'x.json'), '{}', options(true))).toThrow(/which this command reads/);
    expect(existsSync(join(model, 'x.json'))).toBe(false);
    expect(readdirSync(model).filter((f) => f.startsWith('.'))).toEqual([]);
  });
});

describe('scratch space', () => {
  it('random-model writes its generated tokenizer in a private folder: a symlink planted at the old fixed /tmp name is not followed', async () => {
    const victim = join(dir.path, 'victim.txt');
    writeFileSync(victim, 'precious');
    const out = join(dir.path, 'random-out');
    const scratch = () => readdirSync(tmpdir()).filter((f) => f.startsWith('webchuan-tokenizer-'));
    const scratchBefore = scratch();
    const child = spawn(process.execPath, [BIN, 'random-model', '--out', out], { stdio: ['ignore', 'ignore', 'pipe'] });
    // The name an earlier version used, /tmp/webchuan-tiny-tokenizer-<pid>.model, planted before the CLI starts writing.
    const planted = join(tmpdir(), `webchuan-tiny-tokenizer-${child.pid}.model`);
    symlinkSync(victim, planted);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      expect(code, stderr).toBe(0);
      expect(readFileSync(victim, 'utf8')).toBe('precious');
      expect(lstatSync(planted).isSymbolicLink()).toBe(true);
      expect(readdirSync(out)).toContain('tokenizer.model');
      // Nothing of the run's scratch is left in the temporary folder.
      expect(scratch()).toEqual(scratchBefore);
    } finally {
      rmSync(planted, { force: true });
    }
  });
});
