/**
 * `response_format` in its three accepted forms — WebLLM's `json_object` (+ `schema` as a JSON
 * string), OpenAI's `json_schema`, and WebLLM's EBNF `grammar` — as one GrammarSpec the worker
 * compiles. Checked before any work: a malformed format is an InvalidRequestError naming its field.
 * Whether a schema or grammar can be compiled is XGrammar's to say, when the worker compiles it.
 */
import type { GrammarSpec, ResponseFormat } from '../client/protocol.js';
import { InvalidRequestError } from '../errors.js';

const fail = (param: string, message: string): never => {
  throw new InvalidRequestError(param, `${param}: ${message}`);
};

/** A schema given as an object or a JSON string, as a JSON string; refused unless it is a JSON object. */
function schemaText(param: string, schema: unknown): string {
  let parsed: unknown = schema;
  if (typeof schema === 'string') {
    try {
      parsed = JSON.parse(schema);
    } catch (error) {
      fail(param, `is not valid JSON: ${(error as Error).message}`);
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) fail(param, 'must be a JSON schema: an object (or its JSON text)');
  return JSON.stringify(parsed);
}

/** The grammar a response format holds the reply to; undefined for `text`. */
export function grammarOfResponseFormat(format: ResponseFormat): GrammarSpec | undefined {
  if (typeof format !== 'object' || format === null || Array.isArray(format)) fail('response_format', 'must be an object such as { type: \'json_object\' }');
  const f = format as Record<string, unknown>;
  const type = f['type'] ?? 'text';
  const allow = (keys: string[]) => {
    for (const key of Object.keys(f)) if (key !== 'type' && !keys.includes(key) && f[key] !== undefined && f[key] !== null) fail(`response_format.${key}`, `is not a field of a '${String(type)}' response format`);
  };
  switch (type) {
    case 'text':
      allow([]);
      return undefined;
    case 'json_object':
      allow(['schema']);
      return f['schema'] === undefined || f['schema'] === null ? { kind: 'json', strict: true } : { kind: 'json', schema: schemaText('response_format.schema', f['schema']), strict: true };
    case 'json_schema': {
      allow(['json_schema']);
      const js = f['json_schema'] as Record<string, unknown> | undefined;
      if (typeof js !== 'object' || js === null) fail('response_format.json_schema', "must be an object: { name, schema, strict }");
      const j = js as Record<string, unknown>;
      for (const key of Object.keys(j)) if (!['name', 'description', 'schema', 'strict'].includes(key)) fail(`response_format.json_schema.${key}`, 'is not a field of json_schema (name, description, schema, strict)');
      if (typeof j['name'] !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(j['name'])) fail('response_format.json_schema.name', 'must be 1 to 64 letters, digits, underscores or dashes (OpenAI\'s rule)');
      if (j['description'] !== undefined && typeof j['description'] !== 'string') fail('response_format.json_schema.description', 'must be a string');
      if (j['strict'] !== undefined && j['strict'] !== null && typeof j['strict'] !== 'boolean') fail('response_format.json_schema.strict', 'must be true or false');
      const strict = j['strict'] !== false;
      return j['schema'] === undefined || j['schema'] === null ? { kind: 'json', strict } : { kind: 'json', schema: schemaText('response_format.json_schema.schema', j['schema']), strict };
    }
    case 'grammar': {
      allow(['grammar']);
      const grammar = f['grammar'];
      if (typeof grammar !== 'string' || grammar.trim() === '') fail('response_format.grammar', 'must be an EBNF grammar (a string with a `root` rule)');
      return { kind: 'ebnf', grammar: grammar as string };
    }
    case 'structural_tag':
      return fail('response_format.type', "'structural_tag' is not supported by webchuan (json_object, json_schema, grammar and text are)");
    default:
      return fail('response_format.type', `must be 'text', 'json_object', 'json_schema' or 'grammar', got ${JSON.stringify(type)}`);
  }
}
