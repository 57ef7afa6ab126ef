/** WebLLM's engine config and AppConfig records as webchuan checks them, before anything loads. */
import { describe, expect, it } from 'vitest';
import { findModelRecord, MLCEngine, prebuiltAppConfig, type MLCEngineConfig } from '../src/client/mlc-engine.js';
import { InvalidRequestError } from '../src/errors.js';

const paramOf = (make: () => unknown): string | undefined => {
  try {
    make();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidRequestError);
    return (error as InvalidRequestError).param;
  }
  return undefined;
};

describe('MLCEngine config', () => {
  it('refuses logitProcessorRegistry and unknown fields, and a backend other than webchuan, auto or cpu, naming each', () => {
    expect(paramOf(() => new MLCEngine({ logitProcessorRegistry: new Map() } as MLCEngineConfig))).toBe('logitProcessorRegistry');
    expect(paramOf(() => new MLCEngine({ useWebWorker: true } as MLCEngineConfig))).toBe('useWebWorker');
    expect(paramOf(() => new MLCEngine({ backend: 'webllm' } as unknown as MLCEngineConfig))).toBe('backend');
    for (const backend of ['webchuan', 'auto', 'cpu'] as const) expect(paramOf(() => new MLCEngine({ backend }))).toBeUndefined();
  });

  it('finds a record by model_id, makes one for an artifact URL, refuses integrity and other model types', () => {
    expect(findModelRecord('poetry-q4f32_1').model).toBe('./models/poetry-q4f32_1/');
    expect(findModelRecord('https://example.org/m/').model).toBe('https://example.org/m/');
    const withIntegrity = { model_list: [{ ...prebuiltAppConfig.model_list[1]!, integrity: { config: 'sha256-x' } }] };
    expect(paramOf(() => findModelRecord(withIntegrity.model_list[0]!.model_id, withIntegrity as typeof prebuiltAppConfig))).toBe('model_list.integrity');
    const embedding = { model_list: [{ ...prebuiltAppConfig.model_list[1]!, model_type: 1 }] };
    expect(paramOf(() => findModelRecord(embedding.model_list[0]!.model_id, embedding as typeof prebuiltAppConfig))).toBe('model_list.model_type');
  });
});
