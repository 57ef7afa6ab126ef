/**
 * Chat messages as OpenAI and WebLLM accept them, checked and brought to one form a template reads:
 * content as text (text parts joined with a newline; an image or audio part is refused, since
 * webchuan's models read text only), an assistant's tool calls kept, a tool message with the call it
 * answers. Every fault is an InvalidRequestError naming the message and field.
 */
import { InvalidRequestError } from '../errors.js';
import type { ChatCompletionMessageToolCall, TemplateMessage } from './protocol.js';

const ROLES = ['system', 'user', 'assistant', 'tool'] as const;
/** The fields each role's message may have. */
const FIELDS: Record<(typeof ROLES)[number], readonly string[]> = {
  system: ['role', 'content'],
  user: ['role', 'content'],
  assistant: ['role', 'content', 'tool_calls'],
  tool: ['role', 'content', 'tool_call_id'],
};

const fail = (param: string, message: string): never => {
  throw new InvalidRequestError(param, `${param}: ${message}`);
};

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A message's content as text: a string, or text parts joined with a newline. */
function contentText(content: unknown, at: string): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return fail(`${at}.content`, 'must be a string or an array of text parts');
  return content
    .map((part: unknown, j) => {
      if (!isObject(part)) return fail(`${at}.content[${j}]`, 'must be a part such as { type: \'text\', text: \'…\' }');
      if (part['type'] !== 'text') return fail(`${at}.content[${j}]`, `a '${String(part['type'])}' part cannot be read: webchuan's models read text only (give { type: 'text', text })`);
      if (typeof part['text'] !== 'string') return fail(`${at}.content[${j}].text`, 'must be a string');
      return part['text'];
    })
    .join('\n');
}

function toolCalls(value: unknown, at: string): ChatCompletionMessageToolCall[] {
  if (!Array.isArray(value)) return fail(`${at}.tool_calls`, 'must be an array of calls');
  return value.map((call: unknown, j) => {
    const where = `${at}.tool_calls[${j}]`;
    if (!isObject(call) || call['type'] !== 'function' || !isObject(call['function'])) return fail(where, "must be { id, type: 'function', function: { name, arguments } }");
    const f = call['function'];
    if (typeof call['id'] !== 'string') fail(`${where}.id`, 'must be a string');
    if (typeof f['name'] !== 'string') fail(`${where}.function.name`, 'must be a string');
    if (typeof f['arguments'] !== 'string') fail(`${where}.function.arguments`, 'must be the arguments as a JSON string');
    return { id: call['id'] as string, type: 'function' as const, function: { name: f['name'] as string, arguments: f['arguments'] as string } };
  });
}

/** The messages checked and in the form a chat template reads. */
export function templateMessages(messages: unknown): TemplateMessage[] {
  if (!Array.isArray(messages) || messages.length === 0) fail('messages', 'give at least one message');
  return (messages as unknown[]).map((m, i) => {
    const at = `messages[${i}]`;
    if (!isObject(m)) return fail(at, 'must be an object with a role and content');
    const role = m['role'];
    if (!ROLES.includes(role as (typeof ROLES)[number])) return fail(`${at}.role`, `must be 'system', 'user', 'assistant' or 'tool', got ${JSON.stringify(role)}`);
    const r = role as (typeof ROLES)[number];
    for (const key of Object.keys(m)) {
      if (m[key] === undefined || m[key] === null) continue;
      if (!FIELDS[r].includes(key)) fail(`${at}.${key}`, key === 'name' ? 'participant names are not supported: webchuan\'s templates have no place for them' : `is not a field of a '${r}' message`);
    }
    if (r === 'assistant') {
      const calls = m['tool_calls'] === undefined || m['tool_calls'] === null ? undefined : toolCalls(m['tool_calls'], at);
      const content = m['content'] === undefined || m['content'] === null ? '' : contentText(m['content'], at);
      if (!calls && (m['content'] === undefined || m['content'] === null)) fail(`${at}.content`, 'an assistant message needs content or tool_calls');
      return { role: r, content, ...(calls ? { tool_calls: calls } : {}) };
    }
    if (r === 'tool') {
      if (typeof m['tool_call_id'] !== 'string') fail(`${at}.tool_call_id`, 'a tool message must name the call it answers');
      return { role: r, content: contentText(m['content'], at), tool_call_id: m['tool_call_id'] as string };
    }
    if (r === 'system' && Array.isArray(m['content']) && m['content'].some((p: unknown) => isObject(p) && p['type'] !== 'text')) contentText(m['content'], at);
    return { role: r, content: contentText(m['content'], at) };
  });
}
