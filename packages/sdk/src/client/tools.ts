/**
 * Tools as schema-held replies. A chat template that knows how to offer tools (ChatTemplate.tools)
 * puts them in the prompt; the reply is then held to the JSON of a call,
 *
 *     {"tool_calls": [{"name": "<a tool's name>", "arguments": { …valid against its parameters… }}]}
 *
 * (or, with `tool_choice: 'auto'`, to that JSON or to text that does not start with `{`), and comes
 * back in OpenAI's `tool_calls` shape with finish_reason 'tool_calls'.
 */
import { InvalidRequestError } from '../errors.js';
import type { ChatCompletionMessageToolCall, ChatCompletionTool, ChatCompletionToolChoiceOption, GrammarSpec } from './protocol.js';

/** What a template is asked to offer: the tools, and whether the reply must call one. */
export interface ToolOffer {
  tools: ChatCompletionTool[];
  /** 'auto': a call or text; 'required': a call of any tool; a name: a call of that tool. */
  choice: 'auto' | 'required' | { name: string };
}

const fail = (param: string, message: string): never => {
  throw new InvalidRequestError(param, `${param}: ${message}`);
};

/** The tools and choice checked; undefined when the reply is plain text (no tools, or `tool_choice: 'none'`). */
export function toolOffer(tools: unknown, toolChoice: unknown): ToolOffer | undefined {
  if (tools === undefined || tools === null) {
    if (toolChoice !== undefined && toolChoice !== null && toolChoice !== 'none') fail('tool_choice', 'needs tools');
    return undefined;
  }
  if (!Array.isArray(tools) || tools.length === 0) fail('tools', 'must be a non-empty array of { type: \'function\', function: { name, description, parameters } }');
  const names = new Set<string>();
  (tools as unknown[]).forEach((t, i) => {
    const f = (t as ChatCompletionTool)?.function;
    if ((t as ChatCompletionTool)?.type !== 'function' || typeof f !== 'object' || f === null) fail(`tools[${i}]`, "must be { type: 'function', function: { name, parameters } }");
    if (typeof f.name !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(f.name)) fail(`tools[${i}].function.name`, 'must be 1 to 64 letters, digits, underscores or dashes');
    if (names.has(f.name)) fail(`tools[${i}].function.name`, `"${f.name}" is given twice`);
    names.add(f.name);
    if (f.description !== undefined && typeof f.description !== 'string') fail(`tools[${i}].function.description`, 'must be a string');
    if (f.parameters !== undefined && (typeof f.parameters !== 'object' || f.parameters === null || Array.isArray(f.parameters))) fail(`tools[${i}].function.parameters`, 'must be a JSON schema (an object)');
  });
  const choice = (toolChoice ?? 'auto') as ChatCompletionToolChoiceOption;
  if (choice === 'none') return undefined;
  if (choice === 'auto' || choice === 'required') return { tools: tools as ChatCompletionTool[], choice };
  if (typeof choice === 'object' && choice?.type === 'function' && typeof choice.function?.name === 'string') {
    if (!names.has(choice.function.name)) fail('tool_choice', `names "${choice.function.name}", which is not among the tools`);
    return { tools: tools as ChatCompletionTool[], choice: { name: choice.function.name } };
  }
  return fail('tool_choice', "must be 'none', 'auto', 'required' or { type: 'function', function: { name } }");
}

/** The JSON schema of a reply that calls the offered tools. */
export function toolCallSchema(offer: ToolOffer, parallel: boolean): Record<string, unknown> {
  const offered = typeof offer.choice === 'object' ? offer.tools.filter((t) => t.function.name === (offer.choice as { name: string }).name) : offer.tools;
  const call = (t: ChatCompletionTool) => ({
    type: 'object',
    properties: { name: { const: t.function.name }, arguments: t.function.parameters ?? { type: 'object', properties: {} } },
    required: ['name', 'arguments'],
  });
  return {
    type: 'object',
    properties: { tool_calls: { type: 'array', minItems: 1, ...(parallel ? {} : { maxItems: 1 }), items: offered.length === 1 ? call(offered[0]!) : { anyOf: offered.map(call) } } },
    required: ['tool_calls'],
  };
}

/** The grammar a reply to `offer` is held to. */
export function toolGrammar(offer: ToolOffer, parallel: boolean): GrammarSpec {
  const schema = JSON.stringify(toolCallSchema(offer, parallel));
  return offer.choice === 'auto' ? { kind: 'json_or_text', schema } : { kind: 'json', schema, strict: true };
}

let nextCall = 0;

/**
 * A reply to a tool offer as OpenAI's `tool_calls`, or undefined when it is text (`tool_choice:
 * 'auto'`, a reply not starting with `{`, or one cut off before its JSON ended).
 */
export function parseToolCalls(reply: string): ChatCompletionMessageToolCall[] | undefined {
  if (!reply.trimStart().startsWith('{')) return undefined;
  let parsed: { tool_calls?: { name: string; arguments: unknown }[] };
  try {
    parsed = JSON.parse(reply) as typeof parsed;
  } catch {
    return undefined; // cut off by max_tokens: the caller sees the text and finish_reason 'length'
  }
  return (parsed.tool_calls ?? []).map((c) => ({
    id: `call_${Date.now().toString(36)}${(nextCall++).toString(36)}`,
    type: 'function' as const,
    function: { name: c.name, arguments: JSON.stringify(c.arguments) },
  }));
}
