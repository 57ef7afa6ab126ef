/** An artifact directory on disk as an ArtifactSource. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArtifactSource } from '../../sdk/src/model/artifact.js';

export function directorySource(dir: string): ArtifactSource {
  return {
    text: (file) => readFile(join(dir, file), 'utf8'),
    bytes: async (file) => new Uint8Array(await readFile(join(dir, file))),
  };
}
