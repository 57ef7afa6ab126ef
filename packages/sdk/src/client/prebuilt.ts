/**
 * WebLLM's `prebuiltAppConfig`, webchuan's way: the models of models/catalog.json (the demo's
 * catalog), by the same ids. `model` is each artifact's URL relative to the page, as the demo serves
 * them (`./models/<id>/`; a page that hosts them elsewhere gives its own AppConfig). None has a
 * `model_lib`: they run on webchuan's engine. packages/cli/test/catalog.test.ts checks this list
 * against the catalog.
 */
import type { AppConfig } from './mlc-engine.js';

export const prebuiltAppConfig: AppConfig = {
  cacheBackend: 'indexeddb',
  model_list: [
    {
      model: './models/baichuan-7b-q4f16_1/',
      model_id: 'baichuan-7b-q4f16_1',
      vram_required_MB: 5927.53,
      low_resource_required: false,
      required_features: [],
      overrides: { context_window_size: 4096 },
    },
    {
      model: './models/poetry-q4f32_1/',
      model_id: 'poetry-q4f32_1',
      vram_required_MB: 15.25,
      low_resource_required: true,
      required_features: [],
      overrides: { context_window_size: 512 },
    },
  ],
};
