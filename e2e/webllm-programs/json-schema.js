// As WebLLM's JSON schema example: a schema given as a JSON string (WebLLM's json_object + schema), the
// Harry Potter schema with enums and a nested object, OpenAI's json_schema form, streaming, an EBNF
// grammar (the example's JSON grammar), and function calling, here as OpenAI's tools.
export const SIMPLE = { properties: { size: { title: 'Size', type: 'integer', minimum: 0, maximum: 99 }, is_accepted: { title: 'Is Accepted', type: 'boolean' }, num: { title: 'Num', type: 'integer', maximum: 9, minimum: 0 } }, required: ['size', 'is_accepted', 'num'], title: 'Schema', type: 'object' };
export const HARRY = {
  type: 'object',
  properties: {
    name: { type: 'string', maxLength: 12 },
    house: { enum: ['Gryffindor', 'Hufflepuff', 'Ravenclaw', 'Slytherin'] },
    blood_status: { enum: ['Pure-blood', 'Half-blood', 'Muggle-born'] },
    occupation: { enum: ['Student', 'Professor', 'Ministry of Magic', 'Other'] },
    wand: { type: 'object', properties: { wood: { type: 'string', maxLength: 8 }, core: { type: 'string', maxLength: 8 }, length: { type: 'integer', minimum: 5, maximum: 15 } }, required: ['wood', 'core', 'length'] },
    alive: { type: 'boolean' },
    patronus: { type: 'string', maxLength: 8 },
  },
  required: ['name', 'house', 'blood_status', 'occupation', 'wand', 'alive', 'patronus'],
};
// An EBNF grammar of small JSON objects (XGrammar's dialect, as WebLLM takes it): every reply is short.
const GRAMMAR = String.raw`
root ::= "{" ws pair (ws "," ws pair){0,2} ws "}"
pair ::= "\"" [a-z]{1,8} "\"" ws ":" ws value
value ::= "true" | "false" | "null" | [0-9]{1,3}
ws ::= [ ]?
`;
export const TOOLS = [
  {
    type: 'function',
    // Short: the poetry model spells English a byte a token, and the offer must fit its 512-token window.
    function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string', maxLength: 8 }, unit: { enum: ['C', 'F'] } }, required: ['city', 'unit'] } },
  },
];

export async function run(webllm) {
  const engine = await webllm.CreateMLCEngine('poetry-q4f32_1');
  const ask = (content, response_format, extra = {}) => engine.chatCompletion({ stream: false, messages: [{ role: 'user', content }], max_tokens: 200, temperature: 0.8, seed: 3, response_format, ...extra });
  // WebLLM's form (a schema as a JSON string); about 210 characters, and the poetry model spells ASCII a byte a token.
  const harry = await ask('Hermione Granger, in JSON.', { type: 'json_object', schema: JSON.stringify(HARRY) }, { max_tokens: 320 });
  // OpenAI's json_schema form, streamed (the example's simple schema).
  let streamed = '';
  for await (const chunk of await engine.chatCompletion({ stream: true, messages: [{ role: 'user', content: 'x' }], max_tokens: 200, seed: 4, response_format: { type: 'json_schema', json_schema: { name: 'simple', schema: SIMPLE, strict: true } } })) streamed += chunk.choices[0]?.delta?.content ?? '';
  const grammar = await ask('Introduce yourself in JSON', { type: 'grammar', grammar: GRAMMAR });
  const tools = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Weather in Pittsburgh?' }], tools: TOOLS, tool_choice: 'required', parallel_tool_calls: false, max_tokens: 100, seed: 5 });
  const toolsStreamed = [];
  for await (const chunk of await engine.chat.completions.create({ stream: true, messages: [{ role: 'user', content: 'Weather in Tokyo?' }], tools: TOOLS, tool_choice: 'required', parallel_tool_calls: false, max_tokens: 100, seed: 6 })) toolsStreamed.push(chunk);
  return { harry, streamed, grammar, tools, toolsStreamed, usage: harry.usage };
}
